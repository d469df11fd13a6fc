import Foundation
import KiraJSON

extension SandboxState {
    /// `POST /v1/users`.
    func createUser(_ context: CallContext) throws(APIError) -> APIResult {
        let body = try BodyFields.parse(context.request.body)
        let type = try body.requiredEnumeration("type", ["individual", "business"])
        let email = try body.requiredString("email")
        guard Self.looksLikeEmail(email) else { throw APIError.validation("email", "Must be a valid email address") }
        if type == "individual" {
            _ = try body.requiredString("first_name")
            _ = try body.requiredString("last_name")
        } else {
            _ = try body.requiredString("business_legal_name")
        }
        let inputStatus = try body.enumeration("status", ["active", "inactive", "suspended"])
        _ = try body.enumeration("source_of_funds", User.sourcesOfFunds)
        _ = try body.enumeration("account_purpose", User.accountPurposes)
        if let birthDate = try body.string("birth_date"), !Self.isCalendarDate(birthDate) {
            throw APIError.validation("birth_date", "Must be a date in the form YYYY-MM-DD")
        }
        for field in ["nationality", "document_country", "address_country"] {
            _ = try body.country(field, length: 3, message: "Must be a 3-letter ISO 3166-1 alpha-3 country code")
        }
        var profile = JSONObject()
        for field in User.profileFields {
            if let value = try body.string(field) { profile[field] = .string(value) }
        }
        var address = JSONObject()
        for rename in User.addressRenames {
            if let value = try body.string(rename.request) { address[rename.response] = .string(value) }
        }
        let identifying = try Self.validateIdentifyingInformation(body)
        let metadata = try body.nested("metadata")?.object ?? JSONObject()

        let emailKey = email.lowercased()
        if try tenant(context.clientID).resources.userByEmail[emailKey] != nil {
            throw APIError.api(409, "resource_conflict", "A user with email \(email) already exists")
        }
        let required = User.requiredForReview[type] ?? []
        let hasDocument =
            body.hasValue("document_number")
            || identifying.contains { !($0["documents"]?.arrayValue ?? []).isEmpty }
        let missingSourceOfFunds = !body.hasValue("source_of_funds")
        let complete = required.allSatisfy { body.hasValue($0) } && hasDocument
        let now = clock.now
        let user = User(
            id: SandboxID.make(), type: type, email: email, profile: profile, residentialAddress: address,
            identifyingInformation: identifying, metadata: metadata, inputStatus: inputStatus, status: .created,
            verificationStatus: "unverified", verificationTriggered: complete || missingSourceOfFunds, complete: complete,
            createdAt: now, updatedAt: now
        )
        try insertUser(user, clientID: context.clientID)
        if missingSourceOfFunds {
            schedule(.userAutoReject, user.id, clientID: context.clientID, after: configuration.rejectAfter)
        } else if complete {
            schedule(.userVerifying, user.id, clientID: context.clientID, after: configuration.verifyingAfter)
            schedule(.userReview, user.id, clientID: context.clientID, after: configuration.reviewAfter)
            if let autoVerify = configuration.autoVerifyAfter {
                schedule(.userAutoVerify, user.id, clientID: context.clientID, after: autoVerify)
            }
        }
        emit("user.created", clientID: context.clientID, data: ["user_id": .string(user.id), "status": "CREATED"])
        return .created(user.json)
    }

    /// Stores a user, keeping the email index in step with evictions.
    func insertUser(_ user: User, clientID: String) throws(APIError) {
        let limit = configuration.recordLimit
        try withTenant(clientID) { tenant in
            let evicted = tenant.resources.users.insert(user, id: user.id, limit: limit)
            tenant.resources.userByEmail[user.email.lowercased()] = user.id
            for old in evicted { tenant.resources.userByEmail.removeValue(forKey: old.email.lowercased()) }
        }
        dirty = true
    }

    /// `GET /v1/users/{id}`.
    func getUser(_ context: CallContext, id: String) throws(APIError) -> APIResult {
        guard let user = try tenant(context.clientID).resources.users[id] else { throw APIError.notFound("User") }
        return .ok(user.json)
    }

    /// `GET /v1/users?limit&offset`.
    func listUsers(_ context: CallContext) throws(APIError) -> APIResult {
        let window = try listWindow(context.request)
        let page = try tenant(context.clientID).resources.users.page(offset: window.offset, limit: window.limit)
        return .ok(Self.paginated(page.items.map(\.json), total: page.total, window: window))
    }

