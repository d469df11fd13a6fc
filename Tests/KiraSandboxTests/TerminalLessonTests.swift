import Foundation
import KiraTestSupport
import Testing
import WalkthroughCore

/// The terminal interface in tmux: exchanges in pairs, lessons that wait for Enter, the quirks met,
/// whole text at 120×35 and 80×24, a non-UTF-8 locale and `NO_COLOR`.
@Suite(.serialized) struct TerminalLessonTests {
    func stateDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kira-tui-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func command(_ directory: String) -> String {
        "\(KiraBinary.url.path) --state-dir \(directory) --va-ready-after 0.5"
    }

    static let noCredentials = ["KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": ""]

    /// The shipped quickstart, loaded as the walkthrough loads it (its API description and the images
    /// its bodies embed read beside it).
    static func quickstart() throws -> Flow {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("flows/quickstart.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let flows = root.appendingPathComponent("flows")
        return try FlowLoader.load(
            text, file: path,
            readFile: { try? String(contentsOfFile: flows.appendingPathComponent($0).path, encoding: .utf8) },
            readData: { FileManager.default.contents(atPath: flows.appendingPathComponent($0).path) })
    }

    /// The right-hand column of each row (after the step list's separator).
    static func mainColumn(_ screen: String) -> [String] {
        screen.components(separatedBy: "\n").map { line in
            guard let bar = line.firstIndex(where: { $0 == "│" || $0 == "|" }) else { return "" }
            return String(line[line.index(after: bar)...]).trimmingCharacters(in: .whitespaces)
        }
    }

    static func normalized(_ text: String) -> String { text.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ") }

    /// True when `text` stays on screen (and `absent` never shows) for the whole `seconds`, checked every 100 ms.
    func stays(_ tmux: TmuxSession, _ text: String, without absent: String, seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let screen = tmux.screen
            if !screen.contains(text) || screen.contains(absent) { return false }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return true
    }

    @Test func aNoteQuirkPausesOnItsLessonAndTheLastScreenListsTheQuirksMet() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let directory = stateDirectory()
            let flow = try Self.quickstart()
            let tmux = try TmuxSession(command: command(directory), environment: Self.noCredentials)
            defer { tmux.close() }
            #expect(await tmux.waitFor("Step 2 of 7"))
            #expect(await tmux.waitFor("Press Enter to send"), "\(tmux.screen)")
            tmux.send("Enter")
            // /auth's answer is wrapped: the first note-quirk of the run, on a card until Enter.
            #expect(await tmux.waitFor("Lesson · Q-SHAPES"), "\(tmux.screen)")
            #expect(tmux.screen.contains("message = "), "the field it is about:\n\(tmux.screen)")
            #expect(tmux.screen.contains("Press Enter to go on."))
            tmux.send("j")
            tmux.send("x")
            #expect(
                await stays(tmux, "Lesson · Q-SHAPES", without: "Step 3 of 7", seconds: 2), "it does not go on by itself:\n\(tmux.screen)")
            tmux.send("Enter")
            #expect(await tmux.waitFor("Step 3 of 7"), "\(tmux.screen)")
            // Whole titles at 120 columns, and the long explanation of step 4 whole.
            for (index, step) in flow.steps.enumerated() { #expect(tmux.screen.contains("\(index + 1). \(step.title)"), "\(step.title)") }
            _ = await tmux.pressEnter(until: "Step 4 of 7", limit: 10)
            #expect(await tmux.waitFor("Step 4 of 7"))
            let explanation = Self.normalized(flow.steps[3].explain)
            #expect(Self.normalized(Self.mainColumn(tmux.screen).joined(separator: " ")).contains(explanation), "\(tmux.screen)")
            #expect(await tmux.pressEnter(until: "Walkthrough complete", limit: 120) != nil, "\(tmux.screen)")
            #expect(await tmux.waitFor("What you met:"), "\(tmux.screen)")
            let screen = tmux.screen
            let countLine = try #require(screen.firstMatch(of: /\d+ of \d+ quirks of this flow/)).output
            #expect(countLine.hasSuffix("of \(Set(flow.raisableQuirkIDs).count) quirks of this flow"), "\(countLine)")
            for id in ["Q-SHAPES", "Q-NO-AUTO-VERIFY"] { #expect(screen.contains(id), "\(id) met:\n\(screen)") }
            let summary = try #require(flow.api.quirk("Q-NO-AUTO-VERIFY")?.summary)
            #expect(Self.normalized(Self.mainColumn(screen).joined(separator: " ")).contains(summary), "its summary:\n\(screen)")
            tmux.send("q")
            #expect(await tmux.waitFor("[exited 0]"))
            // `status` and the transcript carry the same list.
            let status = try await KiraBinary.run(["status", "--state-dir", directory])
            #expect(status.stdout.contains("Quirks met: \(countLine)"), "\(status.stdout)")
            #expect(status.stdout.contains("Q-NO-AUTO-VERIFY: \(summary)"))
            let transcript = try await KiraBinary.run(["export", "--format", "markdown", "--state-dir", directory])
            #expect(transcript.stdout.contains("## Quirks met"))
            #expect(transcript.stdout.contains("\(countLine)."))
            #expect(transcript.stdout.contains("- **Q-NO-AUTO-VERIFY**: \(summary)"))

        }
    }

    @Test func theLastExchangeIsShownWholeAndTheStepsExchangesCanBeBrowsed() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let directory = stateDirectory()
            let tmux = try TmuxSession(command: command(directory), environment: Self.noCredentials)
            defer { tmux.close() }
            // To the user's creation, passing the lesson of step 2.
            #expect(await tmux.pressEnter(until: "Step 4 of 7", limit: 20) != nil, "\(tmux.screen)")
            #expect(await tmux.waitFor("Press Enter to send"))
            tmux.send("Enter")
            #expect(await tmux.waitFor("Last exchange: POST /sandbox/v1/users → 201 Created"), "\(tmux.screen)")
            // The polls follow; a REVIEW user stops the step (after the lesson on gating, if shown).
            #expect(await tmux.waitFor("Request it will send next"), "the next request apart, labelled:\n\(tmux.screen)")
            #expect(tmux.screen.contains("GET http://127.0.0.1:"))
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, !tmux.screen.contains("Stopped on Q-NO-AUTO-VERIFY") {
                let screen = tmux.screen
                if screen.contains("Press Enter to go on.") || screen.contains("Press Enter to send") { tmux.send("Enter") }
                try await Task.sleep(for: .milliseconds(150))
            }
            let blocked = tmux.screen
            #expect(blocked.contains("Stopped on Q-NO-AUTO-VERIFY"), "\(blocked)")
            #expect(blocked.contains("Last exchange [2/2]: GET /sandbox/v1/users/"), "the polls are one entry:\n\(blocked)")
            let fold = try #require(blocked.firstMatch(of: /polled (\d+)×: ([A-Z →]+)/), "\(blocked)")
            #expect(Int(fold.output.1) ?? 0 >= 2)
            #expect(String(fold.output.2).trimmingCharacters(in: .whitespaces).hasSuffix("REVIEW"), "\(fold.output.0)")
            #expect(String(fold.output.2).hasPrefix("CREATED"), "\(fold.output.0)")
            tmux.send("[")
            #expect(await tmux.waitFor("Exchange [1/2]: POST /sandbox/v1/users → 201 Created"), "\(tmux.screen)")
            #expect(tmux.screen.contains("→ POST http://127.0.0.1:"), "the request sent, in the same unit")
            tmux.send("Right")
            #expect(await tmux.waitFor("Last exchange [2/2]: GET"), "\(tmux.screen)")
            tmux.send("q")
            #expect(await tmux.waitFor("[exited 0]"))

        }
    }

    @Test func at80x24TheHeaderFooterAndEverySentenceStayWhole() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let directory = stateDirectory()
            let flow = try Self.quickstart()
            let tmux = try TmuxSession(command: command(directory), width: 80, height: 24, environment: Self.noCredentials)
            defer { tmux.close() }
            #expect(await tmux.waitFor("Press Enter to send"), "\(tmux.screen)")
            let first = tmux.screen.components(separatedBy: "\n")
            let header = first[0]
            #expect(header.contains("Kira sandbox quickstart") && header.contains("LOCAL"), "\(header)")
            #expect(header.contains("not pinned") || header.contains("unpinned"), "never 'version not pinn':\n\(header)")
            #expect(header.contains("no token"), "\(header)")
            let footer = first[23]
            for label in ["Enter send", "? help", "q quit"] { #expect(footer.contains(label), "\(label) whole in \(footer)") }
            #expect(!footer.contains("h heade") || footer.contains("h headers"), "\(footer)")
            #expect(await tmux.pressEnter(until: "Step 4 of 7", limit: 20) != nil, "\(tmux.screen)")
            #expect(await tmux.waitFor("Press Enter to send"))
            // The explanation: whole words only, a "more" mark, and the rest after scrolling.
            let explanation = Self.normalized(flow.steps[3].explain)
            let words = Set(explanation.split(separator: " ").map(String.init))
            let screen = tmux.screen
            let column = Self.mainColumn(screen)
            let rows = column[3...].prefix { !$0.contains("more:") && !$0.hasPrefix("──") && !$0.isEmpty }
            #expect(rows.count >= 2, "\(screen)")
            for row in rows {
                for token in row.split(separator: " ") { #expect(words.contains(String(token)), "'\(token)' is cut:\n\(screen)") }
            }
            #expect(column.contains { $0.contains("↓ more:") }, "\(screen)")
            var seen = rows.joined(separator: " ")
            tmux.send("BTab")
            for _ in 0..<12 {
                tmux.send("j")
                try await Task.sleep(for: .milliseconds(120))
                let now = Self.mainColumn(tmux.screen)
                seen +=
                    " " + now[3...].prefix { !$0.contains("more:") && !$0.contains("lines above") && !$0.isEmpty }.joined(separator: " ")
                if tmux.screen.contains("lines above") { break }
            }
            #expect(tmux.screen.contains("lines above"), "scrolled to the end:\n\(tmux.screen)")
            let lastSentence = try #require(explanation.split(separator: ".").last.map { String($0).trimmingCharacters(in: .whitespaces) })
            #expect(Self.normalized(seen).contains(lastSentence), "every sentence can be read:\n\(seen)")
            tmux.send("q")
            #expect(await tmux.waitFor("[exited 0]"))

        }
    }

    /// The tour at 80×24, read as a reviewer did: its banner whole above the footer's keys, a token
    /// countdown in the header once authenticated, and a last screen whose list scrolls at once under
    /// a "more" mark, with the same total as a plain run of the flow.
    @Test func theTourAt80x24KeepsItsBannerTheTokenAndAScrollingLastList() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let directory = stateDirectory()
            let flow = try Self.quickstart()
            let tmux = try TmuxSession(
                command: "\(KiraBinary.url.path) run --tour --state-dir \(directory) --va-ready-after 2", width: 80, height: 24,
                environment: Self.noCredentials)
            defer { tmux.close() }
            #expect(await tmux.waitFor("Tour: quirk tour."), "\(tmux.screen)")
            #expect(await tmux.waitFor("Press Enter to send"), "\(tmux.screen)")
            let first = tmux.screen
            let rows = first.components(separatedBy: "\n")
            #expect(rows[23].contains("? help") && rows[23].contains("q quit"), "the footer's keys stay:\n\(first)")
            #expect(Self.normalized(first).contains("then shows how an integration gets past it."), "the banner whole:\n\(first)")
            #expect(rows[0].contains("no tok"), "\(rows[0])")
            #expect(await tmux.pressEnter(until: "Step 3 of 7", limit: 20) != nil, "\(tmux.screen)")
            #expect(await tmux.waitFor("Press Enter to send"))
            let header = tmux.screen.components(separatedBy: "\n")[0]
            #expect(header.contains(/tok \d+:\d\d/), "the token captured at step 2 counts down:\n\(header)")
            #expect(await tmux.pressEnter(until: "Walkthrough complete", limit: 150) != nil, "\(tmux.screen)")
            #expect(await tmux.waitFor("What you met:"), "\(tmux.screen)")
            let last = tmux.screen
            let countLine = try #require(last.firstMatch(of: /\d+ of (\d+) quirks of this flow/), "\(last)")
            #expect(Int(countLine.output.1) == Set(flow.raisableQuirkIDs).count, "the flow's total, as in a plain run")
            #expect(last.contains("↓ more:"), "\(last)")
            let footer = last.components(separatedBy: "\n")[23]
            #expect(!footer.contains("exch") && !footer.contains("Tab"), "only keys that work:\n\(footer)")
            tmux.send("j")
            #expect(await tmux.waitFor("[2-"), "j scrolls the list at once:\n\(tmux.screen)")
            tmux.send("q")
            #expect(await tmux.waitFor("[exited 0]"))
        }
    }

    @Test func underANonUTF8LocaleEveryByteOnScreenIsASCII() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let directory = stateDirectory()
            var environment = Self.noCredentials
            environment["LANG"] = "C"
            environment["LC_ALL"] = "C"
            let tmux = try TmuxSession(command: command(directory), environment: environment)
            defer { tmux.close() }
            #expect(await tmux.waitFor("Step 2 of 7 - Authenticate"), "\(tmux.screen)")
            #expect(await tmux.waitFor("Press Enter to send"))
            tmux.send("Enter")
            #expect(await tmux.waitFor("Lesson - Q-SHAPES"), "\(tmux.screen)")
            for screen in [tmux.screen, tmux.command("capture-pane", "-p", "-e", "-t", "kira")] {
                let bytes = Array(screen.utf8)
                #expect(bytes.allSatisfy { $0 < 0x80 }, "non-ASCII bytes: \(bytes.filter { $0 >= 0x80 }.prefix(10))\n\(screen)")
            }
            #expect(tmux.screen.contains("| session default |"), "the separators are ASCII, not gone:\n\(tmux.screen)")
            tmux.send("q")
            #expect(await tmux.waitFor("[exited 0]"))

        }
    }

    /// Colour escapes: SGR parameters 30-38, 40-48, 90-97, 100-107. Not 39 and 49, "default
    /// foreground/background": they name no colour, and `capture-pane -e` writes them itself after
    /// every reset (`printf '\e[7mx\e[0m'` captures as `\e[7mx\e[0m\e[39m\e[49m`).
    static func hasColour(_ text: String) -> Bool {
        for match in text.matches(of: /\u{1B}\[([0-9;]*)m/) {
            for parameter in match.output.1.split(separator: ";").compactMap({ Int($0) }) where parameter != 39 && parameter != 49 {
                if (30...48).contains(parameter) || (90...107).contains(parameter) { return true }
            }
        }
        return false
    }

    @Test func noColorDrawsWithoutColourEscapes() async throws {
        // tmux is driven with blocking calls: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            // The same screen with colours first, so the check is known to see them.
            let coloured = try TmuxSession(command: command(stateDirectory()), environment: Self.noCredentials)
            defer { coloured.close() }
            #expect(await coloured.waitFor("Press Enter to send"))
            #expect(Self.hasColour(coloured.command("capture-pane", "-p", "-e", "-t", "kira")), "colours without NO_COLOR")
            coloured.close()
            var environment = Self.noCredentials
            environment["NO_COLOR"] = "1"
            let plain = try TmuxSession(command: command(stateDirectory()), environment: environment)
            defer { plain.close() }
            #expect(await plain.waitFor("Press Enter to send"))
            let capture = plain.command("capture-pane", "-p", "-e", "-t", "kira")
            #expect(!Self.hasColour(capture), "\(capture.debugDescription)")
            #expect(capture.contains("\u{1B}["), "styles such as reverse video remain")

        }
    }
}
