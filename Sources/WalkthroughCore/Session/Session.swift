import Foundation
import KiraJSON

/// Where a step stands.
///
/// Legal transitions (anything else is a programming error the engine never makes):
/// - `pending` → `awaitingInput` | `ready` | `succeeded` (no request applies) | `skipped`
/// - `awaitingInput` → `awaitingInput` (invalid value) | `ready` | `sending` (a prompt remedy's
///   validation request) | `waiting` (a prompt remedy that retries a wait)
/// - `ready` → `sending` | `skipped`
/// - `sending` → `succeeded` | `ready` (next request of the step) | `awaitingInput` (the next
///   request needs a value) | `waiting` (a poll, or a webhook wait) | `blocked` | `failed`
/// - `waiting` → `waiting` (another poll) | `succeeded` | `ready` | `awaitingInput` | `blocked` (a
///   quirk, or the timeout) | `failed`
/// - `blocked` → `sending` (a remedy's request, a search probe, a retry, a new run checking
///   again) | `waiting` (keep waiting) | `awaitingInput` (a prompt) | `ready` (restart) |
///   `succeeded` (proceed) | `skipped` | `failed`
/// - `failed` → `sending` (retry, or a new run checking again) | `waiting` | `skipped`
/// - `succeeded`, `skipped`: final.
public enum StepState: String, Codable, Sendable, CaseIterable {
    case pending
    case awaitingInput = "awaiting_input"
    case ready
    case sending
    case waiting
    case succeeded
    case blocked
    case failed
    case skipped

    /// The step is over, one way or another.
    public var isFinal: Bool { self == .succeeded || self == .skipped }
}

/// The target a session talks to.
public struct SessionTarget: Codable, Sendable, Hashable {
    /// `local` (the embedded emulator), `sandbox` (the real Kira sandbox) or `url`.
    public var kind: String
    /// The base URL of the last run (a local emulator's port changes between runs).
    public var baseURL: String
    /// Whether the target answered `/healthz` as this project's emulator: operator remedies are
    /// offered only then.
    public var isEmulator: Bool

    public init(kind: String, baseURL: String, isEmulator: Bool) {
        self.kind = kind
        self.baseURL = baseURL
        self.isEmulator = isEmulator
    }
}

/// A request ready to leave: everything but secrets, which stay `{{ name }}` references until the
/// client fills them at send time, so this can be written to disk before sending (write-ahead).
public struct RenderedRequest: Codable, Sendable, Hashable {
    public var stepID: String
    public var requestID: String
    public var label: String?
    public var method: String
    /// The path and query under the base URL.
    public var path: String
    public var auth: AuthMode
    /// Generated once and kept, so a resend after a crash is deduplicated by the API.
    public var idempotencyKey: String?
    /// The body, with secret references left as `{{ name }}`.
    public var body: JSONValue?
    /// Whether resending it after an interruption cannot duplicate anything.
    public var repeatable: Bool

    public init(
        stepID: String, requestID: String, label: String?, method: String, path: String, auth: AuthMode, idempotencyKey: String?,
        body: JSONValue?, repeatable: Bool
    ) {
        self.stepID = stepID
        self.requestID = requestID
        self.label = label
        self.method = method
        self.path = path
        self.auth = auth
        self.idempotencyKey = idempotencyKey
        self.body = body
        self.repeatable = repeatable
    }
}

/// A request as it will leave, for showing it first: real header values and a body with secrets
/// filled (memory only, never recorded), plus what a presenter needs to mask them.
public struct RequestPreview: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    /// The body as sent (secrets filled).
    public var body: JSONValue?
    /// The body as the flow rendered it (secret references as `{{ name }}`): what an editor shows.
    public var editableBody: JSONValue?
    public var label: String?
    public var idempotencyKey: String?
    /// Secret values present in headers or body, to mask on screen.
    public var secrets: [String]
    public var requestID: String

    public init(
        method: String, url: String, headers: [(name: String, value: String)], body: JSONValue?, editableBody: JSONValue?, label: String?,
        idempotencyKey: String?, secrets: [String], requestID: String
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.editableBody = editableBody
        self.label = label
        self.idempotencyKey = idempotencyKey
        self.secrets = secrets
        self.requestID = requestID
    }
}

/// How a response looked, as the engine needs it.
public struct ResponseSummary: Sendable, Hashable {
    public var status: Int
    /// The body when it is JSON.
    public var json: JSONValue?
    /// The body as text (for messages when it is not JSON).
    public var text: String

