import Foundation
import KiraJSON

/// An emulated virtual account: a US bank account number held at the ACT provider.
struct VirtualAccount: Codable, Sendable {
    /// The raw lifecycle, written per API version (see `status(for:)`).
    enum Lifecycle: String, Codable, Sendable {
        case activating = "ACTIVATING"
        case active = "ACTIVE"
        /// A request for information: the provider holds the account until the owner answers.
        case rfi = "RFI"
        case failed = "FAILED"
        case deactivated = "DEACTIVATED"
    }

    /// What the account number says until the provider has opened the account (Q-VA-READY).
    static let pendingAccountNumber = "PENDING-ACT-ACCOUNT"

    var id: String
    var userID: String
    var type: String
    var provider: String
    var bank: String
    var mode: String
    var lifecycle: Lifecycle
    /// `PENDING-ACT-ACCOUNT` until ready, then a 10-digit number.
    var accountNumber: String
    var routingNumber: String?
    var destination: JSONValue
    var createdAt: Date
    var updatedAt: Date

    /// Funds can move once the account number is real.
    var isReady: Bool { accountNumber != Self.pendingAccountNumber }

    /// The 400 `invalid_operation` for moving funds (`what`: "deposits", "payouts") while the
    /// account is on hold (`rfi`) or closed (`deactivated`); `nil` otherwise.
    func holdError(_ what: String, version: APIVersion) -> APIError? {
        switch lifecycle {
        case .rfi:
            return APIError.api(
                400, "invalid_operation",
                "Virtual account is on hold for a request for information (status: \(status(for: version))); \(what) are not allowed until it is answered"
            )
        case .deactivated:
            return APIError.api(
                400, "invalid_operation",
                "Virtual account is deactivated (status: \(status(for: version))); \(what) are not allowed"
            )
        case .activating, .active, .failed:
            return nil
        }
    }

    /// The status in the vocabulary of `version`: upper-case raw enum on the baseline, the
    /// lower-case `approved`/`declined`/`deactivated` family on 2026-04-14.
    func status(for version: APIVersion) -> String {
        switch version {
        case .baseline: return lifecycle.rawValue
        case .v20260414:
            switch lifecycle {
            case .activating, .active: return "approved"
            case .rfi: return "rfi"
            case .failed: return "declined"
            case .deactivated: return "deactivated"
            }
        }
    }

    /// The account as `GET /v1/virtual-accounts/{id}` returns it (bare).
    func json(version: APIVersion) -> JSONValue {
        let instructions: JSONValue =
            isReady
            ? [
                "bank_name": "Slovak Savings Bank", "bank_address": "Námestie SNP 18, 811 01 Bratislava, Slovakia",
                "beneficiary_name": "Kira Financial FBO", "account_number": .string(accountNumber),
                "routing_number": routingNumber.map(JSONValue.string) ?? .null, "payment_rails": ["ach", "wire"],
                "currency": "USD",
            ]
            : .null
        return [
            "id": .string(id), "user_id": .string(userID), "type": .string(type), "provider": .string(provider),
            "bank": .string(bank), "mode": .string(mode), "status": .string(status(for: version)),
            "account_number": .string(accountNumber), "routing_number": routingNumber.map(JSONValue.string) ?? .null,
            "currency": "USD", "source_deposit_instructions": instructions, "destination": destination,
            "created_at": .string(Timestamp.format(createdAt)), "updated_at": .string(Timestamp.format(updatedAt)),
        ]
    }

    /// The account as an item of `GET /v1/virtual-accounts`: `provider` and `currency` are null there.
    func listItemJSON(version: APIVersion) -> JSONValue {
        guard case .object(var object) = json(version: version) else { return .null }
        object["provider"] = .null
        object["currency"] = .null
        return .object(object)
    }
}

/// A simulated deposit: recorded for the operator, invisible to the deposits list and the balance.
struct Deposit: Codable, Sendable {
    var id: String
    var virtualAccountID: String
    var userID: String
    var amountCents: Int
    var currency: String
    var senderName: String?
    var paymentRail: String?
    var createdAt: Date

    var json: JSONValue {
        [
            "deposit_id": .string(id), "virtual_account_id": .string(virtualAccountID),
            "amount": .string(Amount.format(amountCents)), "currency": .string(currency), "status": "completed",
            "settlement_triggered": false, "created_at": .string(Timestamp.format(createdAt)),
        ]
    }
}
