import DurableFiles
import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import SessionStore
@testable import WalkthroughCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The repository's root, for the shipped flow.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kira-store-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try body(directory)
}

/// A session of the shipped quickstart.
func quickstartSession(_ name: String, now: Date = Date(timeIntervalSince1970: 1_800_000_000)) throws -> Session {
    let text = try String(contentsOf: packageRoot.appendingPathComponent("flows/quickstart.yaml"), encoding: .utf8)
    let flow = try FlowLoader.load(
        text, file: "flows/quickstart.yaml",
        readFile: { try? String(contentsOf: packageRoot.appendingPathComponent("flows").appendingPathComponent($0), encoding: .utf8) },
        readData: { FileManager.default.contents(atPath: packageRoot.appendingPathComponent("flows").appendingPathComponent($0).path) })
    return Session(
        name: name, flow: flow, target: SessionTarget(kind: "local", baseURL: "http://127.0.0.1:4010/sandbox", isEmulator: true), now: now)
}

/// Writes a file as is, the way a crash or a person might have left it.
func write(_ path: String, _ content: some Sequence<UInt8>) {
    #expect(FileManager.default.createFile(atPath: path, contents: Data(content)), "cannot write \(path)")
}

func bytes(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { Array($0) } }

func mode(_ path: String) throws -> Int {
    try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
}

/// `SessionStore.directory`: `--state-dir`, then `KIRA_WALKTHROUGH_STATE_DIR`, then
/// `$XDG_STATE_HOME/kira-walkthrough`, then `~/.local/state/kira-walkthrough`.
@Suite struct SessionDirectoryTests {
    let everything = ["KIRA_WALKTHROUGH_STATE_DIR": "/env/dir", "XDG_STATE_HOME": "/xdg", "HOME": "/home/ada"]

    @Test func explicitWinsOverEverything() {
        #expect(SessionStore.directory(explicit: "/explicit", environment: everything) == "/explicit")
    }

    @Test func thenTheEnvironmentVariable() {
        #expect(SessionStore.directory(explicit: nil, environment: everything) == "/env/dir")
        #expect(SessionStore.directory(explicit: "", environment: everything) == "/env/dir")
    }

    @Test func thenXDGStateHome() {
        var environment = everything
        environment["KIRA_WALKTHROUGH_STATE_DIR"] = ""
        #expect(SessionStore.directory(explicit: nil, environment: environment) == "/xdg/kira-walkthrough")
        environment["KIRA_WALKTHROUGH_STATE_DIR"] = nil
        #expect(SessionStore.directory(explicit: nil, environment: environment) == "/xdg/kira-walkthrough")
    }

    @Test func thenHome() {
        #expect(
            SessionStore.directory(explicit: nil, environment: ["HOME": "/home/ada", "XDG_STATE_HOME": ""])
                == "/home/ada/.local/state/kira-walkthrough")
        #expect(SessionStore.directory(explicit: nil, environment: ["HOME": "/home/ada"]) == "/home/ada/.local/state/kira-walkthrough")
    }

    @Test func withoutHomeTheProcessHomeDirectoryIsUsed() {
        let directory = SessionStore.directory(explicit: nil, environment: [:])
        #expect(directory == NSHomeDirectory() + "/.local/state/kira-walkthrough")
    }

    @Test func sessionNames() {
        for valid in ["default", "my-session_1.2", "A", String(repeating: "a", count: 100)] {
            #expect(SessionStore.isValidName(valid), "\(valid) should be valid")
        }
        for invalid in [
            "", ".hidden", "..", "a/b", "../escape", "a b", "naïve", "名前", "semi;colon", "tab\t", String(repeating: "a", count: 101),
        ] {
            #expect(!SessionStore.isValidName(invalid), "\(invalid) should be invalid")
        }
    }

    /// `NAME.emulator.json` is where session `NAME` keeps its local emulator's state, so a session
    /// may not itself be called `NAME.emulator`: its file would be another session's emulator state.
    @Test func aSessionNameCannotCollideWithAnEmulatorStateFile() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            // `demo.emulator.json` is where session demo keeps its emulator's state, so no session
            // may be called `demo.emulator`.
            #expect(!SessionStore.isValidName("demo.emulator"))
            #expect(SessionStore.isValidName("demo.emulators"))
            #expect(store.emulatorStatePath(for: "demo") == store.path(for: "demo.emulator"))
            // The emulator's state beside a session is not listed as a session of its own.
            try store.save(try quickstartSession("demo"))
            try Data(#"{"schema_version":1,"tenants":{}}"#.utf8).write(to: URL(fileURLWithPath: store.emulatorStatePath(for: "demo")))
            #expect(store.list().map(\.name) == ["demo"])
        }
    }
}

