import Foundation
import KiraJSON
import WalkthroughCore

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

/// How a run talks to the person: the plain line mode and the terminal UI both implement it.
///
/// Every method returning a decision may return `nil` (or `.quit`) to stop the run; the session is
/// saved already, so stopping is always safe.
public protocol WalkthroughPresenter: Sendable {
    /// A step begins (or resumes).
    func stepStarted(index: Int, of total: Int, step: FlowStep, state: StepState) async
    /// The request about to be sent, as it will look on the wire (secrets masked). `confirm` says
    /// whether the presenter must ask before it goes.
    func requestPreview(url: String, method: String, headers: [(String, String)], body: JSONValue?, label: String?) async
    /// Whether to send the previewed request.
    func confirmSend() async -> Bool
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
    /// Polling: the next attempt comes after `seconds`.
    func waiting(seconds: Double, attempt: Int, quirk: String?, explain: String?) async
    /// An operator action is performed on the emulator.
    func operatorAction(_ action: OperatorRequest) async
    /// A line of information (resume notices and the like).
    func notice(_ text: String) async

    /// The request about to be sent, unmasked (memory only); the presenter masks what it shows.
    func requestPreview(_ preview: RequestPreview) async
    /// Send the previewed request, send an edited body, or stop.
    func sendDecision() async -> SendDecision
    /// Wait `seconds` before the next poll.
    func wait(seconds: Double, attempt: Int, quirk: String?, explain: String?) async -> WaitResult
    /// The session after a transition, and when the token expires (for a status line).
    func sessionChanged(_ session: Session, tokenExpiresAt: Date?) async
    /// A webhook arrived at the run's listener.
    func webhookReceived(_ record: WebhookEventRecord) async
    /// A step the run passed through ended (succeeded or skipped) before anything was shown for it.
    func stepFinished(index: Int, state: StepState) async
}

extension WalkthroughPresenter {
    /// Masks with the recorded form (`[REDACTED]`) and forwards to the simpler preview.
    public func requestPreview(_ preview: RequestPreview) async {
        let redactor = Redactor(values: preview.secrets)
        await requestPreview(
            url: preview.url, method: preview.method,
            headers: redactor.redact(headers: preview.headers.map { ($0.name, $0.value) }).map { ($0[0], $0[1]) },
            body: preview.body.map { redactor.redact($0) }, label: preview.label
        )
    }

    public func sendDecision() async -> SendDecision { await confirmSend() ? .send : .quit }

    public func wait(seconds: Double, attempt: Int, quirk: String?, explain: String?) async -> WaitResult {
        await waiting(seconds: seconds, attempt: attempt, quirk: quirk, explain: explain)
        try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        return Task.isCancelled ? .quit : .elapsed
    }

    public func sessionChanged(_ session: Session, tokenExpiresAt: Date?) async {}

    public func stepFinished(index: Int, state: StepState) async {}

    public func webhookReceived(_ record: WebhookEventRecord) async {}
}
