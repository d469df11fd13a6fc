import Foundation
import KiraJSON

/// What a `/v1` handler knows about the call it serves.
struct CallContext {
    var clientID: String
    var version: APIVersion
    var request: SandboxRequest
}

extension SandboxState {
    /// Everything under `/sandbox`: the gateway's rules, auth, versioning, then the routes.
    func apiResponse(_ request: SandboxRequest, segments: [String]) -> SandboxResponse {
        var echoedVersion: APIVersion?
        let result: Result<APIResult, APIError>
        do throws(APIError) {
            result = .success(try api(request, segments: segments, echoedVersion: &echoedVersion))
        } catch {
            result = .failure(error)
        }
        var response: SandboxResponse
        switch result {
        case .success(let answer): response = Self.jsonResponse(status: answer.status, body: answer.body, headers: answer.headers)
        case .failure(let error): response = Self.response(for: error)
        }
        if let echoedVersion { response.headers.append(("x-api-version", echoedVersion.rawValue)) }
        return response
    }

    private func api(_ request: SandboxRequest, segments: [String], echoedVersion: inout APIVersion?) throws(APIError) -> APIResult {
        if request.method == "PATCH" { throw APIError.patchRejected }
        if request.body.count > Self.maxBodyBytes {
            throw APIError.api(413, "payload_too_large", "Request body exceeds the 1 MiB limit")
        }
        let isAuth = segments == ["auth"]
        let isWebhookRegistration = segments == ["webhooks", "register"]
        guard isAuth || isWebhookRegistration || segments.first == "v1" else { throw APIError.forbidden }

        // The gateway: a known api key on every call, /auth included (Q-AUTH-HEADERS).
        guard let apiKey = request.headers["x-api-key"], let clientID = tenantByAPIKey[apiKey] else {
            throw APIError.forbidden
        }
        try enforceRateLimit(apiKey: apiKey)
        let version = try resolveVersion(request, clientID: clientID)
        echoedVersion = version
        if request.method == "POST" || request.method == "PUT" {
            if let contentType = request.headers["content-type"], !contentType.lowercased().contains("json") {
                throw APIError.api(415, "unsupported_media_type", "Content-Type must be application/json, got \(contentType)")
            }
        }
        if isAuth {
            guard request.method == "POST" else { throw APIError.forbidden }
            return try authenticate(request, clientID: clientID)
        }
        try requireBearer(request, clientID: clientID)
        let context = CallContext(clientID: clientID, version: version, request: request)
        if isWebhookRegistration {
            guard request.method == "POST" else { throw APIError.forbidden }
            return try registerWebhook(context)
        }
        return try v1(context, path: Array(segments.dropFirst()))
    }

    /// The `/v1` routing table.
    private func v1(_ context: CallContext, path: [String]) throws(APIError) -> APIResult {
        let method = context.request.method
        switch (method, path.count, path.first) {
        case ("POST", 2, "versioning") where path[1] == "upgrade":
            return try upgradeVersion(context)
        case ("POST", 1, "users"):
            return try idempotent(context) { () throws(APIError) in try createUser(context) }
        case ("GET", 1, "users"):
            return try listUsers(context)
        case ("GET", 2, "users"):
            return try getUser(context, id: try pathID(path[1], "user"))
        case ("PUT", 2, "users"):
            return try updateUser(context, id: try pathID(path[1], "user"))
        case ("POST", 1, "virtual-accounts"):
            return try idempotent(context) { () throws(APIError) in try createVirtualAccount(context) }
        case ("GET", 1, "virtual-accounts"):
            return try listVirtualAccounts(context)
        case ("GET", 2, "virtual-accounts"):
            return try getVirtualAccount(context, id: try pathID(path[1], "virtual account"))
        case ("GET", 3, "virtual-accounts") where path[2] == "balance":
            return try balance(context, id: try pathID(path[1], "virtual account"))
        case ("GET", 3, "virtual-accounts") where path[2] == "deposits":
            return try listDeposits(context, id: try pathID(path[1], "virtual account"))
        case ("POST", 3, "virtual-accounts") where path[2] == "simulate-deposit":
            return try simulateDeposit(context, id: try pathID(path[1], "virtual account"))
        case ("POST", 4, "virtual-accounts") where path[2] == "payout" && path[3] == "preview":
            return try previewPayout(context, accountID: try pathID(path[1], "virtual account"))
        case ("POST", 3, "virtual-accounts") where path[2] == "payout":
            let accountID = try pathID(path[1], "virtual account")
            return try idempotent(context) { () throws(APIError) in try createPayout(context, accountID: accountID) }
        case ("POST", 1, "recipients"):
            return try idempotent(context) { () throws(APIError) in try createRecipient(context) }
        case ("GET", 1, "recipients"):
            return try listRecipients(context)
        case ("GET", 2, "recipients"):
            return try getRecipient(context, id: try pathID(path[1], "recipient"))
        case ("GET", 2, "payouts"):
            return try getPayout(context, id: try pathID(path[1], "payout"))
        default:
            throw APIError.api(404, "not_found", "No route for \(method) /v1/\(path.joined(separator: "/"))")
        }
    }

