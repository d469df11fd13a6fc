import ArgumentParser
import Foundation
import KiraJSON
import SessionStore
import ShippedFlows
import WalkthroughCore

/// `kira-walkthrough status`.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a session's progress.")

    @OptionGroup var sessionOptions: SessionOptions

    @Flag(help: "As JSON.")
    var json = false

    func run() throws {
        let store = sessionOptions.store
        let session: Session?
        do {
            session = try store.load(sessionOptions.session)
        } catch {
            throw CommandFailure(message: "\(error)")
        }
        guard let session else {
            throw CommandFailure(
                message: "No session '\(sessionOptions.session)' in \(store.directory). Start one with `kira-walkthrough run`.")
        }
        if json {
            printLine(Self.json(session).text(.pretty))
            return
        }
        printLine(
            "Session \(session.name) · \(session.flowTitle) · target \(session.target.kind == "local" ? "local emulator" : session.target.baseURL)"
        )
        for (index, step) in session.steps.enumerated() {
            let marker = index == session.cursor && !session.isComplete ? "▶" : " "
            printLine(" \(marker) \(index + 1). \(step.title.padding(toLength: 40, withPad: " ", startingAt: 0)) \(step.state.rawValue)")
        }
        if !session.captures.isEmpty {
            printLine("Captured:")
            for (name, value) in session.captures.sorted(by: { $0.key < $1.key }) {
                printLine("  \(name) = \(WalkthroughEngine.describe(value))")
            }
        }
        if let met = Self.quirksMet(session) {
            printLine("Quirks met: \(met.countLine)")
            for line in met.lines { printLine("  \(line)") }
        }
        printLine(session.isComplete ? "Complete." : "In progress: `kira-walkthrough run --session \(session.name)` resumes it.")
    }

    /// The quirks the session met, with the summaries of the flow it ran, found as `export` finds
    /// it: the shipped flow the session recorded (embedded in the binary, whatever the working
    /// directory), else its file, else the quickstart; `nil` when none of these is that flow.
    static func quirksMet(_ session: Session) -> QuirksMet? {
        guard let flow = try? FlowFile.load(FlowSource.recorded(session.flowFile) ?? .default), flow.id == session.flowID
        else { return nil }
        return QuirksMet(session: session, flow: flow)
    }

    /// At least `{"session","target","steps":[{"id","title","state"}],"inputs":{…},"captures":{…}}`
    /// (`inputs` as the run holds them now, a value a remedy's search found included); secrets are
    /// never in a session, so nothing here needs masking.
    static func json(_ session: Session) -> JSONValue {
        var captures = JSONObject()
        for (name, value) in session.captures.sorted(by: { $0.key < $1.key }) { captures[name] = value }
        var inputs = JSONObject()
        for (name, value) in session.inputs.sorted(by: { $0.key < $1.key }) { inputs[name] = .string(value) }
        var quirks: JSONValue = .null
        if let met = quirksMet(session) {
            quirks = [
                "met": .array(
                    met.entries.map {
                        ["id": .string($0.id), "summary": $0.summary.map(JSONValue.string) ?? .null, "blocked": .bool($0.blocked)]
                    }),
                "of_flow": .int(met.total),
            ]
        }
        return [
            "session": .string(session.name), "flow": .string(session.flowID), "quirks": quirks,
            "target": [
                "kind": .string(session.target.kind), "base_url": .string(session.target.baseURL),
                "emulator": .bool(session.target.isEmulator),
            ],
            "complete": .bool(session.isComplete),
            "steps": .array(
                session.steps.map { ["id": .string($0.id), "title": .string($0.title), "state": .string($0.state.rawValue)] }
            ),
            "inputs": .object(inputs), "captures": .object(captures),
            "pinned_version": session.pinnedVersion.map(JSONValue.string) ?? .null,
            "exchanges": .int(session.exchanges.count), "updated_at": .string(ISO8601DateFormatter().string(from: session.updatedAt)),
            "webhooks": .array(
                session.webhooks.map {
                    [
                        "event": .string($0.event), "event_id": .string($0.eventID), "verified": .bool($0.verified),
                        "received_at": .string(ISO8601DateFormatter().string(from: $0.receivedAt)),
                    ]
                }
            ),
        ]
    }
}

/// `kira-walkthrough sessions`.
struct Sessions: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the saved sessions.")

    @Option(help: "Where sessions live.")
    var stateDir: String?

    func run() throws {
        let store = SessionStore(directory: SessionStore.directory(explicit: stateDir, environment: ProcessInfo.processInfo.environment))
        let sessions = store.list()
        guard !sessions.isEmpty else {
            printLine("No sessions in \(store.directory).")
            return
        }
        for summary in sessions {
            if let problem = summary.problem {
                printLine("\(summary.name)  unreadable: \(problem)")
                continue
            }
            let when = summary.updatedAt.map { ISO8601DateFormatter().string(from: $0) } ?? "?"
            let progress = summary.complete ? "complete" : "\(summary.finishedSteps)/\(summary.totalSteps) steps"
            printLine("\(summary.name)  \(progress)  \(summary.target ?? "")  updated \(when)")
        }
    }
}

/// `kira-walkthrough reset`.
struct Reset: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start a session over; the old file is kept as a backup.")

    @OptionGroup var sessionOptions: SessionOptions

    func run() throws {
        let store = sessionOptions.store
        let lock: Any
        do {
            lock = try store.lock(sessionOptions.session)
        } catch {
            throw CommandFailure(message: "\(error)")
        }
        defer { _ = lock }
        let backups = try store.reset(sessionOptions.session)
        if backups.isEmpty {
            printLine("Session \(sessionOptions.session) had nothing to reset.")
        } else {
            printLine("Session \(sessionOptions.session) reset. Backups:")
            for backup in backups { printLine("  \(backup)") }
        }
    }
}
