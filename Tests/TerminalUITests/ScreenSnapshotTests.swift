import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import TerminalUI
@testable import WalkthroughCore

/// The screen as text, compared with files in `Snapshots/`. A missing snapshot is recorded and
/// the test fails, so a new one is always looked at before it is trusted.
func assertSnapshot(_ grid: ScreenGrid, named name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    let file = directory.appendingPathComponent("\(name).txt")
    let actual = grid.text + "\n"
    guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
        try? actual.write(to: file, atomically: true, encoding: .utf8)
        Issue.record("Recorded a new snapshot \(name).txt; check it and run again", sourceLocation: sourceLocation)
        return
    }
    #expect(actual == expected, "snapshot \(name) differs:\n\(actual)", sourceLocation: sourceLocation)
}

let epoch = Date(timeIntervalSince1970: 1_800_000_000)

let titles = [
    "Get your credentials", "Authenticate", "Pin your version", "Create a user", "Create a virtual account", "Simulate a deposit (sandbox)",
    "Make a payout (preview, then create)",
]

func screen(cursor: Int = 3, states: [StepState]? = nil, mode: WalkthroughScreen.Mode = .confirm) -> WalkthroughScreen {
    let defaultStates: [StepState] = (0..<7).map { $0 < cursor ? .succeeded : ($0 == cursor ? .ready : .pending) }
    var screen = WalkthroughScreen(
        flowTitle: "Kira sandbox quickstart", sessionName: "default", targetLabel: "LOCAL EMULATOR", isLocalEmulator: true,
        steps: zip(titles, states ?? defaultStates).map { ($0, $1) }, mode: mode
    )
    screen.cursor = cursor
    screen.pinnedVersion = "2026-04-14"
    screen.tokenExpiresAt = epoch.addingTimeInterval(3000)
    screen.explanation =
        "A user is the person or business the money belongs to. The sandbox runs its KYC check as soon as the user is created."
    let body: JSONValue = [
        "type": "individual", "first_name": "Ada", "email": "ada@example.com", "source_of_funds": "salary", "amount": 100,
        "verified": false,
    ]
    screen.preview = RequestPreview(
        method: "POST", url: "http://127.0.0.1:4010/sandbox/v1/users",
        headers: [
            ("x-api-key", "kira_sandbox_demo_key"), ("authorization", "Bearer kat_0123456789abcdef"), ("idempotency-key", "7f1c-key"),
        ],
        body: body, editableBody: body, label: "Create a complete individual", idempotencyKey: "7f1c-key",
        secrets: ["kira_sandbox_demo_key", "kat_0123456789abcdef"], requestID: "create_user"
    )
    screen.previewBody = PrettyBody(json: body)
    return screen
}

func render(_ screen: WalkthroughScreen, width: Int = 100, height: Int = 30, glyphs: Glyphs = .unicode) -> ScreenGrid {
    WalkthroughRenderer(glyphs: glyphs, colors: true, now: epoch).render(screen, width: width, height: height)
}

@Suite struct ScreenSnapshotTests {
    @Test func aReadyRequest() {
        let grid = render(screen())
        assertSnapshot(grid, named: "ready-request")
        #expect(grid.text.contains("LOCAL EMULATOR"))
        #expect(grid.text.contains("x-api-key: ••••_key"), "secrets masked to their last four characters")
        #expect(!grid.text.contains("kira_sandbox_demo_key"))
        #expect(grid.text.contains("token 50:00"))
        #expect(grid.text.contains("Enter send"))
    }

    @Test func revealedSecrets() {
        var state = screen()
        state.revealSecrets = true
        #expect(render(state).text.contains("x-api-key: kira_sandbox_demo_key"))
    }

    @Test func everyStepStateHasItsGlyph() {
        let states: [StepState] = [.succeeded, .skipped, .failed, .blocked, .waiting, .pending, .pending]
        let grid = render(
            screen(
                cursor: 4, states: states,
                mode: .waiting(
                    next: epoch.addingTimeInterval(2.5), attempt: 2, quirk: "Q-VA-READY", explain: "The provider has not opened it yet.")))
        assertSnapshot(grid, named: "step-states-waiting")
        let text = grid.text
        for line in [
            "✓ 1. Get your credentials", "↷ 2. Authenticate", "✗ 3. Pin your version", "⚑ 4. Create a user", "▶ 5. Create a virtual",
            "○ 6. Simulate",
        ] {
            #expect(text.contains(line), "\(line)")
        }
        #expect(text.contains("Waiting on Q-VA-READY: poll 3 in 2.5 s"))
    }

    @Test func asciiGlyphsWhenTheLocaleIsNotUTF8() {
        let states: [StepState] = [.succeeded, .skipped, .failed, .blocked, .ready, .pending, .pending]
        let text = render(screen(cursor: 4, states: states), glyphs: .ascii).text
        #expect(text.contains("+ 1. Get your credentials"))
        #expect(text.contains("> 5. Create a virtual"))
        #expect(text.contains("-- Request it will send"))
    }