    // MARK: Gateway rules

    private func enforceRateLimit(apiKey: String) throws(APIError) {
        guard let limit = configuration.rateLimit else { return }
        let second = Int(clock.now.timeIntervalSince1970.rounded(.down))
        var window = rateWindows[apiKey] ?? (second, 0)
        if window.second != second { window = (second, 0) }
        window.count += 1
        rateWindows[apiKey] = window
        if window.count > limit {
            var error = APIError.api(429, "rate_limited", "Too many requests: the limit is \(limit) per second")
            error.headers = [("retry-after", "1")]
            throw error
        }
    }

    /// Header > pin > baseline (Q-VERSION-HEADER).
    private func resolveVersion(_ request: SandboxRequest, clientID: String) throws(APIError) -> APIVersion {
        if let header = request.headers["x-api-version"] {
            guard let version = APIVersion(rawValue: header.trimmingCharacters(in: .whitespaces)) else {
                throw APIError.api(
                    400, "validation_error",
                    "Unsupported X-Api-Version '\(header)'. Supported versions: \(APIVersion.allCases.map(\.rawValue).joined(separator: ", "))",
                    errors: [("X-Api-Version", "Unsupported version")]
                )
            }
            return version
        }
        return tenants[clientID]?.resources.pinnedVersion ?? .baseline
    }

    private func requireBearer(_ request: SandboxRequest, clientID: String) throws(APIError) {
        guard let authorization = request.headers["authorization"] else {
            throw APIError.api(401, "unauthorized", "No authorization token provided")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw APIError.api(401, "unauthorized", "No authorization token provided")
        }
        guard let token = tokens[String(parts[1])], token.clientID == clientID, token.expiresAt > clock.now else {
            throw APIError.api(401, "unauthorized", "Token expired")
        }
    }

    // MARK: Auth

    /// `POST /auth`: the FastAPI-style 422 for bad input, 401 for wrong credentials.
    private func authenticate(_ request: SandboxRequest, clientID: String) throws(APIError) -> APIResult {
        func invalid(_ issues: [(type: String, field: String, message: String)]) -> APIError {
            APIError(
                status: 422,
                body: [
                    "message": "Invalid input data",
                    "data": .array(
                        issues.map { .object(["type": .string($0.type), "loc": ["body", .string($0.field)], "msg": .string($0.message)]) }
                    ),
                ]
            )
        }
        guard case .object(let body)? = try? JSONValue.parse(request.body) else {
            throw invalid([("json_invalid", "body", "Body must be a JSON object with client_id and password")])
        }
        var issues: [(type: String, field: String, message: String)] = []
        let givenClientID = body["client_id"]?.stringValue
        let password = body["password"]?.stringValue
        if body["client_id"] == nil {
            issues.append(("missing", "client_id", "Field required"))
        } else if givenClientID.flatMap({ SandboxID.canonical($0) }) == nil {
            issues.append(("uuid_parsing", "client_id", "Input should be a valid UUID"))
        }
        if body["password"] == nil {
            issues.append(("missing", "password", "Field required"))
        } else if password == nil {
            issues.append(("string_type", "password", "Input should be a valid string"))
        }
        guard issues.isEmpty, let givenClientID, let password else { throw invalid(issues) }
        guard let tenant = tenants[clientID], SandboxID.canonical(givenClientID) == clientID,
            Self.constantTimeEquals(password, tenant.credentials.password)
        else {
            throw APIError.api(401, "unauthorized", "Invalid client credentials")
        }
        let token = "kat_" + SandboxID.make().replacingOccurrences(of: "-", with: "") + SandboxID.make().prefix(8)
        let ttl = configuration.tokenTTL.seconds
        // Expired tokens go on every tick; the cap only bounds a flood of /auth calls within one TTL.
        tokens.insert(AccessToken(clientID: clientID, expiresAt: clock.now.addingTimeInterval(ttl)), id: token, limit: 100_000)
        return .ok([
            "message": "Auth token",
            "data": ["access_token": .string(token), "expires_in": .int(Int(ttl)), "token_type": "Bearer"],
        ])
    }

