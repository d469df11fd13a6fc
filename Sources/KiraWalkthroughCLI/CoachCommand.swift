import ArgumentParser
import AsyncHTTPClient
import Coach
import Foundation
import KiraJSON
import KiraSandbox
import NIOCore
import NIOHTTP1
import ShippedFlows
import TerminalUI

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `kira-walkthrough coach`: the emulator, watching the requests of the integrator's own program.
struct CoachCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coach",
        abstract: "Serve the local emulator and check the requests your own program sends to it.",
        discussion: """
            `coach` (or `coach watch`) takes every option of `sandbox serve` (--host, --port, --api-key, \
            --client-id, --password, --tenants, --token-ttl, --va-ready-after, --auto-verify-after, \
            --state-file, …) and prints the same readiness line. In a terminal it shows the quickstart's \
            checklist, the requests as they arrive and the findings; with --plain, or without a terminal, \
            one line per event. `coach report --url BASE_URL` prints a running coach's report.
            """,
        subcommands: [Watch.self, Report.self],
        defaultSubcommand: Watch.self
    )
}

extension CoachCommand {
    /// `coach watch`: serves and watches.
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the emulator and watch the requests (the default).",
            discussion: "Every option of `sandbox serve` is accepted; see `kira-walkthrough sandbox serve --help`."
        )

        @Flag(help: "One line per event instead of the full-screen view.")
        var plain = false

        @Flag(help: "No colours in the full-screen view (also NO_COLOR).")
        var noColor = false

        @Option(help: "The coach's rules (default: flows/coach.yaml).")
        var rules: String?

        @Option(help: "How many requests the coach keeps.")
        var keep = 1000

        @Argument(parsing: .allUnrecognized, help: "Options of `sandbox serve`.")
        var serveArguments: [String] = []

        func validate() throws {
            guard keep >= 1 else { throw ValidationError("--keep must be at least 1") }
        }

        func run() async throws {
            let serve: Sandbox.Serve
            do {
                serve = try Sandbox.Serve.parse(serveArguments)
            } catch {
                throw ValidationError(Sandbox.Serve.message(for: error))
            }
            let coachRules = try CoachFile.load(rules)
            let (server, configuration) = try serve.makeEmulator()
            await server.state.enableCoach(rules: coachRules, limit: keep)
            let useScreen = !plain && isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
            let state = server.state
            if useScreen {
                let running = try await server.start()
                // Printed before the screen takes over, so it stays in the scrollback.
                printLine(Sandbox.Serve.readinessLine(address: running.address, configuration: configuration))
                let header =
                    "kira-walkthrough coach — \(running.address.baseURL) — demo tenant: KIRA_API_KEY=\(configuration.tenants[0].apiKey)"
                    + " KIRA_CLIENT_ID=\(configuration.tenants[0].clientID) KIRA_PASSWORD=\(configuration.tenants[0].password)"
                let opened = await MainActor.run {
                    CoachTerminal.open(header: header, noColor: noColor || ProcessInfo.processInfo.environment["NO_COLOR"] != nil)
                }
                if let terminal = opened {
                    let watch = CoachWatch(state: state, rules: coachRules)
                    await terminal.run { await watch.poll() }
                    await running.stop()
                    printLine(CoachReportText.markdown(await state.coachReport() ?? CoachReport(steps: [], findings: [], requestCount: 0)))
                    return
                }
                await running.stop()
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                let ready = AsyncStream<Void>.makeStream()
                group.addTask {
                    try await server.run(handlingSignals: true) { address in
                        printLine(Sandbox.Serve.readinessLine(address: address, configuration: configuration))
                        ready.continuation.yield()
                    }
                }
                group.addTask {
                    for await _ in ready.stream { break }
                    await PlainCoachLog(state: state, rules: coachRules, limit: keep).follow()
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// `coach report --url BASE_URL`.
    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a running coach's checklist and findings, to paste into a pull request or a ticket.",
            discussion: "It never contains a credential or a token: the coach masks them as it records requests."
        )

        /// The report formats.
        enum Format: String, ExpressibleByArgument, CaseIterable {
            case markdown, json
        }

        @Option(help: "The coach's base URL, as its readiness line printed it.")
        var url: String

        @Option(help: "markdown or json.")
        var format: Format = .markdown

        @Option(help: "The emulator's admin token, when it was started with one.")
        var adminToken: String?

        func run() async throws {
            let json = try await OperatorCall.get("coach", url: url, adminToken: adminToken)
            guard let report = CoachReport(json: json) else {
                throw OperatorError(message: "The emulator's answer is not a coach report")
            }
            switch format {
            case .json: printLine(report.json.text(.pretty))
            case .markdown: printLine(CoachReportText.markdown(report))
            }
        }
    }
}