    /// Flips a user to `VERIFIED` or `REJECTED` as a Kira operator would, with its webhook.
    @discardableResult
    func setUserStatus(clientID: String, userID: String, verified: Bool, reason: String?) -> User? {
        guard var user = tenants[clientID]?.resources.users[userID] else { return nil }
        user.status = verified ? .verified : .rejected
        user.verificationStatus = verified ? "verified" : "rejected"
        user.updatedAt = clock.now
        tenants[clientID]?.resources.users[userID] = user
        dirty = true
        if verified {
            emit("user.verification.accepted", clientID: clientID, data: ["user_id": .string(userID), "status": "VERIFIED"])
        } else {
            emit(
                "user.verification.failed", clientID: clientID,
                data: ["user_id": .string(userID), "status": "REJECTED", "reasons": [.string(reason ?? "Rejected by a Kira operator")]]
            )
        }
        return user
    }

    static func looksLikeEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".")
            && !parts[1].hasSuffix(".") && !email.contains(" ")
    }

    static func isCalendarDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1900...2100).contains(year), (1...12).contains(month), day >= 1
        else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= days
    }

    /// `identifying_information[]`: objects whose `documents[].file` are data URLs of images or PDFs.
    static func validateIdentifyingInformation(_ body: BodyFields) throws(APIError) -> [JSONValue] {
        guard let items = try body.array("identifying_information") else { return [] }
        for (index, item) in items.enumerated() {
            guard case .object(let object) = item else {
                throw APIError.validation("identifying_information[\(index)]", "Expected an object, got \(item.typeName)")
            }
            let fields = BodyFields(object, prefix: "identifying_information[\(index)].")
            for (position, document) in (try fields.array("documents") ?? []).enumerated() {
                let path = "identifying_information[\(index)].documents[\(position)]"
                guard case .object(let documentObject) = document else {
                    throw APIError.validation(path, "Expected an object, got \(document.typeName)")
                }
                let file = try BodyFields(documentObject, prefix: path + ".").requiredString("file")
                let acceptedPrefixes = [
                    "data:image/png;base64,", "data:image/jpeg;base64,", "data:image/jpg;base64,", "data:application/pdf;base64,",
                ]
                guard acceptedPrefixes.contains(where: { file.hasPrefix($0) }), file.count > 40 else {
                    throw APIError.validation(
                        path + ".file", "Must be a data URL of a PNG, JPEG or PDF image (data:image/png;base64,…)"
                    )
                }
            }
        }
        return items
    }
}

extension SandboxState {
    /// `POST /v1/virtual-accounts`.
    func createVirtualAccount(_ context: CallContext) throws(APIError) -> APIResult {
        let body = try BodyFields.parse(context.request.body)
        let userID = try body.requiredUUID("user_id")
        let type = try body.requiredEnumeration("type", ["US_BANK"])
        let provider = try body.enumeration("provider", ["act"]) ?? "act"
        let mode = try body.enumeration("mode", ["fiat", "crypto"]) ?? "fiat"
        let destination = try body.nested("destination")
        if mode == "crypto", destination == nil {
            throw APIError.validation("destination", "Required for crypto virtual accounts")
        }
        guard let bank = try body.string("bank"), !bank.isEmpty else {
            throw APIError.api(400, "validation_error", "bank is required for US_BANK virtual accounts", errors: [("bank", "Required")])
        }
        guard bank == "slovak_savings_bank" else {
            throw APIError.api(400, "validation_error", "Invalid bank", errors: [("bank", "Invalid bank")])
        }
        let resources = try tenant(context.clientID).resources
        guard let user = resources.users[userID] else { throw APIError.notFound("User") }
        if resources.accountByUser[userID] != nil {
            throw APIError.api(409, "resource_conflict", "User already has an ACT virtual account")
        }
        guard user.status == .verified else {
            throw APIError.api(
                400, "invalid_operation", "User must be VERIFIED to create a virtual account (status: \(user.status.rawValue))"
            )
        }
        let now = clock.now
        let account = VirtualAccount(
            id: SandboxID.make(), userID: userID, type: type, provider: provider, bank: bank, mode: mode,
            lifecycle: .activating, accountNumber: VirtualAccount.pendingAccountNumber, routingNumber: nil,
            destination: destination.map { .object($0.object) } ?? .null, createdAt: now, updatedAt: now
        )
        try insertAccount(account, clientID: context.clientID)
        schedule(.accountReady, account.id, clientID: context.clientID, after: configuration.virtualAccountReadyAfter)
        emit(
            "virtual_account.created", clientID: context.clientID,
            data: [
                "virtual_account_id": .string(account.id), "user_id": .string(userID),
                "status": .string(account.status(for: context.version)),
            ]
        )
        return .created(account.json(version: context.version))
    }