/// Saving and loading session files: atomic, private, and a file that cannot be read is reported
/// and left exactly as it was.
@Suite struct SessionFileTests {
    @Test func saveCreatesAPrivateDirectoryAndAPrivateFile() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root + "/nested/state")
            let session = try quickstartSession("first")
            try store.save(session)
            #expect(try mode(store.directory) & 0o777 == 0o700)
            #expect(try mode(store.path(for: "first")) & 0o777 == 0o600)
            // Nothing but the session is left behind (no temporary file).
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory) == ["first.json"])
        }
    }

    @Test func saveReplacesAndKeepsTheModeEvenOverALooserFile() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            try withTemporaryDirectory { root in
                let store = SessionStore(directory: root)
                var session = try quickstartSession("s")
                try store.save(session)
                chmod(store.path(for: "s"), 0o644)
                session.cursor = 3
                session.inputs["email"] = "ada@example.com"
                try store.save(session)
                #expect(try mode(store.path(for: "s")) & 0o777 == 0o600)
                let loaded = try #require(try store.load("s"))
                #expect(loaded.cursor == 3)
                #expect(loaded.inputs["email"] == "ada@example.com")
            }

        }
    }

    @Test func loadReturnsNilWhenThereIsNoSession() throws {
        try withTemporaryDirectory { root in
            let inExisting = try SessionStore(directory: root).load("nothing")
            let inMissing = try SessionStore(directory: root + "/missing").load("nothing")
            #expect(inExisting == nil)
            #expect(inMissing == nil)
        }
    }

    @Test func aSavedSessionLoadsBackTheSame() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            var session = try quickstartSession("round-trip")
            session.pinnedVersion = "2026-04-14"
            session.captures["user_id"] = "6f1c0e1e-0000-4000-8000-000000000001"
            session.idempotencyKeys["create_user/create_user"] = "key-1"
            session.steps[1].phase = .succeeded
            session.record(
                ExchangeRecord(
                    sequence: 1, stepID: "authenticate", requestID: "auth", note: nil, method: "POST",
                    url: "http://127.0.0.1:4010/sandbox/auth",
                    requestHeaders: [["x-api-key", Redactor.mask]], requestBody: "{}", status: 200, responseHeaders: [], responseBody: nil,
                    error: nil, startedAt: Date(timeIntervalSince1970: 1_800_000_001), durationMilliseconds: 12.5
                )
            )
            try store.save(session)
            let loaded = try #require(try store.load("round-trip"))
            #expect(loaded.name == "round-trip")
            #expect(loaded.flowID == session.flowID)
            #expect(loaded.target == session.target)
            #expect(loaded.createdAt == session.createdAt)
            #expect(loaded.steps == session.steps)
            #expect(loaded.captures == session.captures)
            #expect(loaded.idempotencyKeys == session.idempotencyKeys)
            #expect(loaded.pinnedVersion == "2026-04-14")
            #expect(loaded.exchanges == session.exchanges)
            // The file is the documented JSON: snake_case keys and a schema version.
            let json = try JSONValue.parse(try #require(bytes(store.path(for: "round-trip"))))
            #expect(json["schema_version"]?.intValue == Session.currentSchema)
            #expect(json["flow_id"]?.stringValue == session.flowID)
        }
    }

    /// `save` writes to the file named by `session.name`, so a session loaded from a file that was
    /// copied or renamed (`cp a.json b.json`) must not carry its old name, or the next save of "b"
    /// overwrites "a".
    @Test func aCopiedSessionFileIsSavedUnderItsOwnName() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            var original = try quickstartSession("a")
            original.cursor = 1
            try store.save(original)
            try FileManager.default.copyItem(atPath: store.path(for: "a"), toPath: store.path(for: "b"))

            var copy = try #require(try store.load("b"))
            copy.cursor = 5
            try store.save(copy)
            let a = try #require(try store.load("a"))
            let b = try #require(try store.load("b"))
            #expect(a.cursor == 1, "saving session b overwrote session a (a.cursor is \(a.cursor))")
            #expect(b.cursor == 5, "session b's progress went to a.json (b.cursor is \(b.cursor))")
        }
    }

    @Test(arguments: [
        ("not JSON", "{ this is not json"),
        ("empty", ""),
        ("no schema version", #"{"name":"s"}"#),
        ("a JSON array", "[1,2,3]"),
        ("the right schema, the wrong shape", #"{"schema_version":1,"name":42}"#),
    ])
    func aCorruptFileIsAnErrorAndLeftUntouched(_ label: String, _ content: String) throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            let path = store.path(for: "broken")
            write(path, content.utf8)
            chmod(path, 0o640)
            let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
            let error = #expect(throws: SessionFileError.self, "\(label)") { try store.load("broken") }
            #expect(error?.path == path)
            #expect(error?.description.contains("untouched") == true)
            #expect(error?.description.contains("corrupt") == true)
            #expect(bytes(path) == Array(content.utf8))
            #expect(try mode(path) & 0o777 == 0o640)
            #expect(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date == modified)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["broken.json"])
        }
    }

    @Test func aNewerSchemaIsAnErrorAndLeftUntouched() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            try store.save(try quickstartSession("future"))
            let path = store.path(for: "future")
            var json = try JSONValue.parse(try #require(bytes(path)))
            guard case .object(var object) = json else { Issue.record("not an object"); return }
            object["schema_version"] = .int(Session.currentSchema + 1)
            object["something_new"] = ["added": true]
            json = .object(object)
            let content = json.serialized(.init(pretty: true))
            try Data(content).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: SessionFileError.self) { try store.load("future") }
            #expect(error?.description.contains("newer") == true)
            #expect(error?.description.contains("schema \(Session.currentSchema + 1)") == true)
            #expect(error?.description.contains("untouched") == true)
            #expect(bytes(path) == content)
        }
    }
}