extension Sandbox.Serve {
    /// The text ArgumentParser would print for a parse failure of `sandbox serve`'s options.
    static func message(for error: any Error) -> String {
        fullMessage(for: error)
    }
}

/// Prints one line per request, finding and ticked step while the emulator serves.
///
/// It looks at the log ten times a second, copying only the requests it has not seen into a
/// `CoachLogMirror`, and evaluates the rules over the mirror here, off the emulator's actor, so
/// that requests never wait for an evaluation: at most every `evaluationInterval` while requests
/// keep coming, and as soon as they pause. Each look writes its lines in one write.
struct PlainCoachLog {
    let state: SandboxState
    /// The coach's rules.
    let rules: CoachRules
    /// How many requests the log keeps (`--keep`).
    let limit: Int
    /// How often it looks for new requests.
    var pollInterval: Duration = .milliseconds(100)
    /// The least time between two evaluations of the rules while requests keep coming.
    var evaluationInterval: Duration = .milliseconds(500)

    func follow() async {
        var mirror = CoachLogMirror(rules: rules)
        var seenFindings = Set<String>()
        var doneSteps = Set<String>()
        var tenantsSeen = Set<String>()
        var unevaluated = false
        var lastEvaluation = ContinuousClock.now - evaluationInterval
        while !Task.isCancelled {
            guard let look = await state.coachLook(after: mirror.lastSequence) else { return }
            let change = mirror.apply(look)
            var lines: [String] = []
            if change.missed > 0 {
                // Under a flood, more requests can come than the log keeps between two looks.
                lines.append("… \(change.missed) requests came and went between two looks (the log keeps \(limit); --keep keeps more)")
            }
            for request in change.newer { if let tenant = request.tenant { tenantsSeen.insert(tenant) } }
            let severalTenants = tenantsSeen.count > 1
            for request in change.newer {
                let tenant = severalTenants ? " [\(request.tenant ?? "no tenant")]" : ""
                lines.append(
                    "→ #\(request.sequence) \(request.method) \(request.target) \(request.status) "
                        + Self.milliseconds(request.latencyMilliseconds) + tenant
                )
            }
            if change.changed { unevaluated = true }
            // While requests keep coming, evaluate at most every evaluationInterval; when they
            // pause (none new this look), at once.
            if unevaluated, change.newer.isEmpty || ContinuousClock.now - lastEvaluation >= evaluationInterval {
                let report = mirror.report()
                lastEvaluation = .now
                unevaluated = false
                for finding in report.findings {
                    let key = "\(finding.rule) \(finding.request.tenant ?? "") \(finding.request.method) \(finding.request.path)"
                    guard seenFindings.insert(key).inserted else { continue }
                    lines.append(
                        "\(finding.severity == .error ? "✗" : "!") \(finding.severity.rawValue) \(finding.quirk) "
                            + "\(finding.request.method) \(finding.request.target): \(finding.message) Fix: \(finding.fix)"
                    )
                }
                for (index, step) in report.steps.enumerated() where step.done && doneSteps.insert(step.id).inserted {
                    lines.append("✓ step \(index + 1)/\(report.steps.count): \(step.title)")
                }
            }
            if !lines.isEmpty { printLines(lines) }
            do {
                try await Task.sleep(for: pollInterval)
            } catch {
                return
            }
        }
    }

