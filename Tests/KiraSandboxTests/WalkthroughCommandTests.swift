import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// `kira-walkthrough run`, `status`, `sessions`, `reset` as people run them, including being killed.
@Suite(.serialized) struct WalkthroughCommandTests {
    func stateDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kira-cli-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    var demoEnvironment: [String: String] {
        let demo = TenantCredentials.demo
        return ["KIRA_API_KEY": demo.apiKey, "KIRA_CLIENT_ID": demo.clientID, "KIRA_PASSWORD": demo.password]
    }

    @Test func withNoCredentialsTheLocalWalkthroughCompletes() async throws {
        let directory = stateDirectory()
        let run = try await KiraBinary.run(
            ["run", "--plain", "--yes", "--target", "local", "--state-dir", directory, "--va-ready-after", "0.5"],
            environment: ["KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": ""], timeout: 120
        )
        #expect(run.status == 0, "\(run.stdout.suffix(2000))\n\(run.stderr)")
        #expect(run.stdout.contains("LOCAL EMULATOR"))
        #expect(run.stdout.contains("Walkthrough complete"))
        for title in [
            "Get your credentials", "Authenticate", "Pin your version", "Create a user", "Create a virtual account",
            "Simulate a deposit (sandbox)", "Make a payout (preview, then create)",
        ] {
            #expect(run.stdout.contains("· \(title) ━━"), "\(title) shown")
        }
        // A note prints under the step it belongs to: /auth's Q-SHAPES before step 3's header.
        let authentication = try #require(run.stdout.range(of: "· Authenticate ━━"))
        let pin = try #require(run.stdout.range(of: "· Pin your version ━━"))
        let note = try #require(run.stdout.range(of: "ℹ Q-SHAPES"))
        #expect(authentication.upperBound < note.lowerBound && note.upperBound < pin.lowerBound, "\(run.stdout.prefix(4000))")
        let text = try await KiraBinary.run(["status", "--state-dir", directory])
        #expect(text.stdout.contains("Quirks met: "), "\(text.stdout)")
        #expect(text.stdout.contains("Q-SHAPES: success bodies are not uniform"))
        let status = try await KiraBinary.run(["status", "--json", "--state-dir", directory])
        #expect(status.status == 0)
        let json = try JSONValue.parse(status.stdout)
        #expect(json["session"] == "default")
        let steps = try #require(json["steps"]?.arrayValue)
        #expect(steps.count == 7)
        #expect(steps.allSatisfy { $0["state"] == "succeeded" })
        #expect(json["captures"]?["payout_id"]?.stringValue != nil)
        let met = try #require(json["quirks"]?["met"]?.arrayValue)
        #expect(met.contains { $0["id"] == "Q-SHAPES" && $0["blocked"] == false })
        #expect((json["quirks"]?["of_flow"]?.intValue ?? 0) >= met.count)
        // Nothing secret in the state directory.
        let demo = TenantCredentials.demo
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let text = (try? String(contentsOfFile: directory + "/" + file, encoding: .utf8)) ?? ""
            #expect(!text.contains(demo.password) && !text.contains(demo.apiKey) && !text.contains("kat_"), "\(file)")
            let mode = (try FileManager.default.attributesOfItem(atPath: directory + "/" + file)[.posixPermissions] as? Int) ?? 0
            #expect(mode & 0o077 == 0, "\(file) is private")
        }
        // The complete user went with its specimen images; the screen and the session show
        // placeholders, and the finished session stays under 64 KB (issue 10).
        let sessionFile = try #require(FileManager.default.contents(atPath: directory + "/default.json"))
        #expect(sessionFile.count < 64 * 1024, "\(sessionFile.count) bytes")
        #expect(run.stdout.contains("data:image/jpeg;base64,… ("), "the preview shows the placeholder")
        let passport = try #require(
            FileManager.default.contents(atPath: KiraBinary.packageRoot.appendingPathComponent("flows/images/specimen-passport.jpg").path))
        #expect(!run.stdout.contains(passport.base64EncodedString().prefix(64)))
        #expect(!String(decoding: sessionFile, as: UTF8.self).contains(passport.base64EncodedString().prefix(64)))
        #expect(!run.stdout.contains("Q-NOT-TRIGGERED") && !run.stdout.contains("Q-SOF-REJECT"), "verification triggered")
        // Run again: the session is complete and stays so, resources not duplicated.
        let again = try await KiraBinary.run(["run", "--plain", "--yes", "--state-dir", directory], environment: ["KIRA_API_KEY": ""])
        #expect(again.status == 0)
        #expect(!again.stdout.contains("POST"), "nothing is sent again")
    }

    /// Issue 5's webhook inbox: on the local emulator the run registers its listener itself, and the
    /// deposit webhook arrives with a verified signature and is kept in the session.
    @Test func theWebhookInboxReceivesTheDepositWebhookVerified() async throws {
        let directory = stateDirectory()
        let run = try await KiraBinary.run(
            [
                "run", "--plain", "--yes", "--target", "local", "--state-dir", directory, "--va-ready-after", "0.3", "--webhook-listen",
                "127.0.0.1:0",
            ],
            environment: ["KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": ""], timeout: 120
        )
        #expect(run.status == 0, "\(run.stdout.suffix(2000))\n\(run.stderr)")
        #expect(run.stdout.contains("Webhooks: registered http://127.0.0.1:"))
        #expect(run.stdout.contains("Webhook virtual_account.deposit_funds_received (evt_"))
        let status = try await KiraBinary.run(["status", "--json", "--state-dir", directory])
        let webhooks = try #require(try JSONValue.parse(status.stdout)["webhooks"]?.arrayValue)
        let deposit = try #require(webhooks.first { $0["event"] == "virtual_account.deposit_funds_received" }, "\(webhooks)")
        #expect(deposit["verified"] == true)
        #expect(deposit["event_id"]?.stringValue?.hasPrefix("evt_") == true)
        #expect(deposit["received_at"]?.stringValue != nil)
        let ids = webhooks.compactMap { $0["event_id"]?.stringValue }
        #expect(Set(ids).count == ids.count, "deduplicated on event_id")
    }

    @Test func killedAtAnyMomentTheWalkthroughFinishesWithoutDuplicates() async throws {
        // Slow timers (review after 3 s, account ready after 3 s) keep each run alive long enough to be killed.
        let served = try await ServedEmulator(["--va-ready-after", "3", "--payout-step-interval", "1"])
        defer { served.terminate() }
        let directory = stateDirectory()
        var environment = demoEnvironment
        environment["KIRA_WALKTHROUGH_STATE_DIR"] = directory
        var kills = 0
        var completed = false
        // Seeded, so a failure can be replayed: the seed is printed with the result.
        let seed = UInt64(Date().timeIntervalSince1970)
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<30 {
            let process = Process()
            process.executableURL = KiraBinary.url
            process.arguments = ["run", "--plain", "--yes", "--target", served.baseURL, "--session", "crash"]
            process.environment = KiraBinary.inheritedEnvironment(environment)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            try process.run()
            // Short lives, so that most runs die somewhere; each resumes where the last one stopped.
            let deadline = Date().addingTimeInterval(Double.random(in: 0.05...0.5, using: &generator))
            while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                let reaped = Date().addingTimeInterval(10)
                while process.isRunning, Date() < reaped { try await Task.sleep(for: .milliseconds(10)) }
                kills += 1
            } else if process.terminationStatus == 0 {
                completed = true
                break
            } else {
                Issue.record("a run exited \(process.terminationStatus)")
            }
            // Every kill leaves a session that loads as a session (or none yet): `status` reads it.
            if FileManager.default.fileExists(atPath: directory + "/crash.json") {
                let status = try await KiraBinary.run(["status", "--json", "--session", "crash"], environment: environment)
                #expect(status.status == 0, "session unreadable after kill \(kills) (seed \(seed)): \(status.stderr)")
            }
        }
        if !completed {
            let final = try await KiraBinary.run(
                ["run", "--plain", "--yes", "--target", served.baseURL, "--session", "crash"], environment: environment, timeout: 120)
            #expect(final.status == 0, "\(final.stdout.suffix(1500)) \(final.stderr)")
        }
        print("crash test: \(kills) SIGKILLs before completion (seed \(seed))")
        // Each run lives under 0.5 s and the walkthrough needs several seconds of the emulator's
        // timers, so most runs die somewhere.
        #expect(kills >= 10, "seed \(seed)")
        let state = try await KiraBinary.run(["status", "--json", "--session", "crash"], environment: environment)
        #expect((try? JSONValue.parse(state.stdout))?["complete"] == true)
        let counts = try await emulatorCounts(served.baseURL)
        #expect(counts["users"] == 1, "\(counts)")
        #expect(counts["virtual_accounts"] == 1, "\(counts)")
        #expect(counts["payouts"] == 1, "\(counts)")
        #expect(counts["recipients"] == 1, "\(counts)")
        // The simulated deposit has no idempotency key: a kill while it was in flight may repeat it
        // (the walkthrough asks, and --yes sends again), but never more often than runs were killed.
        let deposits = try #require(counts["deposits"], "\(counts)")
        #expect(deposits >= 1 && deposits <= 1 + kills, "\(counts)")
    }

    func emulatorCounts(_ baseURL: String) async throws -> [String: Int] {
        let root = baseURL.replacingOccurrences(of: "/sandbox", with: "")
        let result = try await KiraBinary.run(["-s", root + "/__emulator/state"], executable: URL(fileURLWithPath: "/usr/bin/curl"))
        let tenant = try JSONValue.parse(result.stdout)["tenants"]?.arrayValue?.first
        var counts: [String: Int] = [:]
        for key in ["users", "virtual_accounts", "payouts", "recipients", "deposits"] { counts[key] = tenant?[key]?.intValue }
        return counts
    }

    @Test func aCorruptSessionIsExplainedAndLeftAlone() async throws {
        let directory = stateDirectory()
        let path = directory + "/broken.json"
        try Data("{\"schema_version\": 1, \"steps\": [tru".utf8).write(to: URL(fileURLWithPath: path))
        let run = try await KiraBinary.run([
            "run", "--plain", "--yes", "--session", "broken", "--state-dir", directory, "--target", "local",
        ])
        #expect(run.status == 1)
        #expect(run.stderr.contains("broken.json"))
        #expect(run.stderr.contains("left untouched"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"schema_version\": 1, \"steps\": [tru")
        try Data("{\"schema_version\": 7}".utf8).write(to: URL(fileURLWithPath: path))
        let newer = try await KiraBinary.run(["status", "--session", "broken", "--state-dir", directory])
        #expect(newer.status == 1)
        #expect(newer.stderr.contains("newer"))
    }

    @Test func twoRunnersCannotShareASession() async throws {
        // Accounts stay PENDING-ACT-ACCOUNT for a minute, so the first runner is still polling
        // (and holding the session) when the second one starts, however fast the machine.
        let served = try await ServedEmulator(["--va-ready-after", "60"])
        defer { served.terminate() }
        let directory = stateDirectory()
        var environment = demoEnvironment
        environment["KIRA_WALKTHROUGH_STATE_DIR"] = directory
        // The first runner holds the session while it works through the steps.
        let first = Process()
        first.executableURL = KiraBinary.url
        first.arguments = ["run", "--plain", "--yes", "--target", served.baseURL, "--session", "shared"]
        first.environment = KiraBinary.inheritedEnvironment(environment)
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        first.standardInput = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        // Wait until it holds the lock (its pid is in the lock file).
        let lockFile = directory + "/shared.lock"
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, ((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").isEmpty {
            try await Task.sleep(for: .milliseconds(20))
        }
        let second = try await KiraBinary.run(
            ["run", "--plain", "--yes", "--target", served.baseURL, "--session", "shared"], environment: environment)
        try #require(first.isRunning, "the first runner must still hold the session")
        #expect(second.status == 1)
        #expect(second.stderr.contains("in use by another kira-walkthrough"))
        #expect(second.stderr.contains("pid \(first.processIdentifier)"))
        // A lock left by a killed runner does not block the next one.
        kill(first.processIdentifier, SIGKILL)
        let reaped = Date().addingTimeInterval(10)
        while first.isRunning, Date() < reaped { try await Task.sleep(for: .milliseconds(10)) }
        // It takes the session and goes on where the first stopped, up to the next wait (cut short
        // here: exit 3, only a person can go on), instead of being refused (exit 1).
        let third = try await KiraBinary.run(
            ["run", "--plain", "--yes", "--target", served.baseURL, "--session", "shared", "--wait-timeout", "1"],
            environment: environment, timeout: 120)
        #expect(third.status == 3, "\(third.stdout.suffix(1500))\n\(third.stderr)")
        #expect(!third.stderr.contains("in use by another kira-walkthrough"))
        #expect(third.stdout.contains("Resuming session 'shared'"))
        #expect(third.stdout.contains("⏸ Stopped: Waited"))
    }

    @Test func blockedOnlyAPersonCanHelpExitsWith3() async throws {
        let directory = stateDirectory()
        let run = try await KiraBinary.run(
            ["run", "--plain", "--yes", "--target", "local", "--state-dir", directory, "--va-ready-after", "0.2"],
            environment: ["KIRA_API_KEY": "", "KIRA_RECIPIENT_ID": UUID().uuidString], timeout: 120
        )
        #expect(run.status == 3, "\(run.stdout.suffix(1500))")
        #expect(run.stdout.contains("Q-SEED-IDS"))
        #expect(run.stdout.contains("Resume with: kira-walkthrough run --session default"))
    }

    @Test func aBrokenFlowFileIsExplainedWhereItIsWrongAndNothingIsSent() async throws {
        let directory = stateDirectory()
        let flow = directory + "/broken.yaml"
        try "flow: broken\ntitle: Broken\nsteps: []\n".write(toFile: flow, atomically: true, encoding: .utf8)
        let run = try await KiraBinary.run(
            ["run", "--plain", "--yes", "--target", "local", "--state-dir", directory, "--flow", flow],
            environment: ["KIRA_API_KEY": ""])
        #expect(run.status == 1, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stderr.contains("\(flow):1:1:") && run.stderr.contains("api_version"), "\(run.stderr)")
        #expect(!run.stdout.contains("Request it will send"))
        // No session was started for it.
        #expect(!FileManager.default.fileExists(atPath: directory + "/default.json"))
    }

    @Test func usageErrorsExitWith2() async throws {
        let badName = try await KiraBinary.run(["run", "--session", "no/slashes", "--plain"])
        #expect(badName.status == 2)
        let badTarget = try await KiraBinary.run(["run", "--plain", "--yes", "--target", "ftp://example.com"])
        #expect(badTarget.status == 2)
        let insecure = try await KiraBinary.run(
            ["run", "--plain", "--yes", "--target", "http://example.com/sandbox", "--state-dir", stateDirectory()],
            environment: demoEnvironment)
        #expect(insecure.status == 1)
        #expect(insecure.stderr.contains("https"))
    }

    @Test func sessionsAreListedAndResetKeepsABackup() async throws {
        let directory = stateDirectory()
        let run = try await KiraBinary.run(
            ["run", "--plain", "--yes", "--session", "first", "--state-dir", directory, "--va-ready-after", "0.2"],
            environment: ["KIRA_API_KEY": ""], timeout: 120
        )
        #expect(run.status == 0)
        let listed = try await KiraBinary.run(["sessions", "--state-dir", directory])
        #expect(listed.stdout.contains("first  complete  local emulator"))
        let reset = try await KiraBinary.run(["reset", "--session", "first", "--state-dir", directory])
        #expect(reset.status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(files.contains { $0.hasPrefix("first.json.bak-") })
        #expect(files.contains { $0.hasPrefix("first.emulator.json.bak-") })
        #expect(!files.contains("first.json"))
        let status = try await KiraBinary.run(["status", "--session", "first", "--state-dir", directory])
        #expect(status.status == 1)
        #expect(status.stderr.contains("No session"))
    }
}

/// A small seeded generator (SplitMix64), so a randomized test can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
