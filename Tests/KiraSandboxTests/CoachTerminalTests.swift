import Foundation
import KiraJSON
import KiraSandbox
import KiraTestSupport
import Testing

/// The coach's full-screen view in a real terminal (tmux), ticking as a script runs.
@Suite(.serialized) struct CoachTerminalTests {
    @Test func theChecklistTicksAsTheScriptRuns() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let inner =
                "cd \(TmuxSession.quote(KiraBinary.packageRoot.path)) && exec \(TmuxSession.quote(KiraBinary.url.path)) coach --port 0"
            let tmux = try TmuxSession(command: "sh -c \(TmuxSession.quote(inner))")
            defer { tmux.close() }
            #expect(await tmux.waitFor("Checklist 0/7", timeout: 30), "\(tmux.screen)")
            let screen = tmux.screen
            let range = try #require(screen.range(of: #"http://127\.0\.0\.1:[0-9]+/sandbox"#, options: .regularExpression), "\(screen)")
            let baseURL = String(screen[range])

            let directory = try KiraBinary.temporaryDirectory("kira-coach-tmux")
            let userFile = directory.appendingPathComponent("user.json")
            try Data(CoachTests.completeUser(email: "ada.tmux@example.com").serialized()).write(to: userFile)
            let gates = directory.appendingPathComponent("gates")
            try FileManager.default.createDirectory(at: gates, withIntermediateDirectories: true)
            let demo = TenantCredentials.demo
            let script = KiraBinary.packageRoot.appendingPathComponent("Tests/KiraSandboxTests/Scripts/coach-seed-curl.sh")
            let run = Task {
                try await KiraBinary.run(
                    [script.path], executable: URL(fileURLWithPath: "/bin/bash"),
                    environment: [
                        "BASE_URL": baseURL, "KIRA_API_KEY": demo.apiKey, "KIRA_CLIENT_ID": demo.clientID, "KIRA_PASSWORD": demo.password,
                        "USER_BODY_FILE": userFile.path, "STEP_GATE": gates.path,
                    ],
                    timeout: 120
                )
            }
            for step in 2...7 {
                FileManager.default.createFile(atPath: gates.appendingPathComponent("\(step)").path, contents: Data())
                #expect(await tmux.waitFor("Checklist \(step)/7", timeout: 30), "step \(step):\n\(tmux.screen)")
                if step < 7 { #expect(!tmux.screen.contains("Checklist \(step + 1)/7"), "step \(step + 1) ticked before its requests") }
            }
            let result = try await run.value
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(tmux.screen.contains("[x] 7. A payout previewed"), "\(tmux.screen)")
            #expect(tmux.screen.contains("Findings: 0 error(s)"), "\(tmux.screen)")

            // The first request opens whole, its secrets masked.
            tmux.send("Home")
            for _ in 0..<40 { tmux.send("Up") }
            tmux.send("Enter")
            #expect(await tmux.waitFor("Request #1: POST /sandbox/auth"), "\(tmux.screen)")
            let detail = tmux.screen
            #expect(detail.contains("\"x-api-key\": \"***\""), "\(detail)")
            for secret in [demo.apiKey, demo.password, demo.clientID] { #expect(!detail.contains(secret), "\(secret) shown") }
            tmux.send("Escape")
            tmux.send("q")
            #expect(await tmux.waitFor("[exited 0]"), "\(tmux.screen)")

        }
    }
}
