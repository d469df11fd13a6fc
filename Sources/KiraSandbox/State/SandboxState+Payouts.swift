import Foundation
import KiraJSON

extension SandboxState {
    // MARK: Recipients

    /// `POST /v1/recipients`.
    func createRecipient(_ context: CallContext) throws(APIError) -> APIResult {
        let body = try BodyFields.parse(context.request.body)
        let type = try body.requiredEnumeration("type", ["individual", "business"])
        let userID = try body.requiredUUID("user_id")
        if type == "individual" {
            _ = try body.requiredString("first_name")
            _ = try body.requiredString("last_name")
        } else {
            _ = try body.requiredString("company_name")
        }
        if let email = try body.string("email"), !Self.looksLikeEmail(email) {
            throw APIError.validation("email", "Must be a valid email address")
        }
        _ = try body.string("phone")
        let countryMessage = "Country must be a 2-character ISO code"
        let address = try body.requiredNested("address")
        _ = try address.requiredString("street_name")
        _ = try address.requiredString("city")
        _ = try address.string("state")
        _ = try address.string("postal_code")
        guard try address.country("country", length: 2, message: countryMessage) != nil else {
            throw APIError.validation("address.country", "Required")
        }
        let account = try body.requiredNested("account")
        let rail = try account.requiredEnumeration("account_type", ["SWIFT", "WIRE", "ACH"])
        let number = try account.requiredString("account_number")
        guard number.count >= 4 else { throw APIError.validation("account.account_number", "Must be at least 4 characters") }
        if rail == "SWIFT" {
            let swift = try account.requiredString("swift_code")
            guard swift.count == 8 || swift.count == 11 else {
                throw APIError.validation("account.swift_code", "Must be 8 or 11 characters")
            }
        } else {
            let routing = try account.requiredString("routing_number")
            guard routing.count == 9, routing.allSatisfy(\.isNumber) else {
                throw APIError.validation("account.routing_number", "Must be 9 digits")
            }
        }
        _ = try account.requiredString("bank_name")
        let bankAddress = try account.requiredNested("bank_address")
        _ = try bankAddress.country("country", length: 2, message: countryMessage)
        guard try tenant(context.clientID).resources.users[userID] != nil else { throw APIError.notFound("User") }

        let recipient = Recipient(id: SandboxID.make(), userID: userID, details: body.object, rail: rail, createdAt: clock.now)
        let limit = configuration.recordLimit
        try withTenant(context.clientID) { $0.resources.recipients.insert(recipient, id: recipient.id, limit: limit) }
        dirty = true
        return .created(recipient.json)
    }

    /// `GET /v1/recipients/{id}`.
    func getRecipient(_ context: CallContext, id: String) throws(APIError) -> APIResult {
        guard let recipient = try tenant(context.clientID).resources.recipients[id] else { throw APIError.notFound("Recipient") }
        return .ok(recipient.json)
    }

    /// `GET /v1/recipients?user_id=` → `{"recipients":[…],"total"}`.
    func listRecipients(_ context: CallContext) throws(APIError) -> APIResult {
        let window = try listWindow(context.request)
        var userID: String?
        if let text = context.request.query["user_id"] {
            guard let id = SandboxID.canonical(text) else { throw APIError.validation("user_id", "Must be a UUID") }
            userID = id
        }
        let page = try tenant(context.clientID).resources.recipients.page(offset: window.offset, limit: window.limit) {
            userID == nil || $0.userID == userID
        }
        return .ok(["recipients": .array(page.items.map(\.json)), "total": .int(page.total)])
    }

    // MARK: Payouts

    /// The hidden fee schedule applied to `amountCents` on `rail`.
    struct FeeQuote {
        var fixed: Int
        var percentage: Int
        var markup: Int
        var total: Int { fixed + percentage + markup }
    }

    func quote(amountCents: Int, rail: String) -> FeeQuote {
        let fees = configuration.fees[rail] ?? SandboxConfiguration.defaultFees["SWIFT"]!
        // Percentage fees round half up to the cent.
        let percentage = (amountCents * fees.percentageBasisPoints + 5_000) / 10_000
        return FeeQuote(fixed: fees.fixedCents, percentage: percentage, markup: fees.markupFixedCents)
    }