    public init(status: Int, json: JSONValue?, text: String) {
        self.status = status
        self.json = json
        self.text = text
    }
}

/// One remedy as offered to the person.
public struct RemedyOption: Codable, Sendable, Hashable {
    public var label: String
    /// Operator actions are unavailable unless the target is this project's emulator.
    public var available: Bool
    public var recommended: Bool
    /// Why it is unavailable, when it is.
    public var unavailableReason: String?
}

/// A step stopped on a known quirk.
public struct BlockedQuirk: Codable, Sendable, Hashable {
    public var quirkID: String
    public var requestID: String
    /// What it means, rendered.
    public var explanation: String
    public var remedies: [RemedyOption]
    /// A wait that ran out of time (its remedies are keep waiting, or stop), not a flow rule.
    public var isTimeout = false
    /// The index of the recommended remedy (the first available one).
    public var recommended: Int? { remedies.firstIndex { $0.recommended } }
}

/// What the step is sending and why.
public struct ActiveRequest: Codable, Sendable, Hashable {
    public enum Origin: Codable, Sendable, Hashable {
        /// The step's own request at `requestIndex`.
        case flow
        /// A remedy's follow-up request.
        case remedy(quirk: String, remedy: Int)
        /// A prompt remedy's validation request.
        case validation(quirk: String, remedy: Int)
        /// A search probe.
        case probe(quirk: String, remedy: Int)
    }

    public var origin: Origin
    public var request: RenderedRequest
}

/// A bisection over an amount input (Q-PAYOUT-MIN).
public struct SearchProgress: Codable, Sendable, Hashable {
    public var input: String
    /// The largest amount known to fail, in cents.
    public var failingCents: Int
    /// The smallest amount known to pass.
    public var passingCents: Int?
    /// The amount being probed.
    public var probeCents: Int
    public var calls: Int
    public var maxCalls: Int
    public var spanCents: Int
}

/// A request the engine waits on: where a prompt remedy goes once its input is given.
public struct PendingRemedy: Codable, Sendable, Hashable {
    public var quirk: String
    public var remedy: Int
}

/// Everything the engine keeps about one step.
public struct StepRecord: Codable, Sendable, Hashable {
    public var id: String
    public var title: String
    public var state: StepState = .pending
    /// The flow request the step is at.
    public var requestIndex = 0
    public var active: ActiveRequest?
    public var blocked: BlockedQuirk?
    public var failure: String?
    /// The input being asked for, and why it is invalid when it was.
    public var pendingInput: String?
    public var inputError: String?
    public var pendingRemedy: PendingRemedy?
    /// The operator action in flight.
    public var pendingOperator: PendingRemedy?
    public var waitStartedAt: Date?
    public var waitAttempt = 0
    /// Quirks a "keep waiting" remedy silenced for this step.
    public var suppressedQuirks: [String] = []
    /// Notes already shown in this step, so polling does not repeat them.
    public var notedQuirks: [String] = []
    /// How often each remedy was taken, to stop a loop.
    public var remedyUses: [String: Int] = [:]
    public var search: SearchProgress?
    /// After its request succeeded, the step waits for a webhook.
    public var awaitingWebhook: Bool?

    public init(id: String, title: String) {
        self.id = id
        self.title = title
    }
}

/// One request and its response, as recorded (secrets redacted).
public struct ExchangeRecord: Codable, Sendable, Hashable {
    public var sequence: Int
    public var stepID: String
    public var requestID: String
    /// Why it was sent, when not the step's own request: "re-authenticate (Q-TOKEN-TTL)", "retry 2 after 503".
    public var note: String?
    public var method: String
    public var url: String
    public var requestHeaders: [[String]]
    public var requestBody: String?
    public var status: Int?
    public var responseHeaders: [[String]]
    public var responseBody: String?
    public var error: String?
    public var startedAt: Date
    public var durationMilliseconds: Double

    public init(
        sequence: Int, stepID: String, requestID: String, note: String?, method: String, url: String, requestHeaders: [[String]],
        requestBody: String?, status: Int?, responseHeaders: [[String]], responseBody: String?, error: String?, startedAt: Date,
        durationMilliseconds: Double
    ) {
        self.sequence = sequence
        self.stepID = stepID
        self.requestID = requestID
        self.note = note
        self.method = method
        self.url = url
        self.requestHeaders = requestHeaders
        self.requestBody = requestBody
        self.status = status
        self.responseHeaders = responseHeaders
        self.responseBody = responseBody
        self.error = error
        self.startedAt = startedAt
        self.durationMilliseconds = durationMilliseconds
    }
}

