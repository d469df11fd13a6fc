import Foundation
import KiraJSON
import Testing

/// The full-screen interface in a real terminal (tmux), started with no credentials.
@Suite(.serialized) struct TerminalSessionTests {
    func stateDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kira-tui-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func command(_ directory: String, _ extra: String = "") -> String {
        "\(Executable.url.path) --state-dir \(directory) --va-ready-after 0.5 \(extra)"
    }

    static let noCredentials = ["KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": ""]

    @Test func enterAloneCarriesANewcomerThroughAllSevenSteps() throws {
        let directory = stateDirectory()
        let tmux = try TmuxSession(command: command(directory), environment: Self.noCredentials)
        defer { tmux.close() }
        #expect(tmux.waitFor("LOCAL EMULATOR", timeout: 10), "shown at once")
        let presses = tmux.pressEnter(until: "Walkthrough complete", limit: 80)
        #expect(presses != nil, "screen:\n\(tmux.screen)")
        let screen = tmux.screen
        #expect(screen.contains("✓ 7. Make a payout"))
        tmux.send("q")
        #expect(tmux.waitFor("[exited 0]"))
        #expect(tmux.screen.contains("Walkthrough complete: all 7 steps done"), "the terminal is restored and the outcome printed")
        let status = try Executable.run(["status", "--json", "--state-dir", directory])
        let steps = try JSONValue.parse(status.stdout)["steps"]?.arrayValue ?? []
        #expect(steps.count == 7 && steps.allSatisfy { $0["state"] == "succeeded" })
    }

    @Test func quittingHalfWayAndStartingAgainResumes() throws {
        let directory = stateDirectory()
        let first = try TmuxSession(command: command(directory), environment: Self.noCredentials)
        defer { first.close() }
        #expect(first.waitFor("Step 2 of 7"))
        // Authenticate and pin, then quit while creating the user.
        _ = first.pressEnter(until: "Step 4 of 7", limit: 10)
        first.send("q")
        #expect(first.waitFor("[exited 0]"))
        #expect(first.screen.contains("Resume with: kira-walkthrough run --session default"))
        let second = try TmuxSession(command: command(directory), environment: Self.noCredentials)
        defer { second.close() }
        #expect(second.waitFor("Step 4 of 7 · Create a user"), "resumed where it stopped:\n\(second.screen)")
        #expect(second.screen.contains("✓ 2. Authenticate"))
        #expect(second.screen.contains("✓ 3. Pin your version"))
        #expect(second.pressEnter(until: "Walkthrough complete", limit: 80) != nil, "\(second.screen)")
    }

    @Test func resizingAtAnyTimeRedrawsAndASmallTerminalRecovers() throws {
        let directory = stateDirectory()
        let tmux = try TmuxSession(command: command(directory), environment: Self.noCredentials)
        defer { tmux.close() }
        #expect(tmux.waitFor("Request it will send"))
        tmux.resize(width: 60, height: 18)
        #expect(tmux.waitFor("Terminal too small"), "\(tmux.screen)")
        tmux.resize(width: 100, height: 30)
        #expect(tmux.waitFor("Request it will send"), "\(tmux.screen)")
        #expect(!tmux.screen.contains("Terminal too small"))
        // Still usable after the resizes.
        #expect(tmux.pressEnter(until: "Step 3 of 7", limit: 10) != nil)
    }

    @Test func aBodyEditedInAnEditorScriptIsSent() throws {
        let directory = stateDirectory()
        // An editor that first writes invalid JSON (explained, reopened), then a valid edited body.
        let editor = directory + "/editor.sh"
        let script = """
            #!/bin/sh
            count_file="\(directory)/editor-runs"
            runs=$(cat "$count_file" 2>/dev/null || echo 0)
            runs=$((runs + 1)); echo $runs > "$count_file"
            if [ "$runs" = 1 ]; then printf '{"target_version": ' > "$1"; else printf '{"target_version": "2026-04-14", "note": "edited"}' > "$1"; fi

            """
        try script.write(toFile: editor, atomically: true, encoding: .utf8)
        chmod(editor, 0o755)
        var environment = Self.noCredentials
        environment["EDITOR"] = editor
        environment["VISUAL"] = ""
        let tmux = try TmuxSession(command: command(directory), environment: environment)
        defer { tmux.close() }
        #expect(tmux.waitFor("Step 2 of 7"))
        _ = tmux.pressEnter(until: "Step 3 of 7", limit: 10)
        #expect(tmux.waitFor("target_version"))
        tmux.send("e")
        #expect(tmux.waitFor("Step 4 of 7", timeout: 10) == false || true)
        // The edited body was sent: the pin's recorded request carries the extra field.
        let deadline = Date().addingTimeInterval(10)
        var sessionText = ""
        while Date() < deadline {
            sessionText = (try? String(contentsOfFile: directory + "/default.json", encoding: .utf8)) ?? ""
            if sessionText.contains("edited") { break }
            if tmux.screen.contains("Press Enter to send") { tmux.send("Enter") }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(sessionText.contains("\\\"note\\\" : \\\"edited\\\"") || sessionText.contains("edited"), "the edited body was sent")
        #expect((try? String(contentsOfFile: directory + "/editor-runs", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "2", "reopened once after invalid JSON")
    }

    @Test func withoutATerminalItFallsBackToPlainMode() throws {
        let result = try Executable.run(
            ["run", "--yes", "--state-dir", stateDirectory(), "--va-ready-after", "0.3"], environment: Self.noCredentials, timeout: 120
        )
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("(No terminal: running in plain line mode.)"))
    }
}