/// `SessionStore.lock`: one runner per session, released on `release()`, on deinit, and when the
/// holding process dies.
@Suite struct SessionLockTests {
    @Test func aSecondLockIsRefusedNamingTheHolder() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            let first = try store.lock("s")
            let error = #expect(throws: SessionFileError.self) { _ = try store.lock("s") }
            #expect(error?.description.contains("in use") == true)
            #expect(error?.description.contains("pid \(getpid())") == true)
            #expect(error?.path == store.path(for: "s"))
            // Another session is independent.
            let other = try store.lock("t")
            other.release()
            first.release()
        }
    }

    @Test func afterReleaseTheLockCanBeTakenAgain() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            let first = try store.lock("s")
            // Held: another taker is refused (flock is per open file, so this process counts too).
            #expect(throws: (any Error).self) { try store.lock("s").release() }
            first.release()
            first.release()  // twice is harmless
            let second = try store.lock("s")
            #expect(throws: (any Error).self) { try store.lock("s").release() }
            second.release()
            do {
                let scoped = try store.lock("s")
                _ = scoped
            }
            // The scoped lock went with its owner.
            #expect(throws: Never.self) { try store.lock("s").release() }
        }
    }

    /// Found by reliability/torture.py: a walkthrough SIGKILLed during a save left
    /// `NAME.json.tmp-PID` beside the session for good. Taking the lock removes them.
    @Test func lockRemovesTheTemporaryFilesOfInterruptedSaves() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            try store.save(try quickstartSession("s"))
            let saved = bytes(store.path(for: "s"))
            write(store.path(for: "s") + ".tmp-4242", Array("{\"half\": ".utf8))
            // Not this session's, or not a temporary file of a save: kept.
            let kept = ["s.emulator.json.tmp-4242", "t.json.tmp-4242", "s.json.tmp-4242x", "s.json.tmp-", "s.json.bak-20260101T000000Z"]
            for file in kept { write(root + "/" + file, Array("x".utf8)) }

            let lock = try store.lock("s")
            defer { lock.release() }
            #expect(!FileManager.default.fileExists(atPath: store.path(for: "s") + ".tmp-4242"))
            for file in kept { #expect(FileManager.default.fileExists(atPath: root + "/" + file), "\(file) was removed") }
            #expect(bytes(store.path(for: "s")) == saved)
            #expect(try store.load("s") != nil)
        }
    }

    @Test func lockCreatesTheDirectory() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root + "/deep/er")
            let lock = try store.lock("s")
            defer { lock.release() }
            #expect(FileManager.default.fileExists(atPath: root + "/deep/er"))
        }
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/flock"), "needs /usr/bin/flock to hold a lock from another process"))
    func aLockHeldByAProcessThatDiesIsFreed() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            try store.prepare()
            let lockPath = store.lockPath(for: "s")
            // A child process takes the same flock(2) lock, says so, then becomes `sleep`, keeping it.
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/bin/sh")
            child.arguments = ["-c", #"exec 9>"$0"; /usr/bin/flock -x 9; echo locked; exec sleep 30"#, lockPath]
            let output = Pipe()
            child.standardOutput = output
            try child.run()
            defer { if child.isRunning { kill(child.processIdentifier, SIGKILL) } }
            let line = output.fileHandleForReading.availableData  // blocks until "locked" (or EOF)
            #expect(String(decoding: line, as: UTF8.self) == "locked\n")

            let error = #expect(throws: SessionFileError.self) { _ = try store.lock("s") }
            #expect(error?.description.contains("in use") == true)

            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal)
            let lock = try store.lock("s")
            lock.release()
        }
    }
}

