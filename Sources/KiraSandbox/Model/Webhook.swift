import Foundation
import KiraJSON

/// Where a tenant wants its webhooks, as given to `POST /webhooks/register`.
struct WebhookRegistration: Sendable {
    var url: String
    var secret: String
}

/// One webhook ready to be sent: the exact bytes and their signature.
public struct WebhookDelivery: Sendable {
    /// The log entry this delivery updates.
    public var sequence: Int
    /// The event name, for example `user.created`.
    public var event: String
    /// `data.event_id`.
    public var eventID: String
    /// Where it goes.
    public var url: String
    /// The raw body, signed as is.
    public var body: [UInt8]
    /// Hex HMAC-SHA256 of `body`, sent as `x-signature-sha256`.
    public var signature: String
}

/// What happened to one webhook, as `GET /__emulator/webhooks` lists it.
struct WebhookLogEntry: Sendable {
    enum Outcome: String, Sendable {
        /// No webhook URL was registered: nothing was sent.
        case notRegistered = "not_registered"
        case pending
        case delivered
        case failed
    }

    var sequence: Int
    var clientID: String
    var event: String
    var eventID: String
    var url: String?
    var body: JSONValue
    var signature: String?
    var emittedAt: Date
    var outcome: Outcome
    var responseStatus: Int?
    var error: String?
    var attempts: Int

    var json: JSONValue {
        [
            "sequence": .int(sequence), "client_id": .string(clientID), "event": .string(event),
            "event_id": .string(eventID), "url": url.map(JSONValue.string) ?? .null,
            "emitted_at": .string(Timestamp.format(emittedAt)), "outcome": .string(outcome.rawValue),
            "attempts": .int(attempts), "response_status": responseStatus.map(JSONValue.int) ?? .null,
            "error": error.map(JSONValue.string) ?? .null, "signature": signature.map(JSONValue.string) ?? .null,
            "body": body,
        ]
    }
}
