import ArgumentParser
import Foundation
import KiraClient
import KiraSandbox
import SessionStore
import ShippedFlows
import TerminalUI
import WalkthroughCore
import WalkthroughPresentation
import WalkthroughRunner

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Options every session command shares.
struct SessionOptions: ParsableArguments {
    @Option(help: "The session's name: one file per session.")
    var session = "default"

    @Option(
        help:
            "Where sessions live (default: $KIRA_WALKTHROUGH_STATE_DIR, $XDG_STATE_HOME/kira-walkthrough or ~/.local/state/kira-walkthrough)."
    )
    var stateDir: String?

    func validate() throws {
        guard SessionStore.isValidName(session) else {
            throw ValidationError("--session takes letters, digits, '.', '_' and '-', and may not end in .emulator")
        }
    }

    var store: SessionStore {
        SessionStore(directory: SessionStore.directory(explicit: stateDir, environment: ProcessInfo.processInfo.environment))
    }
}

/// `kira-walkthrough run`: the guided walkthrough.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the quickstart walkthrough (the default command).",
        discussion: """
            Exit codes: 0 complete, 3 blocked on something only a person can do, 1 error, 2 usage.
            """
    )

    @Flag(help: "Plain line mode (the default without a terminal).")
    var plain = false

    @Flag(help: "Unattended: take every default and recommended remedy.")
    var yes = false

    @OptionGroup var sessionOptions: SessionOptions

    @Option(help: "local (the embedded emulator; default without KIRA_API_KEY), sandbox (default with it), or a base URL.")
    var target: String?

    @Option(help: "A shipped flow's name (see `flows list`) or a flow file's path (default: quickstart).")
    var flow: String?

    @Option(help: "Longest wait for a condition (user verification, account readiness), in seconds.")
    var waitTimeout: Double?

    @OptionGroup var emulatorOptions: EmulatorOptions

    @Option(help: "Receive Kira webhooks on HOST:PORT (port 0 picks one); on an emulator the run registers it itself.")
    var webhookListen: String?

    @Flag(
        help:
            "The quirk tour: on the local emulator only, make the flow's quirks happen on purpose (the tour file beside the flow; session 'tour' unless --session names another)."
    )
    var tour = false

    /// `--webhook-listen` as host and port.
    var listenAddress: (host: String, port: Int)? {
        guard let webhookListen, let colon = webhookListen.lastIndex(of: ":"),
            let port = Int(webhookListen[webhookListen.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        let host = String(webhookListen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host.isEmpty ? nil : (host, port)
    }

    func validate() throws {
        if let waitTimeout, !(waitTimeout > 0) { throw ValidationError("--wait-timeout must be a positive number of seconds") }
        if webhookListen != nil, listenAddress == nil { throw ValidationError("--webhook-listen takes HOST:PORT, for example 127.0.0.1:0") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let flow = try FlowFile.load(flow)
        var sessionOptions = self.sessionOptions
        let store = sessionOptions.store
        var targetName = target ?? ((environment["KIRA_API_KEY"] ?? "").isEmpty ? "local" : "sandbox")
        var scenario: Scenario?
        if tour {
            // The tour is for the local emulator, whatever credentials the environment holds.
            if target == nil { targetName = "local" }
            try await TourFile.checkTarget(targetName)
            scenario = try TourFile.load(for: flow, flowArgument: self.flow)
            if sessionOptions.session == "default" { sessionOptions.session = "tour" }
        }
        guard ["local", "sandbox"].contains(targetName) || targetName.hasPrefix("http://") || targetName.hasPrefix("https://") else {
            throw ValidationError("--target is local, sandbox, or a base URL such as http://127.0.0.1:4010/sandbox")
        }
        try store.prepare()
        // A session file that cannot be read stops the run before the terminal is taken over,
        // explained, with the way to start over that keeps the file.
        do {
            _ = try store.load(sessionOptions.session)
        } catch {
            throw CommandFailure(
                message: """
                    \(error)
                      To start over and keep it as a backup: kira-walkthrough reset --session \(sessionOptions.session)\(sessionOptions.stateDir.map { " --state-dir \($0)" } ?? ""), then run again.
                    """)
        }
        let resume =
            "kira-walkthrough run\(tour ? " --tour" : "") --session \(sessionOptions.session)"
            + (sessionOptions.stateDir.map { " --state-dir \($0)" } ?? "") + (target.map { " --target \($0)" } ?? "")
        let setup = TargetSetup(
            name: targetName, environment: environment, store: store, session: sessionOptions.session,
            vaReadyAfter: emulatorOptions.vaReadyAfter,
            webhookListen: listenAddress, scenario: scenario
        )
        let interactive = isatty(STDIN_FILENO) == 1
        var outcome: RunOutcome?
        if !plain, !yes, interactive, isatty(STDOUT_FILENO) == 1 {
            let configuration = TerminalWalkthrough.Configuration(
                flowTitle: scenario.map { "\(flow.title) · \($0.title)" } ?? flow.title, sessionName: sessionOptions.session,
                targetLabel: targetName == "local"
                    ? "LOCAL EMULATOR" : (targetName == "sandbox" ? "https://api.balampay.com/sandbox" : targetName),
                isLocalEmulator: targetName == "local", stepTitles: flow.steps.map(\.title), stateDirectory: store.directory,
                environment: environment,
                quirkSummaries: Dictionary(flow.api.quirks.map { ($0.id, $0.summary) }, uniquingKeysWith: { first, _ in first }),
                raisableQuirkIDs: flow.raisableQuirkIDs
            )
            if let terminal = await TerminalWalkthrough.open(configuration) {
                let waitTimeout = self.waitTimeout
                let sessionName = sessionOptions.session
                outcome = await terminal.run { presenter in
                    await setup.run(flow: flow, sessionName: sessionName, presenter: presenter, waitTimeout: waitTimeout)
                }
                if outcome == nil { outcome = .quit }
            } else {
                printLine("(No usable terminal: running in plain line mode.)")
            }
        } else if !plain {
            printLine("(No terminal: running in plain line mode.)")
        }
        if outcome == nil {
            printLine(
                "kira-walkthrough · \(flow.title)\(scenario.map { " · \($0.title)" } ?? "") · session \(sessionOptions.session) · target \(setup.label)"
            )
            outcome = await setup.run(
                flow: flow, sessionName: sessionOptions.session, presenter: PlainPresenter(unattended: yes, interactive: interactive),
                waitTimeout: waitTimeout
            )
        }
        switch outcome ?? .quit {
        case .completed:
            printLine(
                "\n✓ Walkthrough complete: all \(flow.steps.count) steps done. `kira-walkthrough status --session \(sessionOptions.session)` shows what was kept."
            )
            // The same list as the terminal's last screen, `status` and the transcript.
            if let session = try? store.load(sessionOptions.session) {
                let met = QuirksMet(session: session, flow: flow)
                printLine("\nWhat you met: \(met.countLine)")
                for line in met.lines { printLine("  \(line)") }
            }
        case .blocked(let advice):
            printLine("\n⏸ Stopped: \(advice)\n  Progress is saved. Resume with: \(resume)")
            throw ExitCode(3)
        case .failed(let message):
            printError("kira-walkthrough: \(message)")
            printLine("  Progress is saved. Resume with: \(resume)")
            throw ExitCode(1)
        case .quit where yes || !interactive:
            // Unattended, stopping means something only a person can give was missing.
            printLine("\n⏸ Stopped: a person is needed to go on (see above).\n  Progress is saved. Resume with: \(resume)")
            throw ExitCode(3)
        case .quit:
            printLine("\nProgress is saved. Resume with: \(resume)")
        }
    }
}

/// Resolves a target and runs the walkthrough on it: for `local`, starts the embedded emulator
/// (state beside the session, demo credentials) first and stops it after.
struct TargetSetup: Sendable {
    var name: String
    var environment: [String: String]
    var store: SessionStore
    var session: String
    var vaReadyAfter: Double
    var webhookListen: (host: String, port: Int)?
    /// The tour to apply (`--tour`), if any.
    var scenario: Scenario? = nil

    var label: String {
        switch name {
        case "local": "LOCAL EMULATOR"
        case "sandbox": "https://api.balampay.com/sandbox"
        default: name
        }
    }

    func run(flow: Flow, sessionName: String, presenter: any WalkthroughPresenter, waitTimeout: Double?) async -> RunOutcome {
        var sources = InputSources(environment: environment)
        let resolved: ResolvedTarget
        var embedded: RunningSandbox?
        switch name {
        case "local":
            let configuration = SandboxConfiguration(
                virtualAccountReadyAfter: .seconds(vaReadyAfter), stateFile: store.emulatorStatePath(for: session)
            )
            do {
                // On the tour the emulator's clock stands still but for the tour's own moves and
                // the walkthrough's waits (clockFollowsWaits below): every quirk happens at the
                // same point of the flow however fast the machine is.
                let state = try SandboxState(configuration: configuration, clock: scenario == nil ? .system : .fixed(at: Date()))
                embedded = try await SandboxServer(state: state, host: "127.0.0.1", port: 0).start()
            } catch {
                return .failed("Cannot start the embedded emulator: \(error)")
            }
            let demo = TenantCredentials.demo
            // The emulator's demo tenant, not whatever KIRA_* credentials the environment holds.
            for variable in ["KIRA_API_KEY", "KIRA_CLIENT_ID", "KIRA_PASSWORD"] { sources.environment[variable] = nil }
            sources.demoCredentials = [.apiKey: demo.apiKey, .clientID: demo.clientID, .password: demo.password]
            resolved = ResolvedTarget(kind: "local", baseURL: embedded!.address.baseURL, isEmulator: true)
        case "sandbox":
            resolved = ResolvedTarget(kind: "sandbox", baseURL: "https://api.balampay.com/sandbox", isEmulator: false)
        default:
            var base = name
            while base.hasSuffix("/") { base.removeLast() }
            resolved = ResolvedTarget(kind: "url", baseURL: base, isEmulator: await EmulatorControls.isEmulator(base))
        }
        var run = WalkthroughRun(
            flow: flow, store: store, sessionName: sessionName, target: resolved, sources: sources, presenter: presenter,
            waitTimeout: waitTimeout
        )
        run.webhookListen = webhookListen
        run.scenario = scenario
        run.clockFollowsWaits = scenario != nil && embedded != nil
        let outcome = await run.run()
        await embedded?.stop()
        return outcome
    }
}

/// A failure already explained to the person: exit code 1.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Loading the flow a command names.
enum FlowFile {
    /// Loads `--flow`'s flow (a shipped flow's name or a path; the shipped quickstart when `nil`).
    static func load(_ argument: String?) throws -> Flow {
        let source: FlowSource
        do {
            source = try FlowSource.resolve(argument)
        } catch {
            throw CommandFailure(message: error.description)
        }
        return try load(source)
    }

    /// Loads `source`, its problems explained.
    static func load(_ source: FlowSource) throws -> Flow {
        guard source.data != nil else { throw CommandFailure(message: "Cannot read the flow file \(source.label)") }
        do {
            return try source.load()
        } catch {
            throw CommandFailure(message: "The flow is not valid:\n\(error)")
        }
    }
}
