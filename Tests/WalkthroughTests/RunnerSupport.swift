import AsyncHTTPClient
import Foundation
import KiraJSON
import KiraTestSupport
import NIOCore
import NIOHTTP1
import SessionStore
import Testing
import WalkthroughPresentation

@testable import KiraSandbox
@testable import WalkthroughCore
@testable import WalkthroughRunner

/// An unattended presenter that records what a run showed, with hooks to act mid-run.
actor RecordingPresenter: WalkthroughPresenter {
    var previews: [String] = []
    var exchanges: [ExchangeRecord] = []
    var events: [SessionEvent] = []
    var blocked: [BlockedQuirk] = []
    var notices: [String] = []
    /// Remedy to take per quirk id (default: the recommended one).
    var remedyFor: [String: Int] = [:]
    /// Runs before a request whose URL ends with the key is confirmed (once).
    var hooks: [String: @Sendable () async -> Void] = [:]
    var pendingHook: (@Sendable () async -> Void)?
    /// Run once, before the first wait between polls on that quirk (`Q-VA-READY`).
    var waitHooks: [String: @Sendable () async -> Void] = [:]

    init(remedyFor: [String: Int] = [:]) { self.remedyFor = remedyFor }

    func hook(_ suffix: String, _ action: @escaping @Sendable () async -> Void) { hooks[suffix] = action }
    /// Runs `action` once, when the run first waits between polls on `quirk`.
    func hookWait(on quirk: String, _ action: @escaping @Sendable () async -> Void) { waitHooks[quirk] = action }

    func stepStarted(index: Int, of total: Int, step: FlowStep, state: StepState) async {}
    func stepFinished(index: Int, state: StepState) async {}
    /// The token's expiry as the last `sessionChanged` gave it.
    var tokenExpiresAt: Date?
    /// For each preview, whether a token expiry was known when it was shown.
    var tokenKnownAtPreview: [Bool] = []
    func sessionChanged(_ session: Session, tokenExpiresAt: Date?) async { self.tokenExpiresAt = tokenExpiresAt }
    func requestPreview(_ preview: RequestPreview) async {
        previews.append("\(preview.method) \(preview.url)")
        tokenKnownAtPreview.append(tokenExpiresAt != nil)
        if let key = hooks.keys.first(where: { preview.url.hasSuffix($0) }) {
            pendingHook = hooks.removeValue(forKey: key)
        }
    }
    func sendDecision() async -> SendDecision {
        if let hook = pendingHook {
            pendingHook = nil
            await hook()
        }
        return .send
    }
    func exchange(_ exchange: ExchangeRecord) async { exchanges.append(exchange) }
    func captured(_ captures: [(name: String, value: String)]) async {}
    func events(_ events: [SessionEvent]) async { self.events += events }
    func ask(_ input: InputRequest) async -> String? { input.defaultValue ?? (input.optional ? "" : nil) }
    func choose(_ blocked: BlockedQuirk) async -> Int? {
        self.blocked.append(blocked)
        // A run that keeps meeting blocks is stuck: quit, so a failing test ends.
        guard self.blocked.count <= 50 else { return nil }
        // The given remedy while it is available, then the recommended one.
        if let choice = remedyFor[blocked.quirkID], blocked.remedies.indices.contains(choice), blocked.remedies[choice].available {
            return choice
        }
        return blocked.recommended
    }
    func askResend(_ request: RenderedRequest) async -> Bool? { true }
    func failed(stepID: String, message: String) async -> FailureChoice { .quit }
    /// Moves the emulator's clock on by the waited seconds (set by `WalkthroughFixture.run`).
    var emulatorClock: (@Sendable (Double) async -> Void)?

    func setEmulatorClock(_ advance: @escaping @Sendable (Double) async -> Void) { emulatorClock = advance }

    /// A wait happens on the emulator's clock: it moves on by `seconds` at once, so whatever
    /// becomes due then (readiness, verification, expiry) is due at the next poll however loaded
    /// the machine is. A short real pause lets the runner's own deadlines (its wait timeout, in
    /// real time) still come.
    func wait(seconds: Double, attempt: Int, quirk: String?, explain: String?) async -> WaitResult {
        if let quirk, let hook = waitHooks.removeValue(forKey: quirk) { await hook() }
        if let emulatorClock {
            await emulatorClock(seconds)
            try? await Task.sleep(for: .milliseconds(20))
        } else {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        }
        return Task.isCancelled ? .quit : .elapsed
    }
    func webhookReceived(_ record: WebhookEventRecord) async {}
    func operatorAction(_ action: OperatorRequest) async {}
    func notice(_ text: String) async { notices.append(text) }
}

/// An emulator on loopback and a fresh state directory for one walkthrough test.
///
/// The emulator runs on its controllable clock, standing still until moved: by the presenter's
/// waits (`RecordingPresenter.wait`) and by `advanceClock`, both through `POST /__emulator/clock`.
/// Nothing a test checks depends on how fast the machine is.
struct WalkthroughFixture: Sendable {
    let running: RunningSandbox
    let store: SessionStore