    /// `12.3 ms`: one decimal, without Foundation's `String(format:)`.
    static func milliseconds(_ value: Double) -> String {
        let tenths = Int((max(0, value) * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) ms"
    }
}

/// The terminal view's source: a mirror of the log, evaluated off the emulator's actor and only
/// when the log changed.
actor CoachWatch {
    let state: SandboxState
    var mirror: CoachLogMirror
    var report: CoachReport

    init(state: SandboxState, rules: CoachRules) {
        self.state = state
        var mirror = CoachLogMirror(rules: rules)
        self.report = mirror.report()
        self.mirror = mirror
    }

    /// The report and the kept requests, as of now.
    func poll() async -> (CoachReport, [CoachRequest]) {
        if let look = await state.coachLook(after: mirror.lastSequence), mirror.apply(look).changed {
            report = mirror.report()
        }
        return (report, mirror.requests)
    }
}

/// A coach report as text a person pastes into a pull request or a support ticket.
enum CoachReportText {
    static func markdown(_ report: CoachReport) -> String {
        var lines = ["## Kira sandbox integration check", ""]
        let done = report.steps.filter(\.done).count
        lines.append("Checklist: \(done) of \(report.steps.count) steps done, over \(report.requestCount) requests.")
        lines.append("")
        for (index, step) in report.steps.enumerated() {
            lines.append("- [\(step.done ? "x" : " ")] \(index + 1). \(step.title)")
        }
        lines.append("")
        let errors = report.findings.filter { $0.severity == .error }.count
        lines.append("### Findings: \(errors) error(s), \(report.findings.count - errors) warning(s)")
        lines.append("")
        if report.findings.isEmpty { lines.append("None.") }
        for finding in report.findings {
            let times = finding.count > 1 ? " (\(finding.count) times)" : ""
            lines.append(
                "- **\(finding.severity.rawValue)** `\(finding.quirk)` — `\(finding.request.method) \(finding.request.path)` → "
                    + "\(finding.request.status) at \(CoachTime.format(finding.request.at))\(times)"
            )
            lines.append("  - What happened: \(finding.message)")
            if !finding.why.isEmpty { lines.append("  - Why: \(finding.why)") }
            if !finding.fix.isEmpty { lines.append("  - Fix: \(finding.fix)") }
        }
        return lines.joined(separator: "\n")
    }
}

/// Finding and loading the coach's rules, the way `run` finds its flow.
enum CoachFile {
    /// `--rules` (a path), else the `coach.yaml` shipped inside the binary.
    static func load(_ explicit: String?) throws -> CoachRules {
        let text: String
        if let explicit {
            guard let read = try? String(contentsOfFile: explicit, encoding: .utf8) else {
                throw CommandFailure(message: "Cannot read the coach rules \(explicit)")
            }
            text = read
        } else {
            guard let shipped = ShippedFlows.data("coach.yaml") else {
                throw CommandFailure(message: "This binary ships no coach rules (flows/coach.yaml)")
            }
            text = String(decoding: shipped, as: UTF8.self)
        }
        do {
            return try CoachRules.load(text, file: explicit ?? "flows/coach.yaml")
        } catch {
            throw CommandFailure(message: "The coach rules are not valid: \(error)")
        }
    }
}

extension OperatorCall {
    /// `GET /__emulator/<control>` on the coach at `url`.
    static func get(_ control: String, url: String, adminToken: String?) async throws -> JSONValue {
        try await call(
            .GET, control, url: url, adminToken: adminToken, program: "the coach", command: "kira-walkthrough coach",
            answerLimit: 8 << 20)
    }
}