    /// The validated pieces shared by preview and create.
    private func payoutRequest(_ context: CallContext, accountID: String) throws(APIError) -> (
        body: BodyFields, account: VirtualAccount, recipient: Recipient, amount: Int, quote: FeeQuote
    ) {
        let account = try account(context, accountID)
        let body = try BodyFields.parse(context.request.body)
        let recipientID = try body.requiredUUID("recipient_id")
        let amount = try body.requiredAmount("amount")
        guard let recipient = try tenant(context.clientID).resources.recipients[recipientID] else {
            throw APIError.notFound("Recipient")
        }
        if let error = account.holdError("payouts", version: context.version) { throw error }
        guard account.isReady else {
            throw APIError.api(
                400, "invalid_operation",
                "Virtual account is not ready for payouts (account_number: \(VirtualAccount.pendingAccountNumber))"
            )
        }
        let quote = quote(amountCents: amount, rail: recipient.rail)
        guard quote.total < amount else {
            throw APIError.api(400, "bad_request", "Total fees exceed or equal the payout amount")
        }
        return (body, account, recipient, amount, quote)
    }

    /// `POST /v1/virtual-accounts/{id}/payout/preview`.
    func previewPayout(_ context: CallContext, accountID: String) throws(APIError) -> APIResult {
        let request = try payoutRequest(context, accountID: accountID)
        let quote = request.quote
        return .ok([
            "amount": .string(Amount.format(request.amount)), "currency": "USD",
            "fees": [
                "base_fees": [
                    "fixed_fee": .string(Amount.format(quote.fixed)), "percentage_fee": .string(Amount.format(quote.percentage)),
                    "fx_markup": "0.00",
                ],
                "client_markup": ["fixed_fee": .string(Amount.format(quote.markup)), "percentage_fee": "0.00"],
                "total_fees": .string(Amount.format(quote.total)),
            ],
            "recipient_amount": .string(Amount.format(request.amount - quote.total)), "recipient_currency": "USD",
            "rail": .string(request.recipient.rail),
        ])
    }

    /// `POST /v1/virtual-accounts/{id}/payout`: 201 with lowercase `created`.
    func createPayout(_ context: CallContext, accountID: String) throws(APIError) -> APIResult {
        let request = try payoutRequest(context, accountID: accountID)
        let currency = try request.body.enumeration("currency", ["USD"]) ?? "USD"
        let needed = request.amount + request.quote.total
        guard needed <= configuration.balanceCents else {
            throw APIError.api(
                400, "insufficient_funds",
                "Insufficient funds: amount plus fees (\(Amount.format(needed))) exceeds the available balance (\(Amount.format(configuration.balanceCents)))"
            )
        }
        let now = clock.now
        let payout = Payout(
            id: SandboxID.make(), virtualAccountID: request.account.id, recipientID: request.recipient.id,
            amountCents: request.amount, feeCents: request.quote.total, currency: currency, step: 0, createdAt: now, updatedAt: now
        )
        let limit = configuration.recordLimit
        try withTenant(context.clientID) { $0.resources.payouts.insert(payout, id: payout.id, limit: limit) }
        dirty = true
        schedule(.payoutStep, payout.id, clientID: context.clientID, after: configuration.payoutStepInterval)
        emit(
            "payout.created", clientID: context.clientID,
            data: ["payout_id": .string(payout.id), "status": "created", "amount": .string(Amount.format(payout.amountCents))]
        )
        return .created(payout.createdJSON)
    }

    /// `GET /v1/payouts/{id}`: upper-case status; another tenant's payout is a 403.
    func getPayout(_ context: CallContext, id: String) throws(APIError) -> APIResult {
        if let payout = try tenant(context.clientID).resources.payouts[id] { return .ok(payout.json) }
        if tenants.values.contains(where: { $0.resources.payouts[id] != nil }) {
            throw APIError.api(403, "forbidden", "You do not have access to this payout")
        }
        throw APIError.notFound("Payout")
    }

    // MARK: Webhooks

    /// `POST /webhooks/register`: one URL per tenant; a new registration replaces the old.
    func registerWebhook(_ context: CallContext) throws(APIError) -> APIResult {
        let body = try BodyFields.parse(context.request.body)
        let clientUUID = try body.requiredUUID("client_uuid")
        guard clientUUID == context.clientID else {
            throw APIError.api(403, "forbidden", "client_uuid does not match the authenticated client")
        }
        let url = try body.requiredString("webhook_url")
        guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme?.lowercased() ?? ""),
            components.host?.isEmpty == false
        else {
            throw APIError.validation("webhook_url", "Must be an http or https URL")
        }
        let owner = try tenant(context.clientID)
        let secret = try body.string("secret") ?? owner.credentials.webhookSecret
        try withTenant(context.clientID) { $0.webhook = WebhookRegistration(url: url, secret: secret) }
        return .ok(["message": "Webhook registered successfully"])
    }
}
