import Foundation
import KiraJSON

extension SandboxState {
    /// `/__emulator/…`: the operator's and the tests' controls.
    func operatorResponse(_ request: SandboxRequest, segments: [String]) -> SandboxResponse {
        if let adminToken = configuration.adminToken {
            guard let given = request.headers["x-admin-token"], Self.constantTimeEquals(given, adminToken) else {
                return Self.response(for: .api(401, "unauthorized", "The x-admin-token header is required for /__emulator/"))
            }
        }
        do throws(APIError) {
            let result = try operatorRoute(request, segments: segments)
            return Self.jsonResponse(status: result.status, body: result.body)
        } catch {
            return Self.response(for: error)
        }
    }

    private func operatorRoute(_ request: SandboxRequest, segments: [String]) throws(APIError) -> APIResult {
        switch (request.method, segments.count, segments.first) {
        case ("GET", 1, "state"):
            return .ok(stateSummary())
        case ("GET", _, "coach"):
            return try coachRoute(request, segments: segments)
        case ("POST", 3, "users") where segments[2] == "verify" || segments[2] == "reject":
            let id = try pathID(segments[1], "user")
            let body = request.body.isEmpty ? nil : try BodyFields.parse(request.body)
            let reason = try body?.string("reason")
            guard let clientID = tenants.first(where: { $0.value.resources.users[id] != nil })?.key,
                let user = setUserStatus(clientID: clientID, userID: id, verified: segments[2] == "verify", reason: reason)
            else { throw APIError.notFound("User") }
            return .ok(user.json)
        case ("POST", 1, "provision"):
            let body = request.body.isEmpty ? nil : try BodyFields.parse(request.body)
            let clientID = try body?.uuid("client_id") ?? defaultClientID
            return .created(try provision(clientID: clientID))
        case ("POST", 1, "reset"):
            reset()
            return .ok(["message": "Emulator state reset", "tenants": .int(tenants.count)])
        case ("POST", 1, "clock"):
            let body = try BodyFields.parse(request.body)
            guard let seconds = body.object["advance_seconds"]?.doubleValue, seconds >= 0, seconds.isFinite else {
                throw APIError.validation("advance_seconds", "Required: a non-negative number of seconds")
            }
            clock.advance(by: seconds)
            advanceTime()
            return .ok(["now": .string(Timestamp.format(clock.now)), "offset_seconds": .number(String(clock.offset))])
        case ("GET", 1, "faults"):
            return .ok(["faults": .array(faults.map(\.json))])
        case ("POST", 1, "faults"):
            let fault = try Fault.parse(try BodyFields.parse(request.body))
            faults.append(fault)
            return .created(fault.json)
        case ("DELETE", 1, "faults"):
            faults.removeAll()
            return .ok(["faults": []])
        case ("GET", 1, "webhooks"):
            var entries = webhookLog[...]
            if let text = request.query["client_id"] {
                guard let clientID = SandboxID.canonical(text) else { throw APIError.validation("client_id", "Must be a UUID") }
                entries = entries.filter { $0.clientID == clientID }[...]
            }
            return .ok(["deliveries": .array(entries.map(\.json))])
        default:
            throw APIError.api(404, "not_found", "No emulator control \(request.method) /__emulator/\(segments.joined(separator: "/"))")
        }
    }

    /// Counts per tenant, with the clock and the pending work.
    func stateSummary() -> JSONValue {
        let summaries: [JSONValue] = configuration.tenants.compactMap { credentials in
            guard let resources = tenants[credentials.clientID]?.resources else { return nil }
            return [
                "client_id": .string(credentials.clientID), "users": .int(resources.users.count),
                "virtual_accounts": .int(resources.accounts.count), "recipients": .int(resources.recipients.count),
                "payouts": .int(resources.payouts.count), "deposits": .int(resources.deposits.count),
                "pinned_version": resources.pinnedVersion.map { .string($0.rawValue) } ?? .null,
                "webhook_registered": .bool(tenants[credentials.clientID]?.webhook != nil),
            ]
        }
        return [
            "tenants": .array(summaries), "now": .string(Timestamp.format(clock.now)),
            "clock_offset_seconds": .number(String(clock.offset)), "scheduled_transitions": .int(schedule.count),
            "faults": .int(faults.count), "webhook_log": .int(webhookLog.count),
            "state_file": configuration.stateFile.map(JSONValue.string) ?? .null,
            "state_file_error": stateFileFailure.map(JSONValue.string) ?? .null,
        ]
    }

    /// Forgets every resource, pin, fault and webhook; keeps tenants and live tokens.
    func reset() {
        for index in tenants.indices {
            tenants.values[index].resources = TenantResources()
            tenants.values[index].webhook = nil
        }
        schedule.removeAll()
        faults.removeAll()
        webhookLog.removeAll()
        dirty = true
    }

    /// What a Kira contact provisions on request: a VERIFIED complete user, its ready VA and a
    /// SWIFT recipient. A 404 for a tenant the emulator does not have.
    func provision(clientID: String) throws(APIError) -> JSONValue {
        _ = try tenant(clientID)
        let now = clock.now
        let suffix = String(SandboxID.make().prefix(8))
        let profile: JSONObject = [
            "first_name": "Ada", "last_name": "Provisioned", "birth_date": "1990-01-15", "phone": "+14155550100",
            "nationality": "USA", "document_type": "passport", "document_number": .string("P\(suffix)"),
            "document_country": "USA", "account_purpose": "receive_payments", "source_of_funds": "salary",
        ]
        let address: JSONObject = [
            "street_line_1": "1 Market St", "city": "San Francisco", "subdivision": "CA", "postal_code": "94105", "country": "USA",
        ]
        let user = User(
            id: SandboxID.make(), type: "individual", email: "provisioned+\(suffix)@example.com", profile: profile,
            residentialAddress: address, identifyingInformation: [], metadata: ["provisioned_by": "kira-sandbox-emulator"],
            inputStatus: nil, status: .verified, verificationStatus: "verified", verificationTriggered: true, complete: true,
            createdAt: now, updatedAt: now
        )
        try insertUser(user, clientID: clientID)
        let account = VirtualAccount(
            id: SandboxID.make(), userID: user.id, type: "US_BANK", provider: "act", bank: "slovak_savings_bank", mode: "fiat",
            lifecycle: .active, accountNumber: Self.randomDigits(10, leadingNonZero: true),
            routingNumber: Self.randomDigits(9, leadingNonZero: false), destination: .null, createdAt: now, updatedAt: now
        )
        try insertAccount(account, clientID: clientID)
        let recipient = Recipient(
            id: SandboxID.make(), userID: user.id,
            details: [
                "type": "individual", "first_name": "Grace", "last_name": "Recipient", "email": "grace.recipient@example.com",
                "address": ["street_name": "10 Downing St", "city": "London", "postal_code": "SW1A 2AA", "country": "GB"],
                "account": [
                    "account_type": "SWIFT", "account_number": "GB29NWBK60161331926819", "swift_code": "NWBKGB2L",
                    "bank_name": "NatWest", "bank_address": ["street_name": "250 Bishopsgate", "city": "London", "country": "GB"],
                ],
            ],
            rail: "SWIFT", createdAt: now
        )
        let limit = configuration.recordLimit
        try withTenant(clientID) { $0.resources.recipients.insert(recipient, id: recipient.id, limit: limit) }
        dirty = true
        return [
            "client_id": .string(clientID), "user_id": .string(user.id), "virtual_account_id": .string(account.id),
            "recipient_id": .string(recipient.id),
        ]
    }
}
