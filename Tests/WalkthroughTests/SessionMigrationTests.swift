import Foundation
import KiraJSON
import SessionStore
import Testing

@testable import WalkthroughCore

/// Session files of schema 1, written by kira-walkthrough before step phases (the files under
/// `Tests/Fixtures/sessions-v1/` were made by that build: a complete local run, a run stopped on a
/// timed-out wait, a run that failed on a refused connection, and a run killed mid-poll), load as
/// the same session in today's schema and resume where they stopped.
@Suite struct SessionMigrationTests {
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/sessions-v1")

    /// Loads fixture `name` through a session store, as a run would.
    static func load(_ name: String) throws -> Session {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kira-migration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(
            at: fixtures.appendingPathComponent("\(name).json"), to: directory.appendingPathComponent("\(name).json"))
        return try #require(try SessionStore(directory: directory.path).load(name))
    }

    @Test func aCompleteSessionKeepsEverything() throws {
        let session = try Self.load("complete")
        #expect(session.schemaVersion == Session.currentSchema)
        #expect(session.isComplete)
        #expect(session.cursor == 7)
        #expect(session.steps.allSatisfy { $0.phase == .succeeded })
        #expect(session.steps[3].remedyUses == ["Q-NO-AUTO-VERIFY#0": 1])
        #expect(session.steps[3].notedQuirks == ["Q-SHAPES", "Q-GATE-ON-STATUS"])
        #expect(session.target == SessionTarget(kind: "local", baseURL: session.target.baseURL, isEmulator: true))
        #expect(session.target.baseURL.hasPrefix("http://127.0.0.1:"))
        #expect(session.exchanges.count == 20)
        #expect(session.exchanges.first?.requestID == "auth")
        #expect(session.exchanges.first?.stepID == "authenticate")
        #expect((session.exchanges.first?.durationMilliseconds ?? 0) > 0)
        #expect(session.events.count == 14)
        #expect(session.events.contains { $0.quirkID == "Q-DEPOSIT-INVISIBLE" && $0.stepID == "simulate_deposit" })
        #expect(session.captures["payout_status"] == "CREATED")
        #expect(session.idempotencyKeys.keys.contains("create_user/create_user"))
    }

    @Test func aBlockedSessionIsBlockedWithItsRequestAndResumesByCheckingAgain() throws {
        let session = try Self.load("blocked")
        guard case .blocked(let blocked, let active?) = session.steps[3].phase else {
            Issue.record("expected blocked with its request, got \(session.steps[3].phase)")
            return
        }
        #expect(blocked.quirkID == "Q-NO-AUTO-VERIFY")
        #expect(blocked.isTimeout)
        #expect(blocked.remedies.map(\.label) == ["Keep waiting", "Stop here and resume later"])
        #expect(active.origin == .flow)
        #expect(active.request.requestID == "user_verified")
        #expect(active.request.path.hasPrefix("/v1/users/"))
        #expect(session.steps[3].requestIndex == 1)
        var engine = WalkthroughEngine(flow: try quickstart(), session: session, sources: InputSources(environment: credentials))
        #expect(engine.start(now: Date()) == .send(active.request))
        #expect(engine.session.steps[3].state == .sending)
        #expect(engine.violations.isEmpty)
    }

    @Test func aFailedSessionKeepsItsMessageAndRetriesTheSameRequest() throws {
        let session = try Self.load("failed")
        guard case .failed(let message, let active?) = session.steps[1].phase else {
            Issue.record("expected failed with its request, got \(session.steps[1].phase)")
            return
        }
        #expect(message.hasPrefix("Connection refused by http://127.0.0.1:"))
        #expect(active.request.requestID == "auth")
        #expect(active.request.body?["password"] == "{{ password }}", "secrets stay references")
        var engine = WalkthroughEngine(flow: try quickstart(), session: session, sources: InputSources(environment: credentials))
        #expect(engine.start(now: Date()) == .send(active.request))
    }

    @Test func aSessionKilledMidPollPollsAgain() throws {
        let session = try Self.load("waiting")
        #expect(session.cursor == 4)
        guard case .waiting(let active, let wait) = session.steps[4].phase else {
            Issue.record("expected waiting, got \(session.steps[4].phase)")
            return
        }
        #expect(active.request.requestID == "va_ready")
        #expect(wait.attempt == 1)
        #expect(wait.startedAt == ISO8601DateFormatter().date(from: "2026-12-03T08:28:21Z"))
        var engine = WalkthroughEngine(flow: try quickstart(), session: session, sources: InputSources(environment: credentials))
        #expect(engine.start(now: Date()) == .send(active.request))
        #expect(engine.session.steps[4].wait?.attempt == 0, "a new run starts the wait's clock again")
    }

    @Test func aMigratedSessionIsSavedInTodaysSchemaAndReadsBackTheSame() throws {
        for name in ["complete", "blocked", "failed", "waiting"] {
            let session = try Self.load(name)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kira-migration-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = SessionStore(directory: directory.path)
            try store.save(session)
            let text = try String(contentsOf: directory.appendingPathComponent("\(name).json"), encoding: .utf8)
            let json = try JSONValue.parse(text)
            #expect(json["schema_version"] == .number("\(Session.currentSchema)"))
            // One naming style: no camelCase key anywhere the walkthrough names the keys.
            for key in Self.keys(of: json, skipping: ["captures", "inputs", "idempotency_keys", "body", "remedy_uses"]) {
                #expect(key.allSatisfy { !$0.isUppercase }, "\(name): key \(key)")
            }
            let reread = try #require(try store.load(name))
            #expect(reread.steps == session.steps)
            #expect(reread.exchanges == session.exchanges)
            #expect(reread.events == session.events)
        }
    }

    /// Every object key in `json`, except inside the named members (whose keys are data).
    static func keys(of json: JSONValue, skipping: Set<String>) -> [String] {
        switch json {
        case .object(let object):
            return object.entries.flatMap { entry in
                [entry.key] + (skipping.contains(entry.key) ? [] : keys(of: entry.value, skipping: skipping))
            }
        case .array(let items): return items.flatMap { keys(of: $0, skipping: skipping) }
        default: return []
        }
    }

    var credentials: [String: String] {
        [
            "KIRA_API_KEY": "kira_sandbox_demo_key", "KIRA_CLIENT_ID": "5f3c9d2e-8a41-4b7e-9c06-1d2e3f4a5b6c",
            "KIRA_PASSWORD": "demo-password",
        ]
    }
}
