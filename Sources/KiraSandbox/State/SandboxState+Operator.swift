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
                let current = tenants[clientID]?.resources.users[id]
            else { throw APIError.notFound("User") }
            // REJECTED is final, even for an operator: the way on is a new user.
            guard current.status != .rejected else {
                throw APIError.api(409, "invalid_operation", "User \(id) is REJECTED, which is final; create a new user")
            }
            guard let user = setUserStatus(clientID: clientID, userID: id, verified: segments[2] == "verify", reason: reason)
            else { throw APIError.notFound("User") }
            return .ok(user.json)
        case ("POST", 3, "virtual-accounts"):
            let id = try pathID(segments[1], "virtual account")
            guard let action = VirtualAccountHold(rawValue: segments[2]) else { break }
            let body = request.body.isEmpty ? nil : try BodyFields.parse(request.body)
            return .ok(try holdAccount(id, action, reason: try body?.string("reason")))
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
            break
        }
        throw APIError.api(404, "not_found", "No emulator control \(request.method) /__emulator/\(segments.joined(separator: "/"))")
    }

    /// Puts a virtual account on hold (`rfi`), clears the hold (back to `approved`/`ACTIVE`), or
    /// deactivates it for good, as the provider would, with its webhook. Answers the account in
    /// its tenant's pinned vocabulary; 409 `invalid_operation` when the account is not in a state
    /// the action applies to.
    func holdAccount(_ id: String, _ action: VirtualAccountHold, reason: String?) throws(APIError) -> JSONValue {
        guard let clientID = tenants.first(where: { $0.value.resources.accounts[id] != nil })?.key,
            var account = tenants[clientID]?.resources.accounts[id]
        else { throw APIError.notFound("Virtual account") }
        let version = webhookVersion(clientID)
        let current = account.status(for: version)
        func refuse(_ why: String) -> APIError {
            APIError.api(409, "invalid_operation", "Virtual account \(id) is \(current); \(why)")
        }
        let event: String
        var data: JSONObject = ["virtual_account_id": .string(id), "user_id": .string(account.userID)]
        switch action {
        case .rfi:
            guard account.lifecycle == .activating || account.lifecycle == .active else {
                throw refuse("only an approved account can be put on hold")
            }
            account.lifecycle = .rfi
            event = "virtual_account.rfi_requested"
            data["reason"] = .string(reason ?? "The provider requests more information about the account owner")
        case .clearRFI:
            guard account.lifecycle == .rfi else { throw refuse("only an account in rfi can have its hold cleared") }
            account.lifecycle = account.isReady ? .active : .activating
            event = "virtual_account.activated"
            data["account_number"] = .string(account.accountNumber)
        case .deactivate:
            guard account.lifecycle != .deactivated else { throw refuse("deactivated is final") }
            account.lifecycle = .deactivated
            event = "virtual_account.deactivated"
            if let reason { data["reason"] = .string(reason) }
        }
        account.updatedAt = clock.now
        let updated = account
        try withTenant(clientID) { tenant in
            tenant.resources.accounts[id] = updated
            // A deactivated account no longer counts for the one-VA rule: the user's next POST
            // creates a new one.
            if updated.lifecycle == .deactivated, tenant.resources.accountByUser[updated.userID] == id {
                tenant.resources.accountByUser.removeValue(forKey: updated.userID)
            }
        }
        dirty = true
        data["status"] = .string(account.status(for: version))
        emit(event, clientID: clientID, data: data)
        return account.json(version: version)
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

    /// Forgets every resource, pin, fault and webhook, and the coach's request log; keeps tenants
    /// and live tokens.
    func reset() {
        for index in tenants.indices {
            tenants.values[index].resources = TenantResources()
            tenants.values[index].webhook = nil
        }
        schedule.removeAll()
        faults.removeAll()
        webhookLog.removeAll()
        requestLog?.clear()
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
            "nationality": "USA", "gender": "female", "document_type": "passport", "document_number": .string("P\(suffix)"),
            "document_country": "USA", "employment_status": "employed", "occupation": "Engineer",
            "account_purpose": "receive_payments", "source_of_funds": "salary", "pep_status": "not_pep",
        ]
        let identifying: [JSONValue] = [
            ["type": "ssn", "issuing_country": "USA", "number": "provided"],
            ["type": "passport", "issuing_country": "USA", "number": "provided", "image_front": "provided"],
            ["type": "file_proof_of_address", "file": "provided"],
        ]
        let address: JSONObject = [
            "street_line_1": "1 Market St", "city": "San Francisco", "subdivision": "CA", "postal_code": "94105", "country": "USA",
        ]
        let user = User(
            id: SandboxID.make(), type: "individual", email: "provisioned+\(suffix)@example.com", profile: profile,
            residentialAddress: address, identifyingInformation: identifying, metadata: ["provisioned_by": "kira-sandbox-emulator"],
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

/// The operator actions on a virtual account, by their `/__emulator/virtual-accounts/{id}/…` name.
enum VirtualAccountHold: String, Sendable {
    /// A request for information: deposits and payouts are refused until it is cleared.
    case rfi
    /// The request for information is answered: back to `approved` (`ACTIVE`).
    case clearRFI = "clear-rfi"
    /// Closed for good.
    case deactivate
}
