import ArgumentParser
import Foundation
import KiraJSON
import SessionStore
import WalkthroughCore
import WalkthroughPresentation

/// `kira-walkthrough drift`: where the emulator's answers differ in shape from a session's
/// recorded ones. The flow runs again, unattended, on a fresh embedded emulator (no credentials,
/// nothing kept), and `ShapeDrift` compares each request's last answer on both sides: status codes,
/// field paths, JSON types and the casing of enum-like strings. Values never show.
struct Drift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the shapes of a session's recorded answers with the local emulator's answers to the same flow.",
        discussion: """
            Each difference prints as STEP/REQUEST: PATH: recorded … emulator … (shapes only: status codes, \
            field paths, JSON types, the casing of enum-like values; never values or secrets). \
            Exit codes: 0 no difference, 1 differences (or an error), 2 usage (no such session). \
            Run it on a session recorded against the real sandbox to show where the emulator is wrong.
            """
    )

    @OptionGroup var sessionOptions: SessionOptions

    @Flag(
        help:
            "As JSON: {\"session\",\"compared\",\"not_compared\",\"differences\":[{\"step\",\"request\",\"path\",\"recorded\",\"emulator\"}]}."
    )
    var json = false

    @Option(help: "The flow file (default: flows/quickstart.yaml).")
    var flow: String?

    func run() async throws {
        let store = sessionOptions.store
        let recorded: Session?
        do {
            recorded = try store.load(sessionOptions.session)
        } catch {
            throw CommandFailure(message: "\(error)")
        }
        guard let recorded else {
            printError("kira-walkthrough: no session '\(sessionOptions.session)' in \(store.directory) (see `kira-walkthrough sessions`).")
            throw ExitCode(2)
        }
        let flow = try FlowFile.load(flow)
        guard recorded.flowID == flow.id else {
            printError("kira-walkthrough: session '\(recorded.name)' belongs to flow '\(recorded.flowID)', not '\(flow.id)' (use --flow).")
            throw ExitCode(2)
        }
        let emulator = try await Self.emulatorExchanges(flow: flow)
        let report = ShapeDrift.compare(recorded: recorded.exchanges, emulator: emulator)
        if json {
            let differences = (try? JSONValueEncoder().encode(report.differences)) ?? .array([])
            let output: JSONValue = [
                "session": .string(recorded.name), "compared": .array(report.compared.map { .string($0) }),
                "not_compared": .array(report.notCompared.map { .string($0) }), "differences": differences,
            ]
            printLine(output.text(.pretty))
        } else {
            for difference in report.differences { printLine(difference.description) }
            if !report.notCompared.isEmpty {
                printLine("Not compared (the emulator's run never sent them): " + report.notCompared.joined(separator: ", "))
            }
            printLine(
                report.differences.isEmpty
                    ? "No drift: \(report.compared.count) answers of session '\(recorded.name)' have the emulator's shapes."
                    : "\(report.differences.count) difference(s) over \(report.compared.count) answers of session '\(recorded.name)'.")
        }
        if !report.differences.isEmpty { throw ExitCode(1) }
    }

    /// The exchanges of the flow run unattended on a fresh embedded emulator (its demo tenant, no
    /// environment, a state directory removed afterwards).
    static func emulatorExchanges(flow: Flow) async throws -> [ExchangeRecord] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kira-drift-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = SessionStore(directory: directory)
        try store.prepare()
        let setup = TargetSetup(name: "local", environment: [:], store: store, session: "drift", vaReadyAfter: 0.3, webhookListen: nil)
        let outcome = await setup.run(flow: flow, sessionName: "drift", presenter: DriftRunPresenter(), waitTimeout: 120)
        guard let session = try store.load("drift") else {
            throw CommandFailure(message: "The emulator's run recorded nothing: \(outcome)")
        }
        return session.exchanges
    }
}

/// The emulator's run for `drift`: unattended and silent (defaults, recommended remedies).
struct DriftRunPresenter: WalkthroughPresenter {
    func stepStarted(index: Int, of total: Int, step: FlowStep, state: StepState) async {}
    func stepFinished(index: Int, state: StepState) async {}
    func sessionChanged(_ session: Session, tokenExpiresAt: Date?) async {}
    func requestPreview(_ preview: RequestPreview) async {}
    func sendDecision() async -> SendDecision { .send }
    func exchange(_ exchange: ExchangeRecord) async {}
    func captured(_ captures: [(name: String, value: String)]) async {}
    func events(_ events: [SessionEvent]) async {}
    func ask(_ input: InputRequest) async -> String? {
        guard input.error == nil else { return nil }
        return input.defaultValue ?? (input.optional ? "" : nil)
    }
    func choose(_ blocked: BlockedQuirk) async -> Int? { blocked.recommended }
    func askResend(_ request: RenderedRequest) async -> Bool? { true }
    func failed(stepID: String, message: String) async -> FailureChoice { .quit }
    func wait(seconds: Double, attempt: Int, quirk: String?, explain: String?) async -> WaitResult {
        try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        return Task.isCancelled ? .quit : .elapsed
    }
    func operatorAction(_ action: OperatorRequest) async {}
    func webhookReceived(_ record: WebhookEventRecord) async {}
    func notice(_ text: String) async {}
}
