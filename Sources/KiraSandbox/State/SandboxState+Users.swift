import Foundation
import KiraJSON

extension SandboxState {
    /// `POST /v1/users`: verification triggers only for a complete user (the contract's
    /// completeness rule); otherwise the user stays `CREATED` with `verification_triggered: false`.
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
        let fields = try UserFields.parse(body)
        if try tenant(context.clientID).resources.userByEmail[email.lowercased()] != nil {
            throw APIError.api(409, "resource_conflict", "A user with email \(email) already exists")
        }
        let now = clock.now
        var user = User(
            id: SandboxID.make(), type: type, email: email, profile: fields.profile, residentialAddress: fields.address,
            identifyingInformation: fields.entries.map(JSONValue.object), metadata: fields.metadata ?? JSONObject(),
            inputStatus: fields.inputStatus,
            status: .created, verificationStatus: "unverified", verificationTriggered: false, complete: false,
            imageProblems: fields.imageProblems.isEmpty ? nil : fields.imageProblems, createdAt: now, updatedAt: now
        )
        user.complete = user.missingForVerification.isEmpty
        if user.complete { startVerification(&user, clientID: context.clientID) }
        try insertUser(user, clientID: context.clientID)
        emit("user.created", clientID: context.clientID, data: ["user_id": .string(user.id), "status": "CREATED"])
        return .created(user.json)
    }

    /// `PUT /v1/users/{id}`: the create's fields merged into a `CREATED` user (an
    /// `identifying_information` entry replaces the entry of the same `type`). A user that becomes
    /// complete triggers verification now, as a complete create does. 400 `invalid_operation`
    /// past `CREATED`.
    func updateUser(_ context: CallContext, id: String) throws(APIError) -> APIResult {
        guard var user = try tenant(context.clientID).resources.users[id] else { throw APIError.notFound("User") }
        let body = try BodyFields.parse(context.request.body)
        guard user.status == .created else {
            throw APIError.api(
                400, "invalid_operation",
                "User \(id) is \(user.status.rawValue); only a user in CREATED can be updated"
            )
        }
        if let type = try body.enumeration("type", ["individual", "business"]), type != user.type {
            throw APIError.validation("type", "Cannot change a user's type (it is \(user.type))")
        }
        for field in ["first_name", "last_name", "business_legal_name"] where body.has(field) {
            _ = try body.requiredString(field)
        }
        var newEmail: String?
        if let email = try body.string("email") {
            guard Self.looksLikeEmail(email) else { throw APIError.validation("email", "Must be a valid email address") }
            if let owner = try tenant(context.clientID).resources.userByEmail[email.lowercased()], owner != id {
                throw APIError.api(409, "resource_conflict", "A user with email \(email) already exists")
            }
            newEmail = email
        }
        let fields = try UserFields.parse(body)
        for (key, value) in fields.profile { user.profile[key] = value }
        for (key, value) in fields.address { user.residentialAddress[key] = value }
        for entry in fields.entries {
            let type = entry["type"]?.stringValue
            if let index = user.identifyingInformation.firstIndex(where: { $0["type"]?.stringValue == type }) {
                user.identifyingInformation[index] = .object(entry)
            } else {
                user.identifyingInformation.append(.object(entry))
            }
            if let type {
                var problems = user.imageProblems ?? [:]
                problems[type] = fields.imageProblems[type]
                user.imageProblems = problems.isEmpty ? nil : problems
            }
        }
        if let metadata = fields.metadata {
            for (key, value) in metadata { user.metadata[key] = value }
        }
        if let status = fields.inputStatus { user.inputStatus = status }
        let oldEmailKey = user.email.lowercased()
        if let newEmail { user.email = newEmail }
        user.updatedAt = clock.now
        user.complete = user.missingForVerification.isEmpty
        if user.complete, !user.verificationTriggered { startVerification(&user, clientID: context.clientID) }
        let updated = user
        try withTenant(context.clientID) { tenant in
            tenant.resources.users[id] = updated
            if oldEmailKey != updated.email.lowercased() {
                tenant.resources.userByEmail.removeValue(forKey: oldEmailKey)
                tenant.resources.userByEmail[updated.email.lowercased()] = id
            }
        }
        dirty = true
        return .ok(user.json)
    }

    /// Starts the automatic KYC check of a complete user: `VERIFYING` then `REVIEW`, or `REJECTED`
    /// after the reject delay when `source_of_funds` is missing or an image is not a decodable
    /// JPEG or PNG of at least 200×200 (the reasons go to the `user.verification.failed` webhook).
    func startVerification(_ user: inout User, clientID: String) {
        user.verificationTriggered = true
        var reasons: [String] = []
        if user.value(of: "source_of_funds")?.trimmingWhitespace.isEmpty ?? true {
            reasons.append(Self.missingSourceOfFundsReason)
        }
        for entry in user.identifyingInformation {
            guard let type = entry["type"]?.stringValue else { continue }
            reasons += user.imageProblems?[type] ?? []
        }
        user.rejectionReasons = reasons
        if reasons.isEmpty {
            schedule(.userVerifying, user.id, clientID: clientID, after: configuration.verifyingAfter)
            schedule(.userReview, user.id, clientID: clientID, after: configuration.reviewAfter)
        } else {
            schedule(.userAutoReject, user.id, clientID: clientID, after: configuration.rejectAfter)
        }
    }

    /// The reason a user without `source_of_funds` is rejected (Q-SOF-REJECT).
    static let missingSourceOfFundsReason = "source_of_funds is required: the automatic KYC check rejected the user"

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

}