/// `list` and `reset`.
@Suite struct SessionListAndResetTests {
    @Test func listShowsEverySessionAndWhyOneCannotBeRead() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            try withTemporaryDirectory { root in
                let store = SessionStore(directory: root)
                var done = try quickstartSession("b-done")
                for index in done.steps.indices { done.steps[index].phase = .succeeded }
                done.completedAt = Date(timeIntervalSince1970: 1_800_000_100)
                try store.save(done)
                var halfway = try quickstartSession("a-halfway")
                halfway.steps[0].phase = .succeeded
                halfway.steps[1].phase = .skipped
                halfway.steps[2].phase = .blocked(
                    BlockedQuirk(quirkID: "Q-NO-AUTO-VERIFY", requestID: "user_verified", explanation: "never verified", remedies: []),
                    active: nil)
                halfway.target = SessionTarget(kind: "url", baseURL: "https://example.test/sandbox", isEmulator: false)
                try store.save(halfway)
                write(store.path(for: "c-broken"), "nope".utf8)
                // Not sessions: an emulator's state, a lock, a backup, a stray file.
                write(store.emulatorStatePath(for: "b-done"), "{}".utf8)
                let lock = try store.lock("b-done")
                defer { lock.release() }
                write(root + "/old.json.bak-20270101T000000Z", "{}".utf8)
                write(root + "/notes.txt", "hi".utf8)

                let list = store.list()
                #expect(list.map(\.name) == ["a-halfway", "b-done", "c-broken"])
                let a = list[0]
                #expect(a.finishedSteps == 2)
                #expect(a.totalSteps == halfway.steps.count)
                #expect(a.complete == false)
                #expect(a.target == "https://example.test/sandbox")
                #expect(a.problem == nil)
                #expect(a.path == store.path(for: "a-halfway"))
                let b = list[1]
                #expect(b.complete)
                #expect(b.finishedSteps == b.totalSteps)
                #expect(b.target == "local emulator")
                #expect(b.updatedAt == done.updatedAt)
                let c = list[2]
                #expect(c.problem?.contains("corrupt") == true)
                #expect(bytes(store.path(for: "c-broken")) == Array("nope".utf8))
            }

        }
    }

    @Test func listOfAMissingDirectoryIsEmpty() throws {
        try withTemporaryDirectory { root in
            #expect(SessionStore(directory: root + "/never-created").list().isEmpty)
        }
    }

    @Test func resetMovesTheSessionAndItsEmulatorStateToTimestampedBackups() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            try withTemporaryDirectory { root in
                let store = SessionStore(directory: root)
                try store.save(try quickstartSession("s"))
                try store.save(try quickstartSession("other"))
                let emulatorState = Array(#"{"tenants":[]}"#.utf8)
                write(store.emulatorStatePath(for: "s"), emulatorState)
                let sessionBytes = try #require(bytes(store.path(for: "s")))

                let now = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15T08:00:00Z
                let backups = try store.reset("s", now: now)
                #expect(
                    backups == [
                        store.path(for: "s") + ".bak-20270115T080000Z", store.emulatorStatePath(for: "s") + ".bak-20270115T080000Z",
                    ])
                #expect(!FileManager.default.fileExists(atPath: store.path(for: "s")))
                #expect(!FileManager.default.fileExists(atPath: store.emulatorStatePath(for: "s")))
                #expect(bytes(backups[0]) == sessionBytes)
                #expect(bytes(backups[1]) == emulatorState)
                #expect(try store.load("s") == nil)
                // Other sessions are not touched, and backups are not listed as sessions.
                #expect(store.list().map(\.name) == ["other"])
            }

        }
    }

    @Test func resetOfNothingMovesNothing() throws {
        try withTemporaryDirectory { root in
            let moved = try SessionStore(directory: root).reset("none")
            #expect(moved.isEmpty)
        }
    }

    @Test func resetKeepsEveryBackupWhenRunTwice() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            try withTemporaryDirectory { root in
                let store = SessionStore(directory: root)
                try store.save(try quickstartSession("s"))
                let first = try store.reset("s", now: Date(timeIntervalSince1970: 1_800_000_000))
                try store.save(try quickstartSession("s"))
                let second = try store.reset("s", now: Date(timeIntervalSince1970: 1_800_000_061))
                #expect(first != second)
                #expect(try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.contains(".bak-") }.count == 2)
            }

        }
    }

    /// Two resets in the same second (a script that resets, runs one step, resets again).
    @Test func resetTwiceWithinOneSecondKeepsBothBackups() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            try withTemporaryDirectory { root in
                let store = SessionStore(directory: root)
                let now = Date(timeIntervalSince1970: 1_800_000_000)
                try store.save(try quickstartSession("s"))
                _ = try store.reset("s", now: now)
                try store.save(try quickstartSession("s"))
                #expect(throws: Never.self) { _ = try store.reset("s", now: now) }
                #expect(try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.contains(".bak-") }.count == 2)
            }

        }
    }
}
