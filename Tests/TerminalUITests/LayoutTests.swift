import Foundation
import KiraJSON
import Testing

@testable import TerminalUI
@testable import WalkthroughCore

/// A recorded exchange for the renderer: `status` and a JSON body.
func exchange(
    _ sequence: Int, _ method: String, _ path: String, request: String, status: Int, body: String, requestBody: String? = nil
) -> ExchangeRecord {
    ExchangeRecord(
        sequence: sequence, stepID: "create_user", requestID: request, note: nil, method: method,
        url: "http://127.0.0.1:4010/sandbox\(path)", requestHeaders: [["x-api-key", "[REDACTED]"]], requestBody: requestBody,
        status: status, responseHeaders: [["content-type", "application/json"]], responseBody: body, error: nil, startedAt: epoch,
        durationMilliseconds: 12
    )
}

/// The create-user step after a POST and three polls, with the next request (another poll) ready.
func pollingScreen() -> WalkthroughScreen {
    var state = screen()
    state.stepExchanges = [
        exchange(
            1, "POST", "/v1/users", request: "create_user", status: 201, body: #"{"id": "u-1", "status": "CREATED"}"#,
            requestBody: #"{"type": "individual"}"#),
        exchange(2, "GET", "/v1/users/u-1", request: "user_verified", status: 200, body: #"{"id": "u-1", "status": "CREATED"}"#),
        exchange(3, "GET", "/v1/users/u-1", request: "user_verified", status: 200, body: #"{"id": "u-1", "status": "VERIFYING"}"#),
        exchange(4, "GET", "/v1/users/u-1", request: "user_verified", status: 200, body: #"{"id": "u-1", "status": "REVIEW"}"#),
    ]
    state.watchedFields = ["user_verified": try! #require(JSONPath("status"))]
    state.exchange = state.stepExchanges.last
    state.responseBody = PrettyBody(text: state.exchange!.responseBody!)
    state.preview?.method = "GET"
    state.preview?.url = "http://127.0.0.1:4010/sandbox/v1/users/u-1"
    state.preview?.body = nil
    state.previewBody = nil
    state.previewSent = false
    return state
}

/// The main column of a screen (right of the step list's separator), one string per row.
func mainColumn(_ grid: ScreenGrid) -> [String] {
    grid.lines.map { line in
        guard let bar = line.firstIndex(where: { $0 == "│" || $0 == "|" }) else { return "" }
        return String(line[line.index(after: bar)...]).trimmingCharacters(in: .whitespaces)
    }
}

@Suite struct ExchangePairTests {
    @Test func theLastExchangeIsOneUnitAndTheNextRequestIsLabelled() {
        let text = render(pollingScreen(), width: 120, height: 35).text
        #expect(text.contains("Last exchange [2/2]: GET /sandbox/v1/users/u-1 → 200 OK · 12 ms"), "\(text)")
        #expect(text.contains("Request it will send next"))
        #expect(text.contains("← 200 OK"))
        #expect(text.contains("→ GET http://127.0.0.1:4010/sandbox/v1/users/u-1"))
        let rows = text.components(separatedBy: "\n")
        let last = rows.firstIndex { $0.contains("Last exchange") } ?? -1
        let next = rows.firstIndex { $0.contains("Request it will send next") } ?? -1
        #expect(last >= 0 && next > last, "the exchange first, the next request below it")
    }

    @Test func repeatedPollsFoldIntoOneLineThatShowsHowTheValueMoved() {
        let state = pollingScreen()
        #expect(state.exchangeEntries.count == 2)
        #expect(state.exchangeEntries[1].foldLine() == "polled 3×: CREATED → VERIFYING → REVIEW")
        #expect(render(state, width: 120, height: 35).text.contains("polled 3×: CREATED → VERIFYING → REVIEW"))
        #expect(state.exchangeEntries[0].foldLine() == nil, "a single exchange is not a fold")
    }

    @Test func browsingBackShowsTheEarlierExchangeWithItsRequest() {
        var state = pollingScreen()
        state.browsedEntry = 0
        state.exchange = state.stepExchanges[0]
        state.responseBody = PrettyBody(text: state.exchange!.responseBody!)
        let text = render(state, width: 120, height: 35).text
        #expect(text.contains("Exchange [1/2]: POST /sandbox/v1/users → 201 Created"), "\(text)")
        #expect(text.contains("\"type\": \"individual\""), "the request body sent, in the same unit")
        #expect(!text.contains("Last exchange"))
    }

    @Test func anAnsweredRequestIsNotShownAsTheNextOne() {
        var state = pollingScreen()
        state.previewSent = true
        let text = render(state, width: 120, height: 35).text
        #expect(!text.contains("Request it will send next"))
        #expect(text.contains("Last exchange"))
    }
}

@Suite struct WholeTextTests {
    static let longExplanation =
        "A user is the person or business the money belongs to. The sandbox runs its KYC check as soon as the user is created: without source_of_funds it rejects the user within seconds, and it never approves anyone by itself. A complete user goes CREATED → VERIFYING → REVIEW and waits there for a Kira operator. The walkthrough gates on status, never on verification_status, which can say the opposite."

    @Test func at120ColumnsTitlesAndTheExplanationAreWhole() {
        var state = screen()
        state.explanation = Self.longExplanation
        let grid = render(state, width: 120, height: 35)
        for (index, title) in titles.enumerated() {
            #expect(grid.text.contains("\(index + 1). \(title)"), "\(title) whole:\n\(grid.text)")
        }
        let joined = mainColumn(grid).joined(separator: " ").split(separator: " ").joined(separator: " ")
        #expect(joined.contains(Self.longExplanation), "\(grid.text)")
        #expect(!grid.text.contains("…"), "nothing cut with an ellipsis")
    }

    @Test func at80x24TheHeaderAndFooterAreWholeAndTheExplanationScrolls() {
        var state = screen()
        state.pinnedVersion = nil
        state.tokenExpiresAt = nil
        state.explanation = Self.longExplanation
        let grid = render(state, width: 80, height: 24)
        let header = grid.lines[0]
        #expect(!header.contains("pinn") || header.contains("not pinned") || header.contains("unpinned"), "\(header)")
        #expect(header.contains("Kira sandbox quickstart"))
        let footer = grid.lines[23]
        for key in state.footerEntries {
            #expect(
                footer.contains("\(key.key) \(key.action)") || footer.contains("\(key.key) \(key.short)") || !footer.contains(key.key + " ")
            )
        }
        #expect(footer.contains("? help") && footer.contains("q quit"), "\(footer)")
        // Every token of the main column's explanation rows is a whole word of the explanation.
        let words = Set(Self.longExplanation.split(separator: " ").map(String.init))
        let column = mainColumn(grid)
        let explanationRows = column[3...].prefix { !$0.contains("more:") && !$0.hasPrefix("──") && !$0.isEmpty }
        #expect(!explanationRows.isEmpty)
        for row in explanationRows {
            for token in row.split(separator: " ") { #expect(words.contains(String(token)), "\(token) is cut in\n\(grid.text)") }
        }
        #expect(column.contains { $0.contains("↓ more:") }, "a visible more mark:\n\(grid.text)")
        // Scrolling shows the rest: every word appears once scrolled to the end.
        var scrolled = state
        scrolled.scroll[.explanation] = 100
        let end = mainColumn(render(scrolled, width: 80, height: 24)).joined(separator: " ")
        #expect(end.contains("which can say the opposite."), "\(end)")
        #expect(end.contains("lines above"))
    }

    @Test func below100ColumnsTheStepListShrinksToGlyphsAndNumbers() {
        let grid = render(screen(), width: 80, height: 24)
        #expect(grid.text.contains("✓ 1"))
        #expect(!grid.text.contains("Get your credentials"), "no half titles")
        #expect(grid.text.contains("Step 4 of 7 · Create a user"), "the current title is whole in the main area")
    }

    @Test func aLongHeaderDropsWholePartsNeverHalfWords() {
        var state = screen()
        state.flowTitle = "A rather long walkthrough title for the header"
        state.sessionName = "a-long-session-name-for-the-header"
        let header = render(state, width: 80, height: 24).lines[0]
        #expect(DisplayWidth.of(header) <= 80)
        for part in header.split(separator: "│") {
            let text = part.trimmingCharacters(in: .whitespaces)
            let whole = [
                state.flowTitle, state.sessionName, "session \(state.sessionName)", "LOCAL EMULATOR", "LOCAL", "version 2026-04-14",
                "v2026-04-14", "token 50:00", "tok 50:00",
            ]
            #expect(whole.contains(text), "\(text) is a whole part")
        }
    }

    @Test func theBlockedPanelKeepsItsWholeExplanation() {
        let explanation = WholeTextTests.longExplanation
        let blocked = BlockedQuirk(
            quirkID: "Q-X", requestID: "r", explanation: explanation,
            remedies: [RemedyOption(label: "Go on", available: true, recommended: true, unavailableReason: nil)])
        let grid = render(screen(mode: .blocked(blocked, selection: 0)), width: 120, height: 35)
        let joined = mainColumn(grid).joined(separator: " ").split(separator: " ").joined(separator: " ")
        #expect(joined.contains(explanation), "\(grid.text)")
    }
}

@Suite struct LessonAndLocaleTests {
    @Test func theLessonCardShowsTheQuirkItsExplanationAndTheFieldHighlighted() {
        var state = screen()
        state.lesson = WalkthroughScreen.Lesson(
            quirkID: "Q-EXAMPLE", summary: "an example quirk", explanation: "The field moved from where you expected it.",
            field: "data.token", value: "abc")
        let grid = render(state, width: 80, height: 24)
        #expect(grid.text.contains("Lesson · Q-EXAMPLE"))
        #expect(grid.text.contains("an example quirk"))
        #expect(grid.text.contains("The field moved from where you expected it."))
        #expect(grid.text.contains("Press Enter to go on."))
        let row = try? #require(grid.lines.firstIndex { $0.contains("data.token = abc") })
        if let row,
            let column = grid.lines[row].range(of: "data.token").map({
                grid.lines[row].distance(from: grid.lines[row].startIndex, to: $0.lowerBound)
            })
        {
            #expect(grid[row, column].style.bold && grid[row, column].style.color == .yellow, "highlighted")
        }
        #expect(state.footerKeys.map(\.key) == ["Enter", "?", "q"], "only Enter goes on")
    }

    @Test func theLastScreenListsTheQuirksMet() {
        var state = screen(cursor: 6, states: Array(repeating: .succeeded, count: 7), mode: .complete)
        state.quirksMet = QuirksMet(
            entries: [
                .init(id: "Q-ONE", summary: "the first one", blocked: false), .init(id: "Q-TWO", summary: "the second one", blocked: true),
            ], total: 9)
        let text = render(state, width: 80, height: 24).text
        #expect(text.contains("What you met: 2 of 9 quirks of this flow"), "\(text)")
        #expect(text.contains("Q-ONE") && text.contains("the first one"))
        #expect(text.contains("Q-TWO") && text.contains("the second one (stopped a step)"))
    }

    @Test func asciiGlyphsLeaveNoOtherByteOnScreen() {
        var state = pollingScreen()
        state.explanation = WholeTextTests.longExplanation + " 山田 🙂"
        state.lesson = WalkthroughScreen.Lesson(quirkID: "Q-X", summary: "ok — fine", explanation: "“quoted”", field: nil, value: nil)
        for (width, height) in [(120, 35), (80, 24), (60, 20)] {
            let grid = render(state, width: width, height: height, glyphs: .ascii)
            #expect(grid.text.utf8.allSatisfy { $0 < 0x80 }, "\(grid.text)")
            #expect(grid.cells.allSatisfy { $0.width == 1 })
        }
        var plain = screen()
        plain.cursor = 1
        let text = render(plain, width: 120, height: 35, glyphs: .ascii).text
        #expect(text.contains("Step 2 of 7 - Authenticate"), "\(text)")
        #expect(text.contains("| session default |"))
    }
}

/// What a reviewer found cut or covered in tmux, one test per defect, on the pure renderer.
@Suite struct FitByDesignTests {
    static let tourBanner =
        "Tour: quirk tour. The local emulator is set up so that the quickstart's quirks happen on purpose: a rejected user, an account that already exists, an expired token, a payout below the minimum. Each time, the walkthrough says what the tour arranged, then shows how an integration gets past it."

    /// A step whose last exchange is a GET of a user by its UUID, with a body long enough to scroll.
    func longExchangeScreen(method: String = "GET", path: String = "/v1/users/e58bc84e-5040-4e2f-b860-69221b3f0ad1") -> WalkthroughScreen {
        var state = pollingScreen()
        let body = "{" + (1...60).map { "\"field_\($0)\": \"value \($0)\"" }.joined(separator: ", ") + "}"
        state.stepExchanges.append(exchange(5, method, path, request: "other", status: 201, body: body))
        state.exchange = state.stepExchanges.last
        state.responseBody = PrettyBody(text: body)
        return state
    }

    @Test func theExchangeTitleKeepsItsStatusAndTimeWholeAndShortensThePath() throws {
        for (width, height) in [(120, 35), (80, 24)] {
            for (method, path) in [
                ("GET", "/v1/users/e58bc84e-5040-4e2f-b860-69221b3f0ad1"),
                ("POST", "/v1/virtual-accounts/1aa662c6-081b-489b-bf6e-3d2a1f0c9b7e/deposits"),
            ] {
                let grid = render(longExchangeScreen(method: method, path: path), width: width, height: height)
                let title = try #require(grid.lines.first { $0.contains("Last exchange") }, "\(grid.text)")
                #expect(title.contains("→ 201 Created · 12 ms"), "status and time whole at \(width):\n\(title)")
                #expect(title.contains("[3/3]: \(method) "), "\(title)")
                #expect(title.hasSuffix("─") || title.hasSuffix("12 ms"), "nothing cut at the edge:\n\(title)")
                if path.hasPrefix("/v1/users/") { #expect(title.contains("/users/e58bc84e… → 201 Created"), "\(title)") }
            }
        }
        // A short answer leaves room for the path from its start, the id abbreviated.
        var state = longExchangeScreen()
        state.exchange?.status = 200
        let title = try #require(render(state, width: 120, height: 35).lines.first { $0.contains("Last exchange") })
        #expect(title.contains("GET /sandbox/v1/users/e58bc84e… → 200 OK · 12 ms"), "\(title)")
    }

    @Test func theScrollPositionSitsInThePanesTitleRuleNotOverItsText() throws {
        for (width, height) in [(120, 35), (80, 24)] {
            let grid = render(longExchangeScreen(), width: width, height: height)
            let marked = grid.lines.enumerated().filter { $0.element.contains(/\[\d+-\d+\/\d+\]/) }
            #expect(!marked.isEmpty, "the exchange scrolls:\n\(grid.text)")
            for (_, line) in marked {
                let main = line.split(separator: "│", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                // In a title rule, rule on both sides; or alone on a row kept for it.
                let inRule = main.hasPrefix("── ") && main.contains(/─ \[\d+-\d+\/\d+\] ─$/)
                let alone = main.wholeMatch(of: /\[\d+-\d+\/\d+\]/) != nil
                #expect(inRule || alone, "a mark over text:\n\(line)\n\(grid.text)")
            }
        }
    }

    @Test func aLongMessageWrapsWholeAboveTheFooterWhichKeepsItsKeys() {
        for (width, height) in [(120, 35), (80, 24)] {
            var state = screen()
            state.flash = Self.tourBanner
            let grid = render(state, width: width, height: height)
            let footer = grid.lines[height - 1]
            #expect(footer.contains("Enter send") && footer.contains("? help") && footer.contains("q quit"), "\(footer)")
            let joined = grid.lines.suffix(8).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
            #expect(joined.contains(Self.tourBanner), "the whole message at \(width)×\(height):\n\(grid.text)")
            var notice = screen()
            notice.flash = "As the Kira operator on the local emulator: verify_user 52c68729-f06c-4d2b-9a7e-0c1d2e3f4a5b"
            let noticed = render(notice, width: width, height: height)
            #expect(noticed.lines[height - 1].contains("q quit"), "\(noticed.text)")
            #expect(noticed.text.contains("52c68729-f06c-4d2b-9a7e-0c1d2e3f4a5b"))
        }
    }

    @Test func theHeaderKeepsATokenIndicatorDuringTheTourAt80Columns() {
        var state = screen()
        state.flowTitle = "Kira sandbox quickstart · quirk tour"
        state.sessionName = "tour"
        let header = render(state, width: 80, height: 24).lines[0]
        #expect(header.contains("tok 50:00"), "\(header)")
        #expect(header.contains("Kira sandbox quickstart · quirk tour"))
        state.tokenExpiresAt = nil
        #expect(render(state, width: 80, height: 24).lines[0].contains("no tok"))
    }

    @Test func theLessonCardClearsItsRowsAndNoSpinnerCountsUnderIt() {
        var state = longExchangeScreen()
        state.previewSent = true
        state.mode = .sending(since: epoch.addingTimeInterval(-2))
        state.lesson = WalkthroughScreen.Lesson(
            quirkID: "Q-SETTLEMENT-FALSE", summary: "settlement_triggered false is normal", explanation: "It settles later.",
            field: "settlement_triggered", value: "false")
        for (width, height) in [(120, 35), (80, 24)] {
            let grid = render(state, width: width, height: height)
            #expect(!grid.text.contains("Working…") && !grid.text.contains("working…") && !grid.text.contains("sending…"), "\(grid.text)")
            let rows = grid.lines.indices.filter {
                grid.lines[$0].contains("Lesson · ") || grid.lines[$0].contains("Press Enter to go on.")
            }
            let first = rows.min() ?? 0
            let last = rows.max() ?? 0
            let boxWidth = min(width - 2, 84)
            let left = (width - boxWidth) / 2
            for row in (first - 1)...(last + 1) {
                for column in 0..<width where column < left || column >= left + boxWidth {
                    #expect(grid[row, column].text == " ", "background at \(row),\(column):\n\(grid.text)")
                }
            }
        }
    }

    func completeScreen(entries: Int) -> WalkthroughScreen {
        var state = pollingScreen()
        state.cursor = 6
        state.steps = zip(titles, Array(repeating: StepState.succeeded, count: 7)).map { ($0, $1) }
        state.mode = .complete
        state.focus = .response
        state.quirksMet = QuirksMet(
            entries: (1...entries).map {
                .init(
                    id: "Q-NUMBER-\($0)", summary: "the quirk number \($0), whose summary is long enough to wrap at 80 columns somewhere",
                    blocked: $0 % 3 == 0)
            }, total: 20)
        return state
    }

    @Test func theLastScreensListScrollsUnderAMoreMarkAndTheFooterOffersOnlyKeysThatWork() throws {
        let state = completeScreen(entries: 12)
        #expect(state.exchangeEntries.count > 1, "the step had exchanges to browse")
        let grid = render(state, width: 80, height: 24)
        let column = mainColumn(grid)
        #expect(column.contains { $0.hasPrefix("↓ more:") }, "\(grid.text)")
        let title = try #require(column.first { $0.contains("What you met: 12 of 20 quirks of this flow") }, "\(grid.text)")
        #expect(title.hasPrefix("── ") && title.contains(/\[1-\d+\/\d+\]/), "\(title)")
        let footer = grid.lines[23]
        #expect(footer.contains("j/k scroll") && footer.contains("q quit"), "\(footer)")
        #expect(!footer.contains("[ ]") && !footer.contains("Tab") && !footer.contains("h h"), "only keys that work: \(footer)")
        // Scrolled to its end: the last entry, the closing sentence, and how much is above.
        var scrolled = state
        scrolled.scroll[.response] = 1000
        let end = mainColumn(render(scrolled, width: 80, height: 24))
        #expect(end.contains { $0.hasPrefix("↑") && $0.contains("lines above") }, "\(end)")
        #expect(end.contains { $0.contains("All steps are done.") })
        #expect(end.contains("• Q-NUMBER-12"))
    }
}
