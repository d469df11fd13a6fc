import Foundation
import KiraJSON

/// A value the engine needs from the person.
public struct InputRequest: Sendable, Hashable {
    public var name: String
    public var prompt: String
    public var secret: Bool
    /// A proposal the person can accept (unattended runs take it).
    public var defaultValue: String?
    public var format: FlowInput.Format
    public var optional: Bool
    /// Why the last value was refused.
    public var error: String?
    /// The step asking.
    public var stepID: String
    /// The environment variable that could provide it.
    public var env: String?
}

/// An operator action to perform on the emulator.
public struct OperatorRequest: Sendable, Hashable {
    public var verb: OperatorAction.Verb
    public var id: String
    public var label: String
}

/// What happens to the engine from outside: each public event method is one of these.
public enum EngineEvent: String, Sendable, CaseIterable, Codable {
    case provideInput = "provide_input"
    case confirm
    case replaceBody = "replace_body"
    case resend
    case received
    case transportFailed = "transport_failed"
    case pollDue = "poll_due"
    case chooseRemedy = "choose_remedy"
    case operatorFinished = "operator_finished"
    case retry
    case skip
    case cancelWait = "cancel_wait"
    case webhookArrived = "webhook_arrived"
}

/// An event that made no sense in the current phase: nothing changed.
public struct RejectedEvent: Sendable, Hashable, CustomStringConvertible {
    public var event: EngineEvent
    /// The current step, `nil` when every step is over.
    public var stepID: String?
    public var state: StepState?

    public var description: String {
        guard let stepID, let state else { return "\(event.rawValue) ignored: every step is over" }
        return "\(event.rawValue) ignored: step \(stepID) is \(state.rawValue), where it is not accepted"
    }
}

/// What the driver must do next. The engine never does IO: it says what is needed and waits for
/// the matching event.
public indirect enum EngineAction: Sendable, Hashable {
    /// Ask for a value, then call `provide(input:value:now:)`.
    case needInput(InputRequest)
    /// Show the request; on the person's go-ahead call `confirm(now:)`.
    case confirm(RenderedRequest)
    /// Send it now (its `sending` phase is already in the session), then call `received(_:now:)`
    /// or `transportFailed(_:now:)`.
    case send(RenderedRequest)
    /// A request without idempotency was interrupted mid-flight: ask whether to send it again,
    /// then call `resend(_:now:)`.
    case askResend(RenderedRequest)
    /// Wait this many seconds, then call `pollDue(now:)`.
    case poll(after: Double, RenderedRequest)
    /// A quirk stopped the step: offer the remedies, then call `choose(remedy:now:)`.
    case blocked(BlockedQuirk)
    /// Perform an operator action, then call `operatorFinished(error:now:)`.
    case performOperator(OperatorRequest)
    /// The step failed: offer retry, skip or quit.
    case failed(stepID: String, message: String)
    /// Only a person can go on (exit code 3 unattended).
    case stopped(advice: String)
    /// Wait (bounded) for a webhook from the run's listener, then call `webhookArrived(_:listening:now:)`.
    case awaitWebhook(WebhookExpectation)
    /// Every step is over.
    case finished
    /// The event was not legal in the current phase and changed nothing (log it); then do `then`.
    case rejected(RejectedEvent, then: EngineAction)
}

/// Where the values of `{{ references }}` come from besides the session.
public struct InputSources: Sendable {
    /// Environment variables.
    public var environment: [String: String]
    /// Credentials of the embedded emulator's demo tenant, on a local target.
    public var demoCredentials: [Credential: String]

    public init(environment: [String: String] = [:], demoCredentials: [Credential: String] = [:]) {
        self.environment = environment
        self.demoCredentials = demoCredentials
    }
}

/// A request the engine waits on as a webhook.
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