/// The optional fields of a user body, validated: what create and `PUT` share.
struct UserFields {
    var profile = JSONObject()
    var address = JSONObject()
    /// `identifying_information` entries as kept (see `User.identifyingInformation`).
    var entries: [JSONObject] = []
    /// Why the KYC check will refuse the images of each entry, by entry type.
    var imageProblems: [String: [String]] = [:]
    var metadata: JSONObject?
    var inputStatus: String?

    /// Validates every optional field of `body`; a bad one is a 400 naming it.
    static func parse(_ body: BodyFields) throws(APIError) -> UserFields {
        var fields = UserFields()
        fields.inputStatus = try body.enumeration("status", ["active", "inactive", "suspended"])
        _ = try body.enumeration("source_of_funds", User.sourcesOfFunds)
        _ = try body.enumeration("account_purpose", User.accountPurposes)
        _ = try body.enumeration("gender", User.genders)
        _ = try body.enumeration("pep_status", User.pepStatuses)
        if let birthDate = try body.string("birth_date"), !SandboxState.isCalendarDate(birthDate) {
            throw APIError.validation("birth_date", "Must be a date in the form YYYY-MM-DD")
        }
        for field in ["nationality", "document_country", "address_country"] {
            _ = try body.country(field, length: 3, message: "Must be a 3-letter ISO 3166-1 alpha-3 country code")
        }
        for field in User.profileFields {
            if let value = try body.string(field) { fields.profile[field] = .string(value) }
        }
        for rename in User.addressRenames {
            if let value = try body.string(rename.request) { fields.address[rename.response] = .string(value) }
        }
        try fields.parseIdentifyingInformation(body)
        fields.metadata = try body.nested("metadata")?.object
        return fields
    }

    /// `identifying_information[]` (an emulator choice of shape):
    /// `{"type", "issuing_country"?, "number"?, "image_front"?, "image_back"?, "file"?}`, one entry
    /// per type, images as data URLs of JPEG or PNG. Whether an image is decodable is not a 400:
    /// the KYC check rejects the user for it later.
    mutating func parseIdentifyingInformation(_ body: BodyFields) throws(APIError) {
        guard let items = try body.array("identifying_information") else { return }
        for (index, item) in items.enumerated() {
            let path = "identifying_information[\(index)]"
            guard case .object(let object) = item else {
                throw APIError.validation(path, "Expected an object, got \(item.typeName)")
            }
            let fields = BodyFields(object, prefix: path + ".")
            let type = try fields.requiredEnumeration("type", User.identityTypes)
            guard !entries.contains(where: { $0["type"]?.stringValue == type }) else {
                throw APIError.validation(path + ".type", "Only one \(type) entry is allowed")
            }
            var entry: JSONObject = ["type": .string(type)]
            if let country = try fields.country("issuing_country", length: 3, message: "Must be a 3-letter ISO 3166-1 alpha-3 country code")
            {
                entry["issuing_country"] = .string(country)
            }
            if let number = try fields.string("number"), !number.trimmingWhitespace.isEmpty {
                entry["number"] = "provided"
            }
            var problems: [String] = []
            for field in User.imageFields {
                guard let image = try fields.string(field) else { continue }
                if let problem = DocumentImage.shapeProblem(image) { throw APIError.validation(path + "." + field, problem) }
                entry[field] = "provided"
                if let reason = DocumentImage.rejectionReason(image) {
                    problems.append("identifying_information \(type).\(field): \(reason)")
                }
            }
            entries.append(entry)
            if !problems.isEmpty { imageProblems[type] = problems }
        }
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
        // The index holds only the account that is not deactivated (Q-ONE-VA).
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
                "status": .string(account.status(for: webhookVersion(context.clientID))),
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
            for old in evicted where tenant.resources.accountByUser[old.userID] == old.id {
                tenant.resources.accountByUser.removeValue(forKey: old.userID)
            }
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
        if let error = account.holdError("deposits", version: context.version) { throw error }
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
