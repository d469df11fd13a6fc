import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// The full-screen interface in a real terminal (tmux), started with no credentials.
@Suite(.serialized) struct TerminalSessionTests {
    func stateDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kira-tui-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func command(_ directory: String, _ extra: String = "") -> String {
        "\(KiraBinary.url.path) --state-dir \(directory) --va-ready-after 0.5 \(extra)"
    }

    static let noCredentials = ["KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": ""]

    @Test func enterAloneCarriesANewcomerThroughAllSevenSteps() async throws {
        let directory = stateDirectory()
        let tmux = try TmuxSession(command: command(directory), environment: Self.noCredentials)
        defer { tmux.close() }
        #expect(await tmux.waitFor("LOCAL EMULATOR", timeout: 10), "shown at once")
        let presses = await tmux.pressEnter(until: "Walkthrough complete", limit: 80)
        #expect(presses != nil, "screen:\n\(tmux.screen)")
        let screen = tmux.screen
        #expect(screen.contains("✓ 7. Make a payout"))
        tmux.send("q")
        #expect(await tmux.waitFor("[exited 0]"))
        #expect(tmux.screen.contains("Walkthrough complete: all 7 steps done"), "the terminal is restored and the outcome printed")
        let status = try await KiraBinary.run(["status", "--json", "--state-dir", directory])
        let steps = try JSONValue.parse(status.stdout)["steps"]?.arrayValue ?? []
        #expect(steps.count == 7 && steps.allSatisfy { $0["state"] == "succeeded" })
    }

    @Test func quittingHalfWayAndStartingAgainResumes() async throws {
        let directory = stateDirectory()
        let first = try TmuxSession(command: command(directory), environment: Self.noCredentials)
        defer { first.close() }
        #expect(await first.waitFor("Step 2 of 7"))
        // Authenticate and pin, then quit while creating the user.
        _ = await first.pressEnter(until: "Step 4 of 7", limit: 10)
        first.send("q")
        #expect(await first.waitFor("[exited 0]"))
        #expect(first.screen.contains("Resume with: kira-walkthrough run --session default"))
        let second = try TmuxSession(command: command(directory), environment: Self.noCredentials)
        defer { second.close() }
        #expect(await second.waitFor("Step 4 of 7 · Create a user"), "resumed where it stopped:\n\(second.screen)")
        #expect(await second.waitFor("✓ 3. Pin your version", timeout: 5), "\(second.screen)")
        #expect(second.screen.contains("✓ 2. Authenticate"))
        #expect(await second.pressEnter(until: "Walkthrough complete", limit: 80) != nil, "\(second.screen)")
    }

    @Test func resizingAtAnyTimeRedrawsAndASmallTerminalRecovers() async throws {
        let directory = stateDirectory()
        let tmux = try TmuxSession(command: command(directory), environment: Self.noCredentials)
        defer { tmux.close() }
        #expect(await tmux.waitFor("Request it will send"))
        tmux.resize(width: 60, height: 18)
        #expect(await tmux.waitFor("Terminal too small"), "\(tmux.screen)")
        tmux.resize(width: 100, height: 30)
        #expect(await tmux.waitFor("Request it will send"), "\(tmux.screen)")
        #expect(!tmux.screen.contains("Terminal too small"))
        // Still usable after the resizes.
        #expect(await tmux.pressEnter(until: "Step 3 of 7", limit: 10) != nil)
    }

