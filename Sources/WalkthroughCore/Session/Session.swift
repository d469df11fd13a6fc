import Foundation
import KiraJSON

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

    enum CodingKeys: String, CodingKey {
        case kind, baseURL = "base_url", isEmulator = "is_emulator"
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
    /// Headers set (`value`) or left out (`nil`) over the client's own; absent in older files.
    public var headers: [RenderedHeader]?

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

    enum CodingKeys: String, CodingKey {
        case stepID = "step_id", requestID = "request_id", label, method, path, auth, idempotencyKey = "idempotency_key", body, repeatable
        case headers
    }
}

/// A header a rendered request sets, or leaves out (`value` `nil`), over the client's own.
public struct RenderedHeader: Codable, Sendable, Hashable {
    /// The header's name, in lower case.
    public var name: String
    /// The value to send, or `nil` to leave the header out.
    public var value: String?

    /// A header set to `value`, or left out when `value` is `nil`.
    public init(name: String, value: String?) {
        self.name = name.lowercased()
        self.value = value
    }

    /// `headers` with `overrides` applied: a header named by an override is dropped (whatever its
    /// case), then set again when the override has a value.
    public static func apply(_ overrides: [RenderedHeader]?, to headers: [(String, String)]) -> [(String, String)] {
        guard let overrides, !overrides.isEmpty else { return headers }
        let named = Set(overrides.map(\.name))
        var result = headers.filter { !named.contains($0.0.lowercased()) }
        for override in overrides { if let value = override.value { result.append((override.name, value)) } }
        return result
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

    public init(label: String, available: Bool, recommended: Bool, unavailableReason: String?) {
        self.label = label
        self.available = available
        self.recommended = recommended
        self.unavailableReason = unavailableReason
    }

    enum CodingKeys: String, CodingKey {
        case label, available, recommended, unavailableReason = "unavailable_reason"
    }
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
    /// The answer nobody documented that stopped the step (`quirkID` is then
    /// `WalkthroughEngine.unexpectedAnswerID`, and the remedies are the generic ones), not a flow rule.
    public var answer: UnexpectedAnswer?
    /// The index of the recommended remedy (the first available one).
    public var recommended: Int? { remedies.firstIndex { $0.recommended } }

    public init(
        quirkID: String, requestID: String, explanation: String, remedies: [RemedyOption], isTimeout: Bool = false,
        answer: UnexpectedAnswer? = nil
    ) {
        self.quirkID = quirkID
        self.requestID = requestID
        self.explanation = explanation
        self.remedies = remedies
        self.isTimeout = isTimeout
        self.answer = answer
    }

    enum CodingKeys: String, CodingKey {
        case quirkID = "quirk_id", requestID = "request_id", explanation, remedies, isTimeout = "is_timeout", answer
    }
}

/// An answer the flow does not know: a status outside the request's `expect` that no quirk rule
/// matches. It is kept whole (secrets masked) so that the person deciding sees all of it.
public struct UnexpectedAnswer: Codable, Sendable, Hashable {
    public var status: Int
    /// The body's `code`, when it is JSON and has one.
    public var code: String?
    /// The body's `message`, when it is JSON and has one.
    public var message: String?
    /// The body as received, pretty-printed when it is JSON, secrets masked (at most
    /// `UnexpectedAnswer.bodyLimit` characters).
    public var body: String
    /// The statuses the request expects.
    public var expected: [Int]

    /// The longest body kept (the exchange in the session holds it too).
    public static let bodyLimit = 8_000

    public init(status: Int, code: String?, message: String?, body: String, expected: [Int]) {
        self.status = status
        self.code = code
        self.message = message
        self.body = body
        self.expected = expected
    }

