import Foundation
import KiraJSON

/// Where a step stands: the name of its `StepPhase`, what the session file, `status` and the
/// screens show. The legal changes between them are `StepMachine.transitions`.
public enum StepState: String, Codable, Sendable, CaseIterable {
    /// Not started.
    case pending
    /// A value is needed from the person.
    case awaitingInput = "awaiting_input"
    /// A request is rendered and waits for the person's go-ahead.
    case ready
    /// A request is in flight (its key and this state are saved before it leaves).
    case sending
    /// Between two polls of a wait.
    case waiting
    /// The step's request succeeded; its webhook is awaited (bounded, optional).
    case awaitingWebhook = "awaiting_webhook"
    /// An operator action on the emulator is in flight.
    case operating
    /// A known quirk stopped the step; remedies are offered.
    case blocked
    case failed
    case succeeded
    case skipped

    /// The step is over, one way or another.
    public var isFinal: Bool { self == .succeeded || self == .skipped }
}

/// The input a step is asking for.
public struct InputAsk: Codable, Sendable, Hashable {
    public var name: String
    /// Why the last value (or the environment's) was refused.
    public var error: String?
    /// The prompt remedy the value is for, when it is one.
    public var remedy: PendingRemedy?

    public init(name: String, error: String? = nil, remedy: PendingRemedy? = nil) {
        self.name = name
        self.error = error
        self.remedy = remedy
    }
}

/// How far a wait (repeating a request until a condition holds) has gone.
public struct WaitProgress: Codable, Sendable, Hashable {
    /// When the wait began; `nil` until its first answer came.
    public var startedAt: Date?
    /// Polls made so far.
    public var attempt: Int

    public init(startedAt: Date?, attempt: Int) {
        self.startedAt = startedAt
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case startedAt = "started_at", attempt
    }
}

/// A step's phase: each case carries exactly the data that phase needs, so no field can say one
/// thing while the state says another. Every change goes through `StepMachine`.
public enum StepPhase: Sendable, Hashable {
    case pending
    case awaitingInput(InputAsk)
    case ready(ActiveRequest)
    /// In flight; `wait` when the request repeats until a condition holds.
    case sending(ActiveRequest, wait: WaitProgress?)
    /// The next poll of `ActiveRequest` is due later.
    case waiting(ActiveRequest, WaitProgress)
    case awaitingWebhook
    /// The operator action of a remedy is in flight; the step was blocked on `blocked`.
    case operating(PendingRemedy, blocked: BlockedQuirk, active: ActiveRequest?)
    /// `active` is the request that met the quirk, sent again when a new run checks again.
    case blocked(BlockedQuirk, active: ActiveRequest?)
    case failed(message: String, active: ActiveRequest?)
    case succeeded
    case skipped

    /// The phase's name.
    public var state: StepState {
        switch self {
        case .pending: .pending
        case .awaitingInput: .awaitingInput
        case .ready: .ready
        case .sending: .sending
        case .waiting: .waiting
        case .awaitingWebhook: .awaitingWebhook
        case .operating: .operating
        case .blocked: .blocked
        case .failed: .failed
        case .succeeded: .succeeded
        case .skipped: .skipped
        }
    }

    /// The request the phase holds.
    public var active: ActiveRequest? {
        switch self {
        case .ready(let active), .sending(let active, _), .waiting(let active, _): active
        case .operating(_, _, let active), .blocked(_, let active), .failed(_, let active): active
        case .pending, .awaitingInput, .awaitingWebhook, .succeeded, .skipped: nil
        }
    }
}

extension StepPhase: Codable {
    enum CodingKeys: String, CodingKey {
        case state, request, wait, input, quirk, remedy, message
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let state = try container.decode(StepState.self, forKey: .state)
        func active() throws -> ActiveRequest { try container.decode(ActiveRequest.self, forKey: .request) }
        let optionalActive = try container.decodeIfPresent(ActiveRequest.self, forKey: .request)
        switch state {
        case .pending: self = .pending
        case .awaitingInput: self = .awaitingInput(try container.decode(InputAsk.self, forKey: .input))
        case .ready: self = .ready(try active())
        case .sending: self = .sending(try active(), wait: try container.decodeIfPresent(WaitProgress.self, forKey: .wait))
        case .waiting: self = .waiting(try active(), try container.decode(WaitProgress.self, forKey: .wait))
        case .awaitingWebhook: self = .awaitingWebhook
        case .operating:
            self = .operating(
                try container.decode(PendingRemedy.self, forKey: .remedy), blocked: try container.decode(BlockedQuirk.self, forKey: .quirk),
                active: optionalActive)
        case .blocked: self = .blocked(try container.decode(BlockedQuirk.self, forKey: .quirk), active: optionalActive)
        case .failed: self = .failed(message: try container.decode(String.self, forKey: .message), active: optionalActive)
        case .succeeded: self = .succeeded
        case .skipped: self = .skipped
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
        try container.encodeIfPresent(active, forKey: .request)
        switch self {
        case .awaitingInput(let ask): try container.encode(ask, forKey: .input)
        case .sending(_, let wait): try container.encodeIfPresent(wait, forKey: .wait)
        case .waiting(_, let wait): try container.encode(wait, forKey: .wait)
        case .operating(let remedy, let blocked, _):
            try container.encode(remedy, forKey: .remedy)
            try container.encode(blocked, forKey: .quirk)
        case .blocked(let blocked, _): try container.encode(blocked, forKey: .quirk)
        case .failed(let message, _): try container.encode(message, forKey: .message)
        case .pending, .ready, .awaitingWebhook, .succeeded, .skipped: break
        }
    }
}
