import Foundation
import KiraJSON

/// A payout recipient: who is paid and on which rail (`SWIFT`, `WIRE`, `ACH`).
struct Recipient: Codable, Sendable {
    var id: String
    var userID: String
    /// The request body as sent (minus nothing: recipients hold no secrets).
    var details: JSONObject
    var rail: String
    var createdAt: Date

    var json: JSONValue {
        var object: JSONObject = ["recipient_id": .string(id)]
        for (key, value) in details where key != "recipient_id" { object[key] = value }
        object["user_id"] = .string(userID)
        object["status"] = "active"
        object["created_at"] = .string(Timestamp.format(createdAt))
        return .object(object)
    }
}

/// A payout and its progress.
struct Payout: Codable, Sendable {
    /// The statuses `GET /v1/payouts/{id}` reports, in order.
    static let progression = ["CREATED", "PENDING", "PROCESSING", "COMPLETED"]

    var id: String
    var virtualAccountID: String
    var recipientID: String
    var amountCents: Int
    var feeCents: Int
    var currency: String
    /// Index into `progression`.
    var step: Int
    var createdAt: Date
    var updatedAt: Date

    var statusText: String { Self.progression[step] }

    /// The `201` body of `POST …/payout`: status in lower case (Q-PAYOUT-STATUS-CASE).
    var createdJSON: JSONValue {
        [
            "payout_id": .string(id), "virtual_account_id": .string(virtualAccountID), "recipient_id": .string(recipientID),
            "amount": .string(Amount.format(amountCents)), "currency": .string(currency), "status": "created",
            "total_fees": .string(Amount.format(feeCents)), "created_at": .string(Timestamp.format(createdAt)),
        ]
    }

    /// `GET /v1/payouts/{id}`: status in upper case.
    var json: JSONValue {
        [
            "id": .string(id), "payout_id": .string(id), "virtual_account_id": .string(virtualAccountID),
            "recipient_id": .string(recipientID), "amount": .string(Amount.format(amountCents)),
            "currency": .string(currency), "status": .string(statusText), "total_fees": .string(Amount.format(feeCents)),
            "created_at": .string(Timestamp.format(createdAt)), "updated_at": .string(Timestamp.format(updatedAt)),
        ]
    }
}
