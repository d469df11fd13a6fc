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
                    await terminal.run {
                        let report = await state.coachReport() ?? CoachReport(steps: [], findings: [], requestCount: 0)
                        return (report, await state.coachRequests())
                    }
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
                    await PlainCoachLog(state: state).follow()
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
struct PlainCoachLog {
    let state: SandboxState

    func follow() async {
        var lastSequence = 0
        var seenFindings = Set<String>()
        var doneSteps = Set<String>()
        while !Task.isCancelled {
            let requests = await state.coachRequests(after: lastSequence)
            if !requests.isEmpty, let report = await state.coachReport() {
                let severalTenants = Set(await state.coachRequests().compactMap(\.tenant)).count > 1
                for request in requests {
                    let tenant = severalTenants ? " [\(request.tenant ?? "no tenant")]" : ""
                    printLine(
                        "→ #\(request.sequence) \(request.method) \(request.target) \(request.status) "
                            + String(format: "%.1f ms", request.latencyMilliseconds) + tenant
                    )
                }
                lastSequence = requests.last?.sequence ?? lastSequence
                for finding in report.findings {
                    let key = "\(finding.rule) \(finding.request.tenant ?? "") \(finding.request.method) \(finding.request.path)"
                    guard seenFindings.insert(key).inserted else { continue }
                    printLine(
                        "\(finding.severity == .error ? "✗" : "!") \(finding.severity.rawValue) \(finding.quirk) "
                            + "\(finding.request.method) \(finding.request.target): \(finding.message) Fix: \(finding.fix)"
                    )
                }
                for (index, step) in report.steps.enumerated() where step.done && doneSteps.insert(step.id).inserted {
                    printLine("✓ step \(index + 1)/\(report.steps.count): \(step.title)")
                }
            }
            do {
                try await Task.sleep(for: .milliseconds(100))
            } catch {
                return
            }
        }
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
