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
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
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
    }

    @Test func quittingHalfWayAndStartingAgainResumes() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
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
    }

    @Test func resizingAtAnyTimeRedrawsAndASmallTerminalRecovers() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
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
    }

    @Test func aBodyEditedInAnEditorScriptIsSent() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
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
            // One Enter to authenticate and one to leave the lesson on its answer, so no extra Enter
            // can send the pin before it is edited.
            #expect(await tmux.waitFor("Step 2 of 7"))
            #expect(await tmux.waitFor("Press Enter to send"))
            tmux.send("Enter")
            #expect(await tmux.waitFor("Press Enter to go on."), "the lesson of step 2:\n\(tmux.screen)")
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
    }

    /// `c` copies the request as curl: to the terminal's clipboard through OSC 52 (tmux keeps it as
    /// a paste buffer when `set-clipboard` is on) and to a file whose path is shown, with the
    /// credentials as `$KIRA_*` variables, never literal.
    @Test func cCopiesTheRequestAsCurlWithoutCredentials() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
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
    }

    /// The editor is started the way a shell starts a program: its signal mask empty, no signal
    /// ignored, and no descriptor of the walkthrough's open in it beyond the terminal's three.
    @Test func theEditorStartsWithAnEmptySignalMaskAndNoStrayDescriptors() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let directory = stateDirectory()
            let editor = directory + "/editor.sh"
            let script = """
                #!/bin/sh
                grep -E '^Sig(Blk|Ign):' /proc/self/status > "\(directory)/editor-signals.tmp"
                ls /proc/self/fd > "\(directory)/editor-fds"
                mv "\(directory)/editor-signals.tmp" "\(directory)/editor-signals"

                """
            try script.write(toFile: editor, atomically: true, encoding: .utf8)
            chmod(editor, 0o755)
            var environment = Self.noCredentials
            environment["EDITOR"] = editor
            environment["VISUAL"] = ""
            let tmux = try TmuxSession(command: command(directory), environment: environment)
            defer { tmux.close() }
            #expect(await tmux.waitFor("Step 2 of 7"))
            #expect(await tmux.waitFor("Press Enter to send"))
            tmux.send("Enter")
            #expect(await tmux.waitFor("Press Enter to go on."), "the lesson of step 2:\n\(tmux.screen)")
            tmux.send("Enter")
            #expect(await tmux.waitFor("Step 3 of 7"), "\(tmux.screen)")
            #expect(await tmux.waitFor("Press Enter to send"))
            tmux.send("e")
            let signalsFile = directory + "/editor-signals"
            let deadline = Date().addingTimeInterval(20)
            while !FileManager.default.fileExists(atPath: signalsFile), Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            let signals = try String(contentsOfFile: signalsFile, encoding: .utf8)
            let masks = Dictionary(
                uniqueKeysWithValues: signals.split(separator: "\n").map {
                    let parts = $0.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                    return (parts[0], parts.count > 1 ? parts[1] : "")
                })
            #expect(masks["SigBlk"] == "0000000000000000", "blocked in the editor: \(signals)")
            // Signals 32 and 33 are glibc's own (thread cancellation, setxid): no application can
            // reset them, and `sigfillset` leaves them out. Every other signal is at its default.
            let ignored = UInt64(masks["SigIgn"] ?? "", radix: 16)
            #expect(ignored.map { $0 & ~UInt64(0x1_8000_0000) } == 0, "ignored in the editor: \(signals)")
            // 0, 1 and 2, and the one `ls` opens to read the directory.
            let descriptors = try String(contentsOfFile: directory + "/editor-fds", encoding: .utf8).split(separator: "\n").compactMap {
                Int($0)
            }
            #expect(descriptors.filter { $0 > 2 }.count <= 1, "descriptors open in the editor: \(descriptors)")
            #expect(descriptors.allSatisfy { $0 <= 3 }, "descriptors open in the editor: \(descriptors)")

        }
    }

    /// A password typed at the terminal interface's prompt (none in the environment) is used and
    /// never written: not to the state directory, not to a temporary file, not under HOME.
    @Test func aPasswordTypedAtThePromptNeverReachesDisk() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let served = try await ServedEmulator()
            defer { served.terminate() }
            let directory = stateDirectory()
            let temporary = stateDirectory()
            let home = stateDirectory()
            let demo = TenantCredentials.demo
            let environment = [
                "KIRA_API_KEY": demo.apiKey, "KIRA_CLIENT_ID": demo.clientID, "KIRA_PASSWORD": "", "TMPDIR": temporary, "HOME": home,
                "XDG_STATE_HOME": "",
            ]
            let tmux = try TmuxSession(command: command(directory, "--target \(served.baseURL)"), environment: environment)
            defer { tmux.close() }
            #expect(await tmux.waitFor("Your password"), "\(tmux.screen)")
            _ = tmux.command("send-keys", "-t", tmux.name, "-l", demo.password)
            #expect(await tmux.waitFor(String(repeating: "•", count: demo.password.count)), "masked on screen:\n\(tmux.screen)")
            #expect(!tmux.screen.contains(demo.password))
            tmux.send("Enter")
            // Authenticated with it, pinned, and on to the next step (more saves of the session).
            #expect(await tmux.pressEnter(until: "Step 4 of 7", limit: 10) != nil, "\(tmux.screen)")
            tmux.send("q")
            #expect(await tmux.waitFor("[exited 0]"), "\(tmux.screen)")
            let status = try await KiraBinary.run(["status", "--json", "--state-dir", directory])
            let steps = try JSONValue.parse(status.stdout)["steps"]?.arrayValue ?? []
            #expect(steps.count == 7 && steps.prefix(3).allSatisfy { $0["state"] == "succeeded" }, "\(status.stdout)")
            var searched = 0
            for root in [directory, temporary, home] {
                let files = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
                for file in files {
                    guard let data = FileManager.default.contents(atPath: root + "/" + file) else { continue }
                    searched += 1
                    #expect(data.range(of: Data(demo.password.utf8)) == nil, "the typed password is in \(root)/\(file)")
                }
            }
            #expect(searched > 0, "the session file at least was searched")

        }
    }

    /// A session file that is not a session stops the terminal interface with an explanation;
    /// the file is kept as it was, and `reset` moves it aside so that the next run starts over.
    @Test func aCorruptSessionIsExplainedKeptAndCanBeStartedOver() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let directory = stateDirectory()
            let corrupt = Data("{\"schema_version\": 2, \"name\": ".utf8)
            try corrupt.write(to: URL(fileURLWithPath: directory + "/default.json"))
            let first = try TmuxSession(command: command(directory), environment: Self.noCredentials)
            defer { first.close() }
            #expect(await first.waitFor("[exited 1]"), "\(first.screen)")
            // Joined: a long line wraps on the 120 columns.
            let screen = first.command("capture-pane", "-p", "-J", "-t", first.name)
            #expect(screen.contains("is not a readable session") || screen.contains("is corrupt"), "\(first.screen)")
            #expect(screen.contains("left untouched"), "\(first.screen)")
            #expect(screen.contains("kira-walkthrough reset --session default --state-dir \(directory)"), "\(first.screen)")
            #expect(!screen.contains("Progress is saved"), "nothing was saved: \(first.screen)")
            #expect(FileManager.default.contents(atPath: directory + "/default.json") == corrupt, "the file is kept as it was")
            let reset = try await KiraBinary.run(["reset", "--state-dir", directory])
            #expect(reset.status == 0, "\(reset.stderr)")
            let backups = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("default.json.bak-") }
            let backup = try #require(backups.first)
            #expect(FileManager.default.contents(atPath: directory + "/" + backup) == corrupt, "the backup holds the corrupt bytes")
            let second = try TmuxSession(command: command(directory), environment: Self.noCredentials)
            defer { second.close() }
            #expect(await second.waitFor("Step 2 of 7"), "started over:\n\(second.screen)")

        }
    }

    /// `close()` leaves nothing behind: the tmux server, the walkthrough in it and everything
    /// else started there are gone once it returns.
    /// Closing the terminal window (the server goes, the terminal hangs up) ends the walkthrough
    /// quietly: no process left, and no crash on the way out (a last line written to a hung-up
    /// terminal used to trap in Foundation and keep the crash reporter busy for seconds).
    @Test func aClosedTerminalSessionLeavesNoProcessBehind() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let directory = stateDirectory()
            let errors = "\(directory)/stderr.txt"
            let tmux = try TmuxSession(command: command(directory) + " 2> \(errors)", environment: Self.noCredentials)
            #expect(await tmux.waitFor("Step 2 of 7"))
            let server = try #require(
                pid_t(tmux.command("display-message", "-p", "#{pid}").trimmingCharacters(in: .whitespacesAndNewlines)))
            let running = TmuxSession.survivors(of: tmux.socket)
            #expect(running.contains { $0.contains(KiraBinary.url.path) }, "the walkthrough carries the marker: \(running)")
            #expect(running.contains { $0.hasPrefix("\(server) ") }, "the server carries the marker: \(running)")
            tmux.close()
            #expect(TmuxSession.survivors(of: tmux.socket).isEmpty)
            #expect(!TmuxSession.isRunning(server), "the tmux server \(server) is gone")
            let printed = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            #expect(!printed.contains("Fatal error") && !printed.contains("crashed"), "no crash on hang-up:\n\(printed)")

        }
    }

    @Test func withoutATerminalItFallsBackToPlainMode() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let result = try await KiraBinary.run(
                ["run", "--yes", "--state-dir", stateDirectory(), "--va-ready-after", "0.3"], environment: Self.noCredentials, timeout: 120
            )
            #expect(result.status == 0)
            #expect(result.stdout.hasPrefix("(No terminal: running in plain line mode.)"))

        }
    }
    /// `run --tour` in the full-screen interface: Enter alone takes the learner through the tour,
    /// every quirk arranged on purpose and got past with the recommended remedy.
    @Test func enterAloneCarriesALearnerThroughTheTour() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
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
}
