import KiraJSON
import WalkthroughCore

/// What the person chose after a failed step.
public enum FailureChoice: Sendable {
    case retry, skip, quit
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
}