    static func with<T: Sendable>(
        _ configuration: SandboxConfiguration = SandboxConfiguration(virtualAccountReadyAfter: .milliseconds(300)),
        _ body: (WalkthroughFixture) async throws -> T
    ) async throws -> T {
        // On the computing threads: a walkthrough computes (flows, sessions, bodies) between its
        // requests, and dozens run at once (see TestThreads).
        try await TestThreads.compute {
            let state = try SandboxState(configuration: configuration, clock: .fixed(at: Date()))
            let server = try SandboxServer(state: state, host: "127.0.0.1", port: 0, sleep: TestThreads.sleeper)
            let running = try await server.start(on: TestThreads.computing)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kira-walkthrough-\(UUID().uuidString)").path
            let fixture = WalkthroughFixture(running: running, store: SessionStore(directory: directory))
            do {
                let result = try await body(fixture)
                await running.stop()
                return result
            } catch {
                await running.stop()
                throw error
            }
        }
    }

    var baseURL: String { running.address.baseURL }
    var root: String { "http://127.0.0.1:\(running.address.port)" }

    /// Runs a flow to its end with `presenter`.
    func run(
        _ flow: Flow, presenter: RecordingPresenter, environment: [String: String] = [:], isEmulator: Bool = true,
        waitTimeout: Double? = nil, session: String = "test", configure: (inout WalkthroughRun) -> Void = { _ in }
    ) async -> RunOutcome {
        let demo = TenantCredentials.demo
        var run = WalkthroughRun(
            flow: flow, store: store, sessionName: session,
            target: ResolvedTarget(kind: "url", baseURL: baseURL, isEmulator: isEmulator),
            sources: InputSources(
                environment: environment, demoCredentials: [.apiKey: demo.apiKey, .clientID: demo.clientID, .password: demo.password]
            ),
            presenter: presenter, waitTimeout: waitTimeout
        )
        configure(&run)
        let fixture = self
        await presenter.setEmulatorClock { seconds in try? await fixture.advanceClock(seconds: seconds) }
        return await run.run()
    }

    /// Counts per kind for the demo tenant.
    func counts() async -> [String: Int] {
        let summary = await running.state.stateSummary()
        guard let tenant = summary["tenants"]?.arrayValue?.first else { return [:] }
        var counts: [String: Int] = [:]
        for key in ["users", "virtual_accounts", "recipients", "payouts", "deposits"] { counts[key] = tenant[key]?.intValue }
        return counts
    }

    /// A call to the API as the demo tenant, outside the walkthrough.
    func call(_ method: String, _ path: String, body: JSONValue? = nil, key: String? = nil) async throws -> JSONValue {
        let demo = TenantCredentials.demo
        var auth = HTTPClientRequest(url: baseURL + "/auth")
        auth.method = .POST
        auth.headers.add(name: "x-api-key", value: demo.apiKey)
        auth.body = .bytes(
            ByteBuffer(bytes: JSONValue.object(["client_id": .string(demo.clientID), "password": .string(demo.password)]).serialized()))
        let authResponse = try await HTTPClient.shared.execute(auth, timeout: .seconds(5))
        let token =
            try JSONValue.parse(Array(buffer: try await authResponse.body.collect(upTo: 1 << 20)))["data"]?["access_token"]?.stringValue
            ?? ""
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "x-api-key", value: demo.apiKey)
        request.headers.add(name: "authorization", value: "Bearer \(token)")
        if let key { request.headers.add(name: "idempotency-key", value: key) }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.serialized()))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        return (try? JSONValue.parse(Array(buffer: try await response.body.collect(upTo: 1 << 20)))) ?? .null
    }

    /// Moves the emulator's clock on through `POST /__emulator/clock`.
    func advanceClock(seconds: Double) async throws {
        var advance = HTTPClientRequest(url: root + "/__emulator/clock")
        advance.method = .POST
        advance.headers.add(name: "content-type", value: "application/json")
        advance.body = .bytes(ByteBuffer(bytes: JSONValue.object(["advance_seconds": .number(String(seconds))]).serialized()))
        let response = try await HTTPClient.shared.execute(advance, timeout: .seconds(5))
        #expect(response.status == .ok)
    }

    /// `POST /__emulator/PATH`, the operator's controls; the answer's JSON.
    @discardableResult
    func control(_ path: String, body: JSONValue? = nil) async throws -> JSONValue {
        var request = HTTPClientRequest(url: root + "/__emulator/" + path)
        request.method = .POST
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.serialized()))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let json = (try? JSONValue.parse(Array(buffer: try await response.body.collect(upTo: 1 << 20)))) ?? .null
        #expect((200..<300).contains(Int(response.status.code)), "POST /__emulator/\(path): \(json)")
        return json
    }

    /// Every file in the state directory, as one string.
    func stateDirectoryContents() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: store.directory)) ?? []
        return files.compactMap { try? String(contentsOfFile: store.directory + "/" + $0, encoding: .utf8) }.joined(separator: "\n")
    }
}
