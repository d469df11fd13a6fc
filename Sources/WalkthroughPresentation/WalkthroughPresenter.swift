import Foundation
import KiraJSON
import WalkthroughCore

/// How a run ended; the command turns it into an exit code.
public enum RunOutcome: Sendable, Equatable {
    /// Every step is over.
    case completed
    /// Only a person can go on (exit code 3).
    case blocked(String)
    /// An error (exit code 1).
    case failed(String)
    /// The person stopped; the session is saved.
    case quit
}

/// What the person chose after a failed step.
public enum FailureChoice: Sendable {
    case retry, skip, quit
}

/// What to do with a previewed request.
public enum SendDecision: Sendable {
    case send
    /// Send this body instead (edited by the person).
    case edit(JSONValue)
    case quit
}

/// How a wait between polls ended.
public enum WaitResult: Sendable {
    /// The interval passed: poll again.
    case elapsed
    /// The person stopped waiting: the step fails (retry polls again).
    case cancelled
    /// The person quit: the step stays waiting on disk, and a resumed run polls again.
    case quit
}

/// How a run talks to the person: the plain line mode and the terminal interface both implement
/// it. It lives apart from the runner so that a presenter, and its tests, build without the
/// network stack.
///
/// Every method returning a decision may return `nil` (or `.quit`) to stop the run; the session is
/// saved already, so stopping is always safe.
public protocol WalkthroughPresenter: Sendable {
    /// A step begins (or resumes in `state`).
    func stepStarted(index: Int, of total: Int, step: FlowStep, state: StepState) async
    /// A step the run passed through ended (succeeded or skipped) before anything was shown for it.
    func stepFinished(index: Int, state: StepState) async
    /// The session after a transition, and when the token expires (for a status line).
    func sessionChanged(_ session: Session, tokenExpiresAt: Date?) async
    /// The request about to be sent, unmasked (memory only): the presenter masks what it shows
    /// (`RequestPreview.masked`).
    func requestPreview(_ preview: RequestPreview) async
    /// Send the previewed request, send an edited body, or stop.
    func sendDecision() async -> SendDecision
    /// An exchange happened (retries and re-authentication included).
    func exchange(_ exchange: ExchangeRecord) async
    /// Values captured from the last response.
    func captured(_ captures: [(name: String, value: String)]) async
    /// Notes, quirks met, remedies taken.
    func events(_ events: [SessionEvent]) async
    /// A value is needed.
    func ask(_ input: InputRequest) async -> String?
    /// A quirk blocks the step.
    func choose(_ blocked: BlockedQuirk) async -> Int?
    /// An interrupted request without an idempotency key: send it again?
    func askResend(_ request: RenderedRequest) async -> Bool?
    /// The step failed.
    func failed(stepID: String, message: String) async -> FailureChoice
    /// Wait `seconds` before the next poll (attempt `attempt`, waiting on `quirk`).
    func wait(seconds: Double, attempt: Int, quirk: String?, explain: String?) async -> WaitResult
    /// An operator action is performed on the emulator.
    func operatorAction(_ action: OperatorRequest) async
    /// A webhook arrived at the run's listener.
    func webhookReceived(_ record: WebhookEventRecord) async
    /// A line of information (resume notices, rejected engine events and the like).
    func notice(_ text: String) async
}

extension RequestPreview {
    /// The headers and body with every secret replaced by the recorded mask (`[REDACTED]`).
    public var masked: (headers: [(name: String, value: String)], body: JSONValue?) {
        let redactor = Redactor(values: secrets)
        let headers = redactor.redact(headers: self.headers.map { ($0.name, $0.value) }).map { (name: $0[0], value: $0[1]) }
        return (headers, body.map { redactor.redact($0) })
    }
}