    /// Stores an account, keeping the one-per-user index in step with evictions.
    func insertAccount(_ account: VirtualAccount, clientID: String) throws(APIError) {
        let limit = configuration.recordLimit
        try withTenant(clientID) { tenant in
            let evicted = tenant.resources.accounts.insert(account, id: account.id, limit: limit)
            tenant.resources.accountByUser[account.userID] = account.id
            for old in evicted { tenant.resources.accountByUser.removeValue(forKey: old.userID) }
        }
        dirty = true
    }

    func account(_ context: CallContext, _ id: String) throws(APIError) -> VirtualAccount {
        guard let account = try tenant(context.clientID).resources.accounts[id] else { throw APIError.notFound("Virtual account") }
        return account
    }

    /// `GET /v1/virtual-accounts/{id}`.
    func getVirtualAccount(_ context: CallContext, id: String) throws(APIError) -> APIResult {
        .ok(try account(context, id).json(version: context.version))
    }

    /// `GET /v1/virtual-accounts?user_id&limit&offset`: items carry null `provider` and `currency`.
    func listVirtualAccounts(_ context: CallContext) throws(APIError) -> APIResult {
        let window = try listWindow(context.request)
        var userID: String?
        if let text = context.request.query["user_id"] {
            guard let id = SandboxID.canonical(text) else { throw APIError.validation("user_id", "Must be a UUID") }
            userID = id
        }
        let page = try tenant(context.clientID).resources.accounts.page(offset: window.offset, limit: window.limit) {
            userID == nil || $0.userID == userID
        }
        return .ok(Self.paginated(page.items.map { $0.listItemJSON(version: context.version) }, total: page.total, window: window))
    }

    /// `GET /v1/virtual-accounts/{id}/balance`: 400 while activating, then the fixed provider balance.
    func balance(_ context: CallContext, id: String) throws(APIError) -> APIResult {
        let account = try account(context, id)
        guard account.isReady else {
            throw APIError.api(
                400, "invalid_operation",
                "Virtual account is not active yet (account_number: \(VirtualAccount.pendingAccountNumber)); balance is unavailable"
            )
        }
        return .ok([
            "virtual_account_id": .string(account.id), "available_balance": .string(Amount.format(configuration.balanceCents)),
            "currency": "USD", "updated_at": .string(Timestamp.format(account.updatedAt)),
        ])
    }

    /// `GET /v1/virtual-accounts/{id}/deposits`: a bare array that never shows simulated deposits.
    func listDeposits(_ context: CallContext, id: String) throws(APIError) -> APIResult {
        _ = try listWindow(context.request)
        _ = try account(context, id)
        return .ok(.array([]))
    }

    /// `POST /v1/virtual-accounts/{id}/simulate-deposit`.
    func simulateDeposit(_ context: CallContext, id: String) throws(APIError) -> APIResult {
        let account = try account(context, id)
        let body = try BodyFields.parse(context.request.body)
        let amount = try body.requiredAmount("amount")
        let currency = try body.enumeration("currency", ["USD"]) ?? "USD"
        let senderName = try body.string("sender_name")
        let rail = try body.string("payment_rail")
        guard account.isReady else {
            throw APIError.api(
                400, "invalid_operation",
                "Virtual account is not ready to receive deposits (account_number: \(VirtualAccount.pendingAccountNumber))"
            )
        }
        let deposit = Deposit(
            id: SandboxID.make(), virtualAccountID: account.id, userID: account.userID, amountCents: amount, currency: currency,
            senderName: senderName, paymentRail: rail, createdAt: clock.now
        )
        let limit = configuration.recordLimit
        try withTenant(context.clientID) { $0.resources.deposits.insert(deposit, id: deposit.id, limit: limit) }
        dirty = true
        emit(
            "virtual_account.deposit_funds_received", clientID: context.clientID,
            data: [
                "user_id": .string(account.userID), "virtual_account_id": .string(account.id), "deposit_id": .string(deposit.id),
                "amount": .string(Amount.format(amount)), "currency": .string(currency),
                "created_at": .string(Timestamp.format(deposit.createdAt)),
                "source": ["sender_name": .string(senderName ?? "Sandbox Sender"), "payment_rail": .string(rail ?? "ach")],
            ]
        )
        return .created(deposit.json)
    }
}