    /// The answer to `response`, with every value `redactor` knows masked.
    public init(_ response: ResponseSummary, expected: [Int], redactor: Redactor) {
        let body = response.json.map { redactor.redact($0).text(.pretty) } ?? redactor.redact(response.text)
        self.init(
            status: response.status, code: response.json?["code"]?.stringValue.map { redactor.redact($0) },
            message: response.json?["message"]?.stringValue.map { redactor.redact($0) },
            body: body.count > Self.bodyLimit
                ? String(body.prefix(Self.bodyLimit)) + "\n… (\(body.count - Self.bodyLimit) more characters)" : body,
            expected: expected
        )
    }
}

/// What the step is sending and why.
public struct ActiveRequest: Codable, Sendable, Hashable {
    public enum Origin: Sendable, Hashable {
        /// The step's own request at `requestIndex`.
        case flow
        /// A remedy's follow-up request.
        case remedy(quirk: String, remedy: Int)
        /// A prompt remedy's validation request.
        case validation(quirk: String, remedy: Int)
        /// A probe of an amount search, with the search so far.
        case probe(quirk: String, remedy: Int, search: AmountSearch)
    }

    public var origin: Origin
    public var request: RenderedRequest

    public init(origin: Origin, request: RenderedRequest) {
        self.origin = origin
        self.request = request
    }
}

extension ActiveRequest.Origin: Codable {
    enum CodingKeys: String, CodingKey {
        case kind, quirk, remedy, search
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        if kind == "flow" {
            self = .flow
            return
        }
        let quirk = try container.decode(String.self, forKey: .quirk)
        let remedy = try container.decode(Int.self, forKey: .remedy)
        switch kind {
        case "remedy": self = .remedy(quirk: quirk, remedy: remedy)
        case "validation": self = .validation(quirk: quirk, remedy: remedy)
        case "probe": self = .probe(quirk: quirk, remedy: remedy, search: try container.decode(AmountSearch.self, forKey: .search))
        default:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "unknown request origin '\(kind)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .flow: try container.encode("flow", forKey: .kind)
        case .remedy(let quirk, let remedy):
            try container.encode("remedy", forKey: .kind)
            try container.encode(quirk, forKey: .quirk)
            try container.encode(remedy, forKey: .remedy)
        case .validation(let quirk, let remedy):
            try container.encode("validation", forKey: .kind)
            try container.encode(quirk, forKey: .quirk)
            try container.encode(remedy, forKey: .remedy)
        case .probe(let quirk, let remedy, let search):
            try container.encode("probe", forKey: .kind)
            try container.encode(quirk, forKey: .quirk)
            try container.encode(remedy, forKey: .remedy)
            try container.encode(search, forKey: .search)
        }
    }
}

/// A remedy of a quirk, by the quirk's id and the remedy's index.
public struct PendingRemedy: Codable, Sendable, Hashable {
    public var quirk: String
    public var remedy: Int

    public init(quirk: String, remedy: Int) {
        self.quirk = quirk
        self.remedy = remedy
    }
}

/// Everything the engine keeps about one step: its phase (which carries the phase's own data)
/// and what the step remembers across phases.
public struct StepRecord: Codable, Sendable, Hashable {
    public var id: String
    public var title: String
    /// Where the step stands. Changed only by the engine, through `StepMachine`.
    public internal(set) var phase: StepPhase = .pending
    /// The flow request the step is at.
    public var requestIndex = 0
    /// Quirks a "keep waiting" remedy silenced for this step.
    public var suppressedQuirks: [String] = []
    /// Notes already shown in this step, so polling does not repeat them.
    public var notedQuirks: [String] = []
    /// How often each remedy was taken, to stop a loop.
    public var remedyUses: [String: Int] = [:]

    public init(id: String, title: String) {
        self.id = id
        self.title = title
    }

    /// The phase's name.
    public var state: StepState { phase.state }
    /// The request the phase holds.
    public var active: ActiveRequest? { phase.active }
    /// The quirk that stopped the step.
    public var blocked: BlockedQuirk? {
        switch phase {
        case .blocked(let blocked, _), .operating(_, let blocked, _): blocked
        default: nil
        }
    }
    /// Why the step failed.
    public var failure: String? {
        if case .failed(let message, _) = phase { return message }
        return nil
    }
    /// Why the last value given for the input was refused.
    public var inputError: String? {
        if case .awaitingInput(let ask) = phase { return ask.error }
        return nil
    }
    /// The wait in progress.
    public var wait: WaitProgress? {
        switch phase {
        case .sending(_, let wait): wait
        case .waiting(_, let wait): wait
        default: nil
        }
    }
    /// Polls made by the wait in progress.
    public var waitAttempt: Int { wait?.attempt ?? 0 }