    static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        var difference = UInt8(left.count == right.count ? 0 : 1)
        for index in 0..<max(left.count, right.count) {
            let a = index < left.count ? left[index] : 0
            let b = index < right.count ? right[index] : 0
            difference |= a ^ b
        }
        return difference == 0
    }

    // MARK: Versioning

    /// `POST /v1/versioning/upgrade`: forward-only, idempotent (Q-PIN-FIELD).
    private func upgradeVersion(_ context: CallContext) throws(APIError) -> APIResult {
        let body = try BodyFields.parse(context.request.body)
        let accepted = APIVersion.allCases.map(\.rawValue)
        guard let targetText = try body.string("target_version") else {
            let hint = body.has("version") ? " (the field is target_version, not version)" : ""
            throw APIError.api(
                400, "validation_error", "target_version is required\(hint)", errors: [("target_version", "Required")]
            )
        }
        guard let target = APIVersion(rawValue: targetText) else {
            throw APIError.api(
                400, "validation_error",
                "target_version '\(targetText)' is not a known version. Known versions: \(accepted.joined(separator: ", "))",
                errors: [("target_version", "Unknown version")]
            )
        }
        let resources = try tenant(context.clientID).resources
        let current = resources.pinnedVersion ?? .baseline
        if let pinned = resources.pinnedVersion, target < pinned {
            throw APIError.api(
                400, "validation_error",
                "target_version \(target.rawValue) is older than the pinned version \(pinned.rawValue); upgrades are forward-only",
                errors: [("target_version", "Older than the pinned version")]
            )
        }
        if resources.pinnedVersion == target, let last = resources.lastUpgrade {
            return .ok(last)
        }
        let answer: JSONValue = ["previous_version": .string(current.rawValue), "current_version": .string(target.rawValue)]
        try withTenant(context.clientID) { tenant in
            tenant.resources.pinnedVersion = target
            tenant.resources.lastUpgrade = answer
        }
        dirty = true
        return .ok(answer)
    }

    // MARK: Idempotency

    /// Runs `perform` under the request's `Idempotency-Key` (Q-IDEMPOTENCY): required; the same
    /// key and body replay the first answer, a failure (400, 404, 409) as well as a success; the
    /// same key with another body is a 409.
    func idempotent(_ context: CallContext, _ perform: () throws(APIError) -> APIResult) throws(APIError) -> APIResult {
        guard let key = context.request.headers["idempotency-key"]?.trimmingCharacters(in: .whitespaces), !key.isEmpty
        else {
            throw APIError.api(400, "validation_error", "Idempotency key is required")
        }
        guard key.utf8.count <= 255 else {
            throw APIError.api(400, "validation_error", "Idempotency key must be at most 255 characters")
        }
        let canonicalBody =
            (try? JSONValue.parse(context.request.body).text(.canonical)) ?? String(decoding: context.request.body, as: UTF8.self)
        let fingerprint = "\(context.request.method) \(context.request.path) \(canonicalBody)"
        if let record = try tenant(context.clientID).resources.idempotency[key] {
            guard record.fingerprint == fingerprint else {
                throw APIError.api(
                    409, "idempotency_key_reused",
                    "This Idempotency-Key was already used with a different request. Use a new key for a new request."
                )
            }
            return APIResult(status: record.status, body: record.body, headers: [("idempotent-replayed", "true")])
        }
        // Failures are kept too: the same key and body replay a 400 or a 409 as they first came.
        let result: APIResult
        do throws(APIError) {
            result = try perform()
        } catch {
            try remember(
                IdempotencyRecord(fingerprint: fingerprint, status: error.status, body: error.body, createdAt: clock.now), key: key,
                clientID: context.clientID)
            throw error
        }
        try remember(
            IdempotencyRecord(fingerprint: fingerprint, status: result.status, body: result.body, createdAt: clock.now), key: key,
            clientID: context.clientID
        )
        return result
    }

    private func remember(_ record: IdempotencyRecord, key: String, clientID: String) throws(APIError) {
        let limit = configuration.recordLimit
        try withTenant(clientID) { $0.resources.idempotency.insert(record, id: key, limit: limit) }
        dirty = true
    }

    // MARK: Helpers

    /// A UUID from the path, or a 400 naming what it should have been.
    func pathID(_ segment: String, _ what: String) throws(APIError) -> String {
        guard let id = SandboxID.canonical(segment.removingPercentEncoding ?? segment) else {
            throw APIError.api(400, "validation_error", "Invalid \(what) id '\(segment)': must be a UUID")
        }
        return id
    }

    /// `limit` (default 20, above 100 the raw 500 of Q-LIMIT-100) and `offset` (default 0).
    func listWindow(_ request: SandboxRequest) throws(APIError) -> (limit: Int, offset: Int) {
        var limit = 20
        var offset = 0
        if let text = request.query["limit"] {
            guard let value = Int(text) else { throw APIError.validation("limit", "Must be an integer") }
            guard value <= 100 else { throw APIError.limitOverflow }
            guard value >= 1 else { throw APIError.validation("limit", "Must be at least 1") }
            limit = value
        }
        if let text = request.query["offset"] {
            guard let value = Int(text), value >= 0 else { throw APIError.validation("offset", "Must be a non-negative integer") }
            offset = value
        }
        return (limit, offset)
    }

    /// The `{"data","pagination"}` list shape of users and virtual accounts.
    static func paginated(_ items: [JSONValue], total: Int, window: (limit: Int, offset: Int)) -> JSONValue {
        [
            "data": .array(items),
            "pagination": [
                "total": .int(total), "limit": .int(window.limit), "offset": .int(window.offset),
                "has_more": .bool(window.offset + items.count < total),
            ],
        ]
    }
}