/// A webhook the run's listener received.
public struct WebhookEventRecord: Codable, Sendable, Hashable {
    public var event: String
    public var eventID: String
    /// Whether `x-signature-sha256` matched the registered secret.
    public var verified: Bool
    public var receivedAt: Date
    /// The body, redacted.
    public var body: JSONValue?

    public init(event: String, eventID: String, verified: Bool, receivedAt: Date, body: JSONValue?) {
        self.event = event
        self.eventID = eventID
        self.verified = verified
        self.receivedAt = receivedAt
        self.body = body
    }

    enum CodingKeys: String, CodingKey {
        case event, eventID = "event_id", verified, receivedAt = "received_at", body
    }
}

/// What the engine expects from the webhook listener.
public struct WebhookExpectation: Sendable, Hashable {
    public var event: String
    public var field: JSONPath?
    /// The rendered value the field must have.
    public var value: String?
    public var timeout: Double

    /// Whether `record` is the awaited event.
    public func matches(_ record: WebhookEventRecord) -> Bool {
        guard record.event == event else { return false }
        guard let field, let value else { return true }
        guard let body = record.body, let actual = field.resolve(in: body) else { return false }
        return WalkthroughEngine.describe(actual) == value
    }
}

/// Something that happened worth telling later: a quirk met, a remedy taken, a note.
public struct SessionEvent: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        case quirk, note, remedy, `operator`, search, input, resume
    }

    public var at: Date
    public var stepID: String
    public var kind: Kind
    public var quirkID: String?
    public var text: String
}

/// The session file: a walkthrough's progress, enough to resume it anywhere.
///
/// Never holds a credential or a token: secret inputs and captures live in memory only, and
/// recorded exchanges are redacted before they get here.
public struct Session: Codable, Sendable {
    public static let currentSchema = 1

    public var schemaVersion = Session.currentSchema
    public var name: String
    public var flowID: String
    public var flowTitle: String
    public var flowFile: String
    public var target: SessionTarget
    public var createdAt: Date
    public var updatedAt: Date
    public var completedAt: Date?
    public var steps: [StepRecord]
    /// The current step.
    public var cursor = 0
    /// Inputs that are not secret, as given.
    public var inputs: [String: String] = [:]
    /// Captures that are not secret.
    public var captures: [String: JSONValue] = [:]
    /// `step/request` → the key its creating request carries.
    public var idempotencyKeys: [String: String] = [:]
    /// The version the account was pinned to (after step 3).
    public var pinnedVersion: String?
    public var exchanges: [ExchangeRecord] = []
    public var events: [SessionEvent] = []
    /// Webhooks received during the session (absent in files written before webhooks existed).
    public var receivedWebhooks: [WebhookEventRecord]?

    /// Webhooks received during the session.
    public var webhooks: [WebhookEventRecord] {
        get { receivedWebhooks ?? [] }
        set { receivedWebhooks = newValue }
    }

    /// The most exchanges a session keeps (polling can make many); the oldest go first.
    public static let exchangeLimit = 1000

    public init(name: String, flow: Flow, target: SessionTarget, now: Date) {
        self.name = name
        flowID = flow.id
        flowTitle = flow.title
        flowFile = flow.file
        self.target = target
        createdAt = now
        updatedAt = now
        steps = flow.steps.map { StepRecord(id: $0.id, title: $0.title) }
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case name, flowID = "flow_id", flowTitle = "flow_title", flowFile = "flow_file", target
        case createdAt = "created_at", updatedAt = "updated_at", completedAt = "completed_at"
        case steps, cursor, inputs, captures, idempotencyKeys = "idempotency_keys", pinnedVersion = "pinned_version"
        case exchanges, events, receivedWebhooks = "webhooks"
    }

    /// Whether every step is over.
    public var isComplete: Bool { completedAt != nil }

    /// Appends an exchange, keeping at most `exchangeLimit`.
    public mutating func record(_ exchange: ExchangeRecord) {
        exchanges.append(exchange)
        if exchanges.count > Self.exchangeLimit { exchanges.removeFirst(exchanges.count - Self.exchangeLimit) }
    }

    /// The next exchange sequence number.
    public var nextExchangeSequence: Int { (exchanges.last?.sequence ?? 0) + 1 }
}