    enum CodingKeys: String, CodingKey {
        case id, title, phase, requestIndex = "request_index", suppressedQuirks = "suppressed_quirks", notedQuirks = "noted_quirks",
            remedyUses = "remedy_uses"
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

    enum CodingKeys: String, CodingKey {
        case sequence, stepID = "step_id", requestID = "request_id", note, method, url, requestHeaders = "request_headers",
            requestBody = "request_body", status, responseHeaders = "response_headers", responseBody = "response_body", error,
            startedAt = "started_at", durationMilliseconds = "duration_ms"
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

    public init(at: Date, stepID: String, kind: Kind, quirkID: String?, text: String) {
        self.at = at
        self.stepID = stepID
        self.kind = kind
        self.quirkID = quirkID
        self.text = text
    }

    enum CodingKeys: String, CodingKey {
        case at, stepID = "step_id", kind, quirkID = "quirk_id", text
    }
}

/// The session file: a walkthrough's progress, enough to resume it anywhere.
///
/// Never holds a credential or a token: secret inputs and captures live in memory only, and
/// recorded exchanges are redacted before they get here.
public struct Session: Codable, Sendable {
    /// 2: step phases, snake_case keys throughout; 1 is read through `SessionV1`.
    public static let currentSchema = 2

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
    /// What a tour (`run --tour`) has already arranged, so a resumed tour does not arrange it
    /// twice (`ScenarioMoment.setupMark`, `bodyMark`); absent outside tours.
    public var scenarioMarks: [String]?

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
        case scenarioMarks = "scenario_marks"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let schema = try container.decodeIfPresent(Int.self, forKey: .schemaVersion) ?? 1
        if schema < 2 {
            self = try SessionV1(from: decoder).migrated()
            return
        }
        guard schema <= Self.currentSchema else {
            throw DecodingError.dataCorruptedError(
                forKey: .schemaVersion, in: container, debugDescription: "schema \(schema) is newer than \(Self.currentSchema)")
        }
        schemaVersion = schema
        name = try container.decode(String.self, forKey: .name)
        flowID = try container.decode(String.self, forKey: .flowID)
        flowTitle = try container.decode(String.self, forKey: .flowTitle)
        flowFile = try container.decode(String.self, forKey: .flowFile)
        target = try container.decode(SessionTarget.self, forKey: .target)
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        updatedAt = try container.decode(Date.self, forKey: .updatedAt)
        completedAt = try container.decodeIfPresent(Date.self, forKey: .completedAt)
        steps = try container.decode([StepRecord].self, forKey: .steps)
        cursor = try container.decode(Int.self, forKey: .cursor)
        inputs = try container.decodeIfPresent([String: String].self, forKey: .inputs) ?? [:]
        captures = try container.decodeIfPresent([String: JSONValue].self, forKey: .captures) ?? [:]
        idempotencyKeys = try container.decodeIfPresent([String: String].self, forKey: .idempotencyKeys) ?? [:]
        pinnedVersion = try container.decodeIfPresent(String.self, forKey: .pinnedVersion)
        exchanges = try container.decodeIfPresent([ExchangeRecord].self, forKey: .exchanges) ?? []
        events = try container.decodeIfPresent([SessionEvent].self, forKey: .events) ?? []
        receivedWebhooks = try container.decodeIfPresent([WebhookEventRecord].self, forKey: .receivedWebhooks)
        scenarioMarks = try container.decodeIfPresent([String].self, forKey: .scenarioMarks)
    }

    /// A session as loaded from parts (the migration of older files).
    init(
        name: String, flowID: String, flowTitle: String, flowFile: String, target: SessionTarget, createdAt: Date, updatedAt: Date,
        completedAt: Date?, steps: [StepRecord]
    ) {
        self.name = name
        self.flowID = flowID
        self.flowTitle = flowTitle
        self.flowFile = flowFile
        self.target = target
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.completedAt = completedAt
        self.steps = steps
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