    @Test func theBlockedPanel() {
        let blocked = BlockedQuirk(
            quirkID: "Q-ONE-VA", requestID: "create_va",
            explanation: "User u-1 already has an ACT virtual account, and a user can hold only one.",
            remedies: [
                RemedyOption(
                    label: "Find the existing virtual account and reuse it", available: true, recommended: true, unavailableReason: nil),
                RemedyOption(
                    label: "Play the Kira contact", available: false, recommended: false,
                    unavailableReason: "only on this project's emulator"),
                RemedyOption(label: "Stop here", available: true, recommended: false, unavailableReason: nil),
            ]
        )
        var state = screen(cursor: 4, mode: .blocked(blocked, selection: 0))
        state.exchange = ExchangeRecord(
            sequence: 1, stepID: "create_virtual_account", requestID: "create_va", note: nil, method: "POST", url: "u", requestHeaders: [],
            requestBody: nil, status: 409, responseHeaders: [["content-type", "application/json"]],
            responseBody: "{\n  \"code\": \"resource_conflict\"\n}", error: nil, startedAt: epoch, durationMilliseconds: 4
        )
        state.responseBody = PrettyBody(text: state.exchange!.responseBody!)
        let grid = render(state)
        assertSnapshot(grid, named: "blocked-panel")
        let text = grid.text
        #expect(text.contains("⚑ Stopped on Q-ONE-VA"))
        #expect(text.contains("1. Find the existing virtual account and reuse it  (recommended)"))
        #expect(text.contains("2. Play the Kira contact  — only on this project's emulator"))
        #expect(text.contains("409 Conflict"))
        #expect(text.contains("1-3 choose"))
    }

    @Test func aSecretInputIsMasked() {
        let input = InputRequest(
            name: "password", prompt: "Your password", secret: true, defaultValue: nil, format: .text, optional: false,
            error: "password is required", stepID: "credentials")
        let text = render(screen(cursor: 0, mode: .input(input, text: "hunter22"))).text
        #expect(text.contains("› ••••••••"))
        #expect(!text.contains("hunter22"))
        #expect(text.contains("✗ password is required"))
    }

    @Test func theCompleteScreen() {
        let grid = render(screen(cursor: 6, states: Array(repeating: .succeeded, count: 7), mode: .complete))
        #expect(grid.text.contains("✓ Walkthrough complete"))
    }

    @Test func theTooSmallView() {
        let grid = render(screen(), width: 60, height: 20)
        assertSnapshot(grid, named: "too-small")
        #expect(grid.text.contains("Terminal too small"))
        #expect(grid.text.contains("(now 60×20)"))
        // It recovers: the same model at a usable size draws the walkthrough.
        #expect(render(screen(), width: 80, height: 24).text.contains("Request it will send"))
    }

    @Test func wideCharactersTakeTwoColumns() {
        var state = screen()
        let body: JSONValue = ["first_name": "山田", "last_name": "太郎", "note": "🙂 ok"]
        state.preview?.body = body
        state.previewBody = PrettyBody(json: body)
        let grid = render(state)
        assertSnapshot(grid, named: "wide-characters")
        #expect(DisplayWidth.of("山田") == 4)
        let row = try? #require(grid.lines.firstIndex { $0.contains("山田") })
        if let row {
            // Every line still ends at the screen's width: wide characters did not push text out.
            var columns = 0
            for x in 0..<grid.width { columns += grid[row, x].width }
            #expect(columns == grid.width)
        }
        #expect(DisplayWidth.truncate("山田太郎", to: 5) == "山田…")
    }

    @Test func onlyVisibleLinesOfAHugeBodyAreDrawn() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            // 300,002 pretty lines: rendering a screen touches only the visible ones.
            let big = JSONValue.array((0..<100_000).map { .object(["i": .int($0)]) })
            var state = screen()
            state.exchange = ExchangeRecord(
                sequence: 1, stepID: "s", requestID: "r", note: nil, method: "GET", url: "u", requestHeaders: [], requestBody: nil,
                status: 200,
                responseHeaders: [], responseBody: nil, error: nil, startedAt: epoch, durationMilliseconds: 1
            )
            state.responseBody = PrettyBody(json: big)
            state.focus = .response
            state.scroll[.response] = 400_000  // past the end: clamped to the last screen
            let text = render(state).text
            #expect(text.contains("\"i\": 99999"), "scrolled to the end")
            #expect(!text.contains("\"i\": 99990"), "only the last screen is drawn")
            #expect(text.contains("/300004]"), "the request sent, the status line and 300,002 body lines")

        }
    }

    @Test func monochromeKeepsBoldButDropsColours() {
        let grid = WalkthroughRenderer(glyphs: .unicode, colors: false, now: epoch).render(screen(), width: 100, height: 30)
        #expect(grid.cells.allSatisfy { $0.style.color == nil })
        #expect(grid.cells.contains { $0.style.bold })
    }

    @Test func syntaxColoursForJSONLines() {
        let spans = PrettyBody.spans(of: "  \"amount\": \"100.00\", \"n\": -1.5e3, \"ok\": true, \"x\": null", colored: true)
        #expect(spans.first { $0.0 == "\"amount\"" }?.1.color == .cyan)
        #expect(spans.first { $0.0 == "\"100.00\"" }?.1.color == .green)
        #expect(spans.first { $0.0 == "-1.5e3" }?.1.color == .yellow)
        #expect(spans.first { $0.0 == "true" }?.1.color == .magenta)
    }

    @Test func curlCommandsUseVariablesNeverSecrets() throws {
        let preview = try #require(screen().preview)
        var withSecret = preview
        withSecret.editableBody = ["client_id": "c", "password": "{{ password }}"]
        let command = CurlCommand.render(withSecret, baseURL: "http://127.0.0.1:4010/sandbox")
        #expect(command.contains("\"${KIRA_BASE_URL:-http://127.0.0.1:4010/sandbox}/v1/users\""))
        #expect(command.contains("-H \"x-api-key: $KIRA_API_KEY\""))
        #expect(command.contains("-H \"authorization: Bearer $ACCESS_TOKEN\""))
        #expect(command.contains("${KIRA_PASSWORD}"))
        #expect(!command.contains("kira_sandbox_demo_key"))
        #expect(!command.contains("kat_0123456789abcdef"))
    }
}