    @Test func aBodyEditedInAnEditorScriptIsSent() async throws {
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
        // Exactly one Enter (authenticate), so no extra Enter can send the pin before it is edited.
        #expect(await tmux.waitFor("Step 2 of 7"))
        #expect(await tmux.waitFor("Press Enter to send"))
        tmux.send("Enter")
        #expect(await tmux.waitFor("Step 3 of 7"), "\(tmux.screen)")
        #expect(await tmux.waitFor("target_version"))
        #expect(await tmux.waitFor("Press Enter to send"))
        tmux.send("e")
        // The edited body is sent (after a confirming Enter if the screen asks for one) and recorded.
        let deadline = Date().addingTimeInterval(20)
        var edited: JSONValue?
        while Date() < deadline, edited == nil {
            let text = (try? String(contentsOfFile: directory + "/default.json", encoding: .utf8)) ?? ""
            let exchanges = (try? JSONValue.parse(text))?["exchanges"]?.arrayValue ?? []
            edited = exchanges.first {
                $0["request_id"]?.stringValue == "pin" && ($0["request_body"]?.stringValue ?? "").contains("edited")
            }
            if edited == nil, tmux.screen.contains("Press Enter to send") { tmux.send("Enter") }
            try await Task.sleep(for: .milliseconds(200))
        }
        let exchange = try #require(edited, "the edited body was sent:\n\(tmux.screen)")
        let body = try JSONValue.parse(try #require(exchange["request_body"]?.stringValue))
        #expect(body["note"] == "edited")
        #expect(body["target_version"] == "2026-04-14")
        #expect(exchange["status"]?.intValue == 200, "the emulator ignores the unknown field")
        let runs = try String(contentsOfFile: directory + "/editor-runs", encoding: .utf8)
        #expect(runs.trimmingCharacters(in: .whitespacesAndNewlines) == "2", "reopened once after invalid JSON")
        #expect(await tmux.waitFor("Step 4 of 7"), "the walkthrough went on after the edited pin")
    }

    /// `c` copies the request as curl: to the terminal's clipboard through OSC 52 (tmux keeps it as
    /// a paste buffer when `set-clipboard` is on) and to a file whose path is shown, with the
    /// credentials as `$KIRA_*` variables, never literal.
    @Test func cCopiesTheRequestAsCurlWithoutCredentials() async throws {
        let directory = stateDirectory()
        let tmux = try TmuxSession(command: command(directory), environment: Self.noCredentials)
        defer { tmux.close() }
        _ = tmux.command("set-option", "-g", "set-clipboard", "on")
        #expect(await tmux.waitFor("Step 2 of 7"))
        #expect(await tmux.waitFor("Press Enter to send"), "\(tmux.screen)")
        tmux.send("c")
        #expect(await tmux.waitFor("Copied as curl"), "\(tmux.screen)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".curl.sh") }
        let file = try #require(files.first, "a .curl.sh file in \(directory)")
        #expect(tmux.screen.contains(file), "its path is shown")
        let script = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
        let clipboard = tmux.command("show-buffer")
        for copy in [script, clipboard] {
            #expect(copy.contains("curl -sS -X POST"), "\(copy)")
            #expect(copy.contains("/auth"))
            #expect(copy.contains("x-api-key: $KIRA_API_KEY"))
            #expect(copy.contains("${KIRA_PASSWORD}"))
            let demo = TenantCredentials.demo
            #expect(!copy.contains(demo.apiKey) && !copy.contains(demo.password), "no literal credential:\n\(copy)")
        }
    }

    @Test func withoutATerminalItFallsBackToPlainMode() async throws {
        let result = try await KiraBinary.run(
            ["run", "--yes", "--state-dir", stateDirectory(), "--va-ready-after", "0.3"], environment: Self.noCredentials, timeout: 120
        )
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("(No terminal: running in plain line mode.)"))
    }
    /// `run --tour` in the full-screen interface: Enter alone takes the learner through the tour,
    /// every quirk arranged on purpose and got past with the recommended remedy.
    @Test func enterAloneCarriesALearnerThroughTheTour() async throws {
        let directory = stateDirectory()
        let tmux = try TmuxSession(
            command: "\(KiraBinary.url.path) run --tour --state-dir \(directory) --va-ready-after 2", environment: Self.noCredentials)
        defer { tmux.close() }
        #expect(await tmux.waitFor("quirk tour", timeout: 10), "the header names the tour:\n\(tmux.screen)")
        let presses = await tmux.pressEnter(until: "Walkthrough complete", limit: 120)
        #expect(presses != nil, "screen:\n\(tmux.screen)")
        tmux.send("q")
        #expect(await tmux.waitFor("[exited 0]"), "\(tmux.screen)")
        let status = try await KiraBinary.run(["status", "--json", "--session", "tour", "--state-dir", directory])
        let json = try JSONValue.parse(status.stdout)
        let steps = json["steps"]?.arrayValue ?? []
        #expect(steps.count == 7 && steps.allSatisfy { $0["state"] == "succeeded" }, "\(steps)")
        let export = try await KiraBinary.run(["export", "--format", "markdown", "--session", "tour", "--state-dir", directory])
        for quirk in ["Q-SOF-REJECT", "Q-ONE-VA", "Q-TOKEN-TTL", "Q-PAYOUT-MIN", "Q-VA-READY"] {
            #expect(export.stdout.contains("**\(quirk)**"), "\(quirk) met in the terminal interface")
        }
    }
}
