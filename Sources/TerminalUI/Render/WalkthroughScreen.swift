import Foundation
import KiraJSON
import WalkthroughCore
import WalkthroughPresentation

/// Everything the screen shows: a pure value the app updates and the renderer draws.
public struct WalkthroughScreen: Sendable {
    /// What the action panel shows, and what Enter does.
    public enum Mode: Sendable {
        /// Before the run started (the embedded emulator is starting).
        case starting(String)
        /// A request is ready: Enter sends it.
        case confirm
        /// A request is in flight.
        case sending(since: Date)
        /// Polling: the next attempt at `next`.
        case waiting(next: Date, attempt: Int, quirk: String?, explain: String?)
        /// A value is needed.
        case input(InputRequest, text: String)
        /// A quirk blocks the step: remedies, with a selection.
        case blocked(BlockedQuirk, selection: Int)
        /// An interrupted request without idempotency key: resend?
        case resend
        /// The step failed: retry, skip or quit.
        case failed(String)
        /// Every step is over.
        case complete
        /// The run stopped (advice for a person, or an error).
        case stopped(String)
    }

    /// Panes that Tab moves between; the focused one scrolls.
    public enum Pane: Int, Sendable, CaseIterable {
        case steps, explanation, request, response
    }

    /// A note-quirk met for the first time: the card the walkthrough pauses on until Enter.
    public struct Lesson: Sendable, Equatable {
        /// The quirk id.
        public var quirkID: String
        /// The catalogue's one-line summary, when it has one.
        public var summary: String?
        /// The flow's explanation, rendered.
        public var explanation: String
        /// The response field the quirk is about (its rule's condition), when it names one.
        public var field: String?
        /// That field's value in the response, as text.
        public var value: String?

        /// Every field.
        public init(quirkID: String, summary: String?, explanation: String, field: String?, value: String?) {
            self.quirkID = quirkID
            self.summary = summary
            self.explanation = explanation
            self.field = field
            self.value = value
        }
    }

    public var flowTitle: String
    public var sessionName: String
    /// `LOCAL EMULATOR`, or the base URL.
    public var targetLabel: String
    public var isLocalEmulator: Bool
    public var pinnedVersion: String?
    public var tokenExpiresAt: Date?
    public var steps: [(title: String, state: StepState)]
    public var cursor: Int
    public var explanation: String
    public var preview: RequestPreview?
    public var previewBody: PrettyBody?
    /// Whether the previewed request has been sent (then it is the last exchange's, not the next).
    public var previewSent = false
    /// The exchange shown (the last one, or the one browsed to).
    public var exchange: ExchangeRecord?
    public var responseBody: PrettyBody?
    /// The current step's exchanges, oldest first (retries, re-authentication and polls included).
    public var stepExchanges: [ExchangeRecord] = []
    /// For each request id of the step that waits on a condition, the field the wait watches.
    public var watchedFields: [String: JSONPath] = [:]
    /// The entry of `exchangeEntries` browsed to with `[`/`]`; `nil` follows the last one.
    public var browsedEntry: Int?
    public var captures: [(name: String, value: String)] = []
    public var notes: [SessionEvent] = []
    /// The lesson card shown over the screen, until Enter.
    public var lesson: Lesson?
    /// The quirks met, shown on the last screen.
    public var quirksMet: QuirksMet?
    public var mode: Mode
    public var focus: Pane = .request
    public var scroll: [Pane: Int] = [:]
    public var revealSecrets = false
    public var showResponseHeaders = false
    public var showHelp = false
    /// A one-line message (copied to clipboard, editor errors…).
    public var flash: String?

    public init(
        flowTitle: String, sessionName: String, targetLabel: String, isLocalEmulator: Bool, steps: [(title: String, state: StepState)],
        mode: Mode
    ) {
        self.flowTitle = flowTitle
        self.sessionName = sessionName
        self.targetLabel = targetLabel
        self.isLocalEmulator = isLocalEmulator
        self.steps = steps
        cursor = 0
        explanation = ""
        self.mode = mode
    }

    /// The step's exchanges as the screen lists them: repeated polls of a waiting request fold
    /// into one entry.
    public var exchangeEntries: [ExchangeEntry] {
        let exchanges = stepExchanges.isEmpty ? (exchange.map { [$0] } ?? []) : stepExchanges
        return ExchangeEntry.entries(exchanges, watchedFields: watchedFields)
    }

    /// Whether a request is waiting for the go-ahead (or in flight) and has not been answered yet.
    public var hasNextRequest: Bool { preview != nil && !previewSent }

    /// The keys that work right now, for the footer: the key, what it does, and a shorter label
    /// for narrow terminals.
    public var footerKeys: [(key: String, action: String)] { footerEntries.map { ($0.key, $0.action) } }

    /// The footer's keys with their short labels, most important first (`?` and `q` last, always kept).
    var footerEntries: [FooterKey] {
        var keys: [FooterKey] = []
        if lesson != nil {
            return [FooterKey("Enter", "go on", "go on"), FooterKey("?", "help", "help"), FooterKey("q", "quit", "quit")]
        }
        if case .complete = mode {
            // The list of quirks met is the only pane left: no exchanges, no focus, no headers.
            return [FooterKey("j/k", "scroll", "scroll"), FooterKey("?", "help", "help"), FooterKey("q", "quit", "quit")]
        }
        switch mode {
        case .confirm:
            keys += [
                FooterKey("Enter", "send", "send"), FooterKey("e", "edit body", "edit"), FooterKey("c", "copy curl", "curl"),
                FooterKey("s", revealSecrets ? "hide secrets" : "reveal", revealSecrets ? "hide" : "reveal"),
            ]
        case .blocked(let blocked, _):
            keys += [
                FooterKey("Enter", "recommended", "pick"), FooterKey("1-\(min(9, blocked.remedies.count))", "choose", "choose"),
                FooterKey("↑↓", "select", "select"),
            ]
        case .input: keys += [FooterKey("Enter", "accept", "accept"), FooterKey("Esc", "cancel", "cancel")]
        case .waiting: keys += [FooterKey("Esc", "stop waiting", "stop")]
        case .failed: keys += [FooterKey("r", "retry", "retry"), FooterKey("S", "skip step", "skip")]
        case .resend: keys += [FooterKey("Enter/y", "send again", "resend"), FooterKey("n", "don't", "no")]
        case .sending, .starting, .complete, .stopped: break
        }
        if case .input = mode {
        } else {
            if exchangeEntries.count > 1 { keys.append(FooterKey("[ ]", "exchanges", "exch.")) }
            keys += [
                FooterKey("Tab", "focus", "focus"), FooterKey("j/k", "scroll", "scroll"), FooterKey("h", "headers", "hdrs"),
                FooterKey("?", "help", "help"), FooterKey("q", "quit", "quit"),
            ]
        }
        return keys
    }
}

/// One key of the footer.
struct FooterKey: Sendable {
    var key: String
    var action: String
    var short: String

    init(_ key: String, _ action: String, _ short: String) {
        self.key = key
        self.action = action
        self.short = short
    }
}

/// One entry of a step's exchanges: a single exchange, or a run of polls of the same waiting
/// request folded together.
public struct ExchangeEntry: Sendable {
    /// The exchanges, oldest first; the last is the one shown.
    public var exchanges: [ExchangeRecord]
    /// The field the wait watches, when the entry is a run of polls.
    public var watchedField: JSONPath?

    /// The exchange shown for the entry.
    public var last: ExchangeRecord { exchanges[exchanges.count - 1] }

    /// How the watched field moved across the polls, repeats removed: `["CREATED", "REVIEW"]`.
    public var values: [String] {
        guard let watchedField else { return [] }
        var values: [String] = []
        for exchange in exchanges {
            guard let body = exchange.responseBody, let json = try? JSONValue.parse(body) else { continue }
            let value = watchedField.resolve(in: json).map(WalkthroughEngine.describe) ?? "—"
            if values.last != value { values.append(value) }
        }
        return values
    }

    /// "polled 6×: CREATED → VERIFYING → REVIEW", for a run of more than one poll.
    public func foldLine(times: String = "×", arrow: String = "→") -> String? {
        guard exchanges.count > 1, watchedField != nil else { return nil }
        let moved = values
        return "polled \(exchanges.count)\(times)" + (moved.isEmpty ? "" : ": " + moved.joined(separator: " \(arrow) "))
    }

    /// Groups `exchanges`: consecutive exchanges of a request that waits on a field fold into one entry.
    public static func entries(_ exchanges: [ExchangeRecord], watchedFields: [String: JSONPath]) -> [ExchangeEntry] {
        var entries: [ExchangeEntry] = []
        for exchange in exchanges {
            if watchedFields[exchange.requestID] != nil, let last = entries.last, last.watchedField != nil,
                last.last.requestID == exchange.requestID
            {
                entries[entries.count - 1].exchanges.append(exchange)
            } else {
                entries.append(ExchangeEntry(exchanges: [exchange], watchedField: watchedFields[exchange.requestID]))
            }
        }
        return entries
    }
}

/// Which glyphs to draw with: Unicode, or ASCII when the locale is not UTF-8.
public struct Glyphs: Sendable {
    public var pending, current, succeeded, blocked, failed, skipped, rule, bullet, spinner: [String]
    /// Whether every glyph is ASCII: then the renderer folds any other character on screen to ASCII too.
    public var isASCII = false

    public static let unicode = Glyphs(
        pending: ["○"], current: ["▶"], succeeded: ["✓"], blocked: ["⚑"], failed: ["✗"], skipped: ["↷"], rule: ["─"], bullet: ["•"],
        spinner: ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
    )
    public static let ascii = Glyphs(
        pending: [" "], current: [">"], succeeded: ["+"], blocked: ["!"], failed: ["x"], skipped: ["-"], rule: ["-"], bullet: ["*"],
        spinner: ["|", "/", "-", "\\"], isASCII: true
    )

    func glyph(for state: StepState, current: Bool) -> String {
        switch state {
        case .succeeded: succeeded[0]
        case .skipped: skipped[0]
        case .blocked: blocked[0]
        case .failed: failed[0]
        default: current ? self.current[0] : pending[0]
        }
    }

    /// The ASCII character drawn for `character` under a locale that is not UTF-8: one column for
    /// one, so the layout stays the same.
    static func asciiFallback(for character: Character) -> Character {
        if character.isASCII { return character }
        guard let scalar = character.unicodeScalars.first, character.unicodeScalars.count == 1 else { return "?" }
        if let stand = ASCIIText.glyph(for: scalar) { return stand }
        switch character {
        case "“", "”", "«", "»": return "\""
        case "‘", "’": return "'"
        default: return "?"
        }
    }
}

/// Draws a `WalkthroughScreen` into a `ScreenGrid`. Pure: the same model and size give the same grid.
public struct WalkthroughRenderer: Sendable {
    public var glyphs: Glyphs
    /// Colours on; off for `NO_COLOR` and monochrome terminals (styles like bold remain).
    public var colors: Bool
    /// The moment drawn (for the spinner, countdowns and the token's lifetime).
    public var now: Date

    public init(glyphs: Glyphs = .unicode, colors: Bool = true, now: Date = Date()) {
        self.glyphs = glyphs
        self.colors = colors
        self.now = now
    }

    public static let minimumWidth = 80
    public static let minimumHeight = 24
    /// Below this width the step list shrinks to glyphs and numbers.
    public static let fullStepListWidth = 100

    func style(_ style: TextStyle) -> TextStyle {
        guard !colors else { return style }
        var plain = style
        plain.color = nil
        return plain
    }

    var separator: String { glyphs.isASCII ? "|" : "│" }
    var dot: String { glyphs.isASCII ? "-" : "·" }
    var arrow: String { glyphs.isASCII ? "->" : "→" }

    /// Masks a secret as `••••` plus its last four characters, unless revealed.
    public static func mask(_ value: String, secrets: [String], reveal: Bool, bullet: String = "•") -> String {
        guard !reveal else { return value }
        var result = value
        for secret in secrets.sorted(by: { $0.count > $1.count }) where secret.count >= 4 && result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: String(repeating: bullet, count: 4) + secret.suffix(4))
        }
        return result
    }

    public func render(_ screen: WalkthroughScreen, width: Int, height: Int) -> ScreenGrid {
        var grid = ScreenGrid(width: width, height: height)
        if width >= Self.minimumWidth, height >= Self.minimumHeight {
            renderHeader(screen, &grid)
            // A message takes whole rows above the footer, wrapped whole; the footer keeps its keys.
            let message = messageLines(screen, width: width, height: height)
            let bottom = height - 2 - message.count
            let listWidth = stepListWidth(screen, width: width)
            renderSteps(screen, &grid, width: listWidth, bottom: bottom)
            for row in 1...bottom { grid.put(separator, row: row, column: listWidth, style: style(TextStyle(dim: true))) }
            renderMain(screen, &grid, left: listWidth + 2, width: width - listWidth - 3, bottom: bottom)
            renderMessage(message, &grid, top: bottom + 1)
            renderFooter(screen, &grid)
            if let lesson = screen.lesson { renderLesson(lesson, &grid) }
            if screen.showHelp { renderHelp(&grid) }
        } else {
            renderTooSmall(&grid)
        }
        if glyphs.isASCII { grid.foldToASCII(Glyphs.asciiFallback) }
        return grid
    }

    func renderTooSmall(_ grid: inout ScreenGrid) {
        let lines = [
            "Terminal too small", "kira-walkthrough needs at least \(Self.minimumWidth)×\(Self.minimumHeight)",
            "(now \(grid.width)×\(grid.height)). Make the window larger;", "the walkthrough carries on where it is.",
        ]
        let top = max(0, grid.height / 2 - 2)
        for (offset, line) in lines.enumerated() {
            let text = DisplayWidth.truncate(line, to: grid.width)
            grid.put(text, row: top + offset, column: max(0, (grid.width - DisplayWidth.of(text)) / 2), style: TextStyle(bold: offset == 0))
        }
    }

    // MARK: Header and footer

    /// The header's parts, each with shorter forms, in the order they are shortened.
    func headerParts(_ screen: WalkthroughScreen) -> [[String]] {
        let target: [String] =
            screen.isLocalEmulator
            ? [" LOCAL EMULATOR ", " LOCAL "]
            : [screen.targetLabel, URL(string: screen.targetLabel)?.host ?? screen.targetLabel]
        let version: [String] =
            screen.pinnedVersion.map { ["version \($0)", "v\($0)"] } ?? ["version not pinned", "not pinned", "unpinned"]
        let token: [String]
        if let expiry = screen.tokenExpiresAt {
            let left = max(0, Int(expiry.timeIntervalSince(now)))
            let clock = "\(left / 60):\(String(format: "%02d", left % 60))"
            token = ["token \(clock)", "tok \(clock)"]
        } else {
            token = ["no token yet", "no token", "no tok"]
        }
        return [[" \(screen.flowTitle) "], ["session \(screen.sessionName)", screen.sessionName], target, version, token]
    }

    /// The header: every part whole, shortened (then dropped whole) to fit the width. The token's
    /// countdown goes last: its lifetime is a lesson of its own (a token expires mid-way).
    func renderHeader(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid) {
        let parts = headerParts(screen)
        var level = parts.map { _ in 0 }
        var shown = Array(parts.indices)
        func width() -> Int {
            shown.reduce(0) { $0 + DisplayWidth.of(parts[$1][level[$1]]) } + max(0, shown.count - 1) * 3
        }
        // Shorten the session, the version, the token, the target, in that order; then drop the
        // session, the version, the target, the token.
        for index in [1, 3, 4, 2] {
            while width() > grid.width, level[index] < parts[index].count - 1 { level[index] += 1 }
        }
        for index in [1, 3, 2, 4] where width() > grid.width { shown.removeAll { $0 == index } }
        let bar = style(TextStyle(reverse: true))
        grid.fill(row: 0, column: 0, width: grid.width, style: bar)
        var x = 0
        for index in shown {
            let text = parts[index][level[index]]
            if index > 0 { x = grid.put(" \(separator) ", row: 0, column: x, style: bar) }
            let partStyle: TextStyle =
                index == 0
                ? style(TextStyle(bold: true, reverse: true))
                : index == 2 && screen.isLocalEmulator ? style(TextStyle(color: .yellow, bold: true, reverse: true)) : bar
            x = grid.put(text, row: 0, column: x, style: partStyle)
        }
    }

    /// The footer: each key with its whole label; shorter labels, then fewer keys (`?` and `q`
    /// stay) when the width asks for it.
    func renderFooter(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid) {
        let row = grid.height - 1
        grid.fill(row: row, column: 0, width: grid.width, style: style(TextStyle(reverse: true)))
        var keys = screen.footerEntries
        let available = grid.width - 2
        func width(_ keys: [FooterKey], short: Bool, gap: Int) -> Int {
            keys.reduce(0) { $0 + DisplayWidth.of($1.key) + 1 + DisplayWidth.of(short ? $1.short : $1.action) } + gap
                * max(0, keys.count - 1)
        }
        var short = false
        var gap = 2
        if width(keys, short: false, gap: 2) > available { gap = 1 }
        if width(keys, short: false, gap: gap) > available { short = true }
        while width(keys, short: short, gap: gap) > available, keys.count > 2 { keys.remove(at: keys.count - 3) }
        var x = 1
        for (index, key) in keys.enumerated() {
            if index > 0 { x += gap }
            x = grid.put(key.key, row: row, column: x, style: style(TextStyle(bold: true, reverse: true)))
            x = grid.put(" " + (short ? key.short : key.action), row: row, column: x, style: style(TextStyle(reverse: true)))
        }
    }

    /// The message of the moment (`flash`: a notice, the tour's banner, an operator action, a
    /// copied path), wrapped whole for the rows above the footer: at most a quarter of the
    /// screen. Longer, its last row ends at a whole word with a "more" mark.
    func messageLines(_ screen: WalkthroughScreen, width: Int, height: Int) -> [String] {
        guard let flash = screen.flash, !flash.isEmpty else { return [] }
        let lines = wrap(flash, width: width - 2)
        let room = max(1, (height - 2) / 4)
        guard lines.count > room else { return lines }
        let mark = " \(glyphs.isASCII ? "v" : "↓") more: any key"
        var last = ""
        for word in lines[room - 1].split(separator: " ") {
            let candidate = last.isEmpty ? String(word) : last + " " + word
            if DisplayWidth.of(candidate + mark) > width - 2 { break }
            last = candidate
        }
        return Array(lines.prefix(room - 1)) + [last + mark]
    }

    /// The message rows, a band just above the footer.
    func renderMessage(_ lines: [String], _ grid: inout ScreenGrid, top: Int) {
        for (offset, line) in lines.enumerated() {
            grid.fill(row: top + offset, column: 0, width: grid.width, style: style(TextStyle(reverse: true)))
            grid.put(line, row: top + offset, column: 1, style: style(TextStyle(color: .yellow, bold: true, reverse: true)))
        }
    }

    // MARK: Step list

    /// Whole titles from 100 columns (wrapped to a second line when one is long); glyphs and
    /// numbers below.
    func stepListWidth(_ screen: WalkthroughScreen, width: Int) -> Int {
        guard width >= Self.fullStepListWidth else { return 6 }
        let longest = screen.steps.enumerated().map { DisplayWidth.of("\($0.offset + 1). \($0.element.title)") + 2 }.max() ?? 20
        return min(max(longest + 2, 20), width >= 120 ? width * 2 / 5 : width * 3 / 10)
    }

    func renderSteps(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid, width: Int, bottom: Int) {
        let compact = width < 12
        grid.put(compact ? "#" : "Steps", row: 2, column: 1, style: style(TextStyle(bold: true, underline: screen.focus == .steps)))
        // Each step: its lines (a long title wraps), then a blank line while there is room.
        var blocks: [[String]] = []
        for (index, step) in screen.steps.enumerated() {
            let glyph = glyphs.glyph(for: step.state, current: index == screen.cursor)
            if compact {
                blocks.append(["\(glyph) \(index + 1)"])
            } else {
                let number = "\(index + 1). "
                let lines = wrap(step.title, width: width - 4 - DisplayWidth.of(number))
                blocks.append(
                    lines.enumerated().map {
                        $0.offset == 0 ? "\(glyph) \(number)\($0.element)" : "  " + String(repeating: " ", count: number.count) + $0.element
                    })
            }
        }
        let available = bottom - 4
        let spaced = blocks.reduce(0) { $0 + $1.count + 1 } <= available + 1
        var row = 4
        for (index, lines) in blocks.enumerated() {
            let step = screen.steps[index]
            let current = index == screen.cursor
            let color: TerminalColor? =
                switch step.state {
                case .succeeded: .green
                case .blocked: .yellow
                case .failed: .red
                default: current ? .cyan : nil
                }
            for line in lines where row <= bottom {
                grid.put(line, row: row, column: 1, style: style(TextStyle(color: color, bold: current, dim: step.state == .skipped)))
                row += 1
            }
            if spaced { row += 1 }
        }
    }

    // MARK: Main area

    /// The current step: title, explanation, the last exchange, the next request, and the panel.
    func renderMain(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid, left: Int, width: Int, bottom: Int) {
        var row = 2
        let title =
            screen.cursor < screen.steps.count
            ? "Step \(screen.cursor + 1) of \(screen.steps.count) \(dot) \(screen.steps[screen.cursor].title)" : "Walkthrough"
        for line in wrap(title, width: width).prefix(2) {
            grid.put(line, row: row, column: left, style: style(TextStyle(bold: true)))
            row += 1
        }
        if case .complete = screen.mode {
            renderComplete(screen, &grid, top: row, left: left, width: width, bottom: bottom)
            return
        }
        let panel = panelLines(screen, width: width)
        let total = bottom - row + 1
        // The panel first, the sections at least 3 rows each, the explanation what is left (up to
        // a third), scrolled with a "more" mark when it does not fit.
        let sectionCount = (screen.exchange != nil ? 1 : 0) + (screen.hasNextRequest || screen.exchange == nil ? 1 : 0)
        let panelHeight = min(panel.count, max(2, total - sectionCount * 4 - 3))
        let explanation = wrap(screen.explanation, width: width)
        let explanationRoom = max(
            2, min(explanation.count, max(3, total * 2 / 7), total - panelHeight - sectionCount * 4 - 1))
        row = renderExplanation(explanation, screen, &grid, top: row, left: left, width: width, height: explanationRoom)
        row += 1
        let panelTop = bottom - panelHeight + 1
        let available = panelTop - row - 1
        if screen.exchange != nil, screen.hasNextRequest {
            let requestLines = (screen.preview?.headers.count ?? 0) + (screen.previewBody?.lines.count ?? 0) + 3
            let requestHeight = max(3, min(requestLines, available / 2))
            row = renderExchange(screen, &grid, top: row, left: left, width: width, height: available - requestHeight)
            _ = renderRequest(screen, &grid, top: row, left: left, width: width, height: requestHeight)
        } else if screen.exchange != nil {
            _ = renderExchange(screen, &grid, top: row, left: left, width: width, height: available)
        } else {
            _ = renderRequest(screen, &grid, top: row, left: left, width: width, height: available)
        }
        var panelRow = panelTop
        let shownPanel = panel.count > panelHeight ? Array(panel.prefix(panelHeight - 1)) : panel
        for (text, lineStyle) in shownPanel where panelRow <= bottom {
            grid.put(text, row: panelRow, column: left, style: style(lineStyle))
            panelRow += 1
        }
        if panel.count > panelHeight {
            grid.put(
                "\(glyphs.isASCII ? "v" : "↓") more below the fold: make the window taller", row: panelRow, column: left,
                style: style(TextStyle(color: .yellow, dim: true)))
        }
    }

    /// The explanation in `height` rows; when longer, the rows scroll (Tab to it, j/k) under a
    /// "more" mark that says how much is hidden.
    func renderExplanation(
        _ lines: [String], _ screen: WalkthroughScreen, _ grid: inout ScreenGrid, top: Int, left: Int, width: Int, height: Int
    ) -> Int {
        guard lines.count > height else {
            for (offset, line) in lines.enumerated() {
                grid.put(line, row: top + offset, column: left, style: style(TextStyle(dim: true)))
            }
            return top + lines.count
        }
        let room = max(1, height - 1)
        let offset = min(max(0, screen.scroll[.explanation] ?? 0), lines.count - room)
        for index in 0..<room {
            grid.put(lines[offset + index], row: top + index, column: left, style: style(TextStyle(dim: true)))
        }
        let hidden = lines.count - room
        let up = glyphs.isASCII ? "^" : "↑"
        let down = glyphs.isASCII ? "v" : "↓"
        let mark =
            offset + room < lines.count
            ? "\(down) more: \(lines.count - offset - room) of \(lines.count) lines below (Tab to it, then j)"
            : "\(up) \(hidden) lines above (k)"
        grid.put(
            mark, row: top + room, column: left,
            style: style(TextStyle(color: .yellow, bold: screen.focus == .explanation, underline: screen.focus == .explanation)))
        return top + height
    }

    /// The last screen: done, then the quirks met with their summaries under a title rule that
    /// holds the scroll position (focused: j/k scroll it), and a "more" mark when the list goes on
    /// below the screen or has scrolled past its top.
    func renderComplete(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid, top: Int, left: Int, width: Int, bottom: Int) {
        var row = top + 1
        grid.put("\(glyphs.succeeded[0]) Walkthrough complete", row: row, column: left, style: style(TextStyle(color: .green, bold: true)))
        row += 2
        var lines: [(String, TextStyle)] = []
        if let met = screen.quirksMet {
            for entry in met.entries {
                let text = "\(entry.summary ?? "")\(entry.blocked ? " (stopped a step)" : "")"
                lines.append(("\(glyphs.bullet[0]) \(entry.id)", TextStyle(color: entry.blocked ? .yellow : .blue, bold: true)))
                for line in wrap(text, width: max(10, width - 4)) { lines.append(("    " + line, .plain)) }
            }
            lines.append(("", .plain))
        }
        for line in wrap("All steps are done. q quits; `kira-walkthrough status` shows what was kept.", width: width) {
            lines.append((line, .plain))
        }
        let title = screen.quirksMet.map { "What you met: \($0.countLine)" }
        let height = bottom - row + 1 - (title == nil ? 0 : 1)
        let fits = lines.count <= height
        // One row for the mark when the list does not fit.
        let room = fits ? height : max(1, height - 1)
        let offset = min(max(0, screen.scroll[.response] ?? 0), max(0, lines.count - room))
        if let title {
            sectionTitle(
                title, focused: true,
                mark: fits ? nil : Self.position(first: offset + 1, last: min(lines.count, offset + room), total: lines.count), &grid,
                row: row, left: left, width: width)
            row += 1
        }
        for index in offset..<min(lines.count, offset + room) {
            grid.put(lines[index].0, row: row + index - offset, column: left, style: style(lines[index].1))
        }
        guard !fits else { return }
        let below = lines.count - offset - room
        let mark =
            below > 0
            ? "\(glyphs.isASCII ? "v" : "↓") more: \(below) of \(lines.count) lines below (j)"
            : "\(glyphs.isASCII ? "^" : "↑") \(offset) lines above (k)"
        grid.put(mark, row: row + room, column: left, style: style(TextStyle(color: .yellow, bold: true)))
    }

    /// A pane's title rule: `── TITLE ──────── [1-20/63] ─`. The scroll position `mark` sits in
    /// the rule, its columns reserved, so it never covers the title or the pane's text.
    func sectionTitle(_ text: String, focused: Bool, mark: String? = nil, _ grid: inout ScreenGrid, row: Int, left: Int, width: Int) {
        let rule = glyphs.rule[0]
        let markWidth = mark.map { DisplayWidth.of($0) + 3 } ?? 0
        let label = "\(rule)\(rule) \(text) "
        let end = grid.put(
            label, row: row, column: left, style: style(TextStyle(bold: true, underline: focused)), limit: max(0, width - markWidth))
        let rest = max(0, width - (end - left))
        grid.put(String(repeating: rule, count: rest), row: row, column: end, style: style(TextStyle(dim: true)))
        if let mark, width - markWidth >= end - left {
            grid.put(" \(mark) ", row: row, column: left + width - markWidth, style: style(TextStyle(dim: true)))
        }
    }

    /// `[first-last/total]`, the lines of a pane on screen.
    static func position(first: Int, last: Int, total: Int) -> String { "[\(first)-\(last)/\(total)]" }

    /// The forms a path takes in a title, longest first: whole; each segment that looks like an
    /// id (long, with digits) abbreviated to its first 8 characters and `…`; then its leading
    /// segments replaced by `…`, down to the last one.
    func pathForms(_ path: String) -> [String] {
        let ellipsis = glyphs.isASCII ? "~" : "…"
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            segment.count > 12 && segment.contains(where: \.isNumber) ? String(segment.prefix(8)) + ellipsis : String(segment)
        }
        var forms = [path, segments.joined(separator: "/")]
        var keep = segments.count - 2
        while keep >= 1 {
            forms.append(ellipsis + "/" + segments.suffix(keep).joined(separator: "/"))
            keep -= 1
        }
        return forms
    }

    /// The next request: what Enter sends.
    func renderRequest(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid, top: Int, left: Int, width: Int, height: Int) -> Int {
        guard let preview = screen.preview, screen.hasNextRequest else {
            sectionTitle("Request it will send next", focused: screen.focus == .request, &grid, row: top, left: left, width: width)
            let text: String
            if case .sending(let since) = screen.mode, screen.lesson == nil {
                let elapsed = now.timeIntervalSince(since)
                text = "\(glyphs.spinner[Int(elapsed * 10) % glyphs.spinner.count]) working… \(String(format: "%.1f", elapsed)) s"
            } else {
                text = "(no request yet)"
            }
            grid.put(text, row: top + 1, column: left, style: style(TextStyle(dim: true)))
            return top + height
        }
        var lines: [[(String, TextStyle)]] = []
        for (offset, part) in wrap(preview.url, width: width - DisplayWidth.of(preview.method) - 1).enumerated() {
            lines.append(
                offset == 0
                    ? [(preview.method + " ", style(TextStyle(color: .magenta, bold: true))), (part, .plain)]
                    : [(String(repeating: " ", count: DisplayWidth.of(preview.method) + 1) + part, .plain)])
        }
        if let label = preview.label { lines.append([("# " + label, style(TextStyle(dim: true)))]) }
        if case .sending(let since) = screen.mode, screen.lesson == nil {
            let elapsed = now.timeIntervalSince(since)
            lines.append([
                (
                    "\(glyphs.spinner[Int(elapsed * 10) % glyphs.spinner.count]) sending… \(String(format: "%.1f", elapsed)) s",
                    style(TextStyle(color: .cyan))
                )
            ])
        }
        for header in preview.headers {
            let value = Self.mask(header.value, secrets: preview.secrets, reveal: screen.revealSecrets, bullet: glyphs.bullet[0])
            lines.append([(header.name + ": ", style(TextStyle(color: .cyan))), (value, .plain)])
        }
        let headerCount = lines.count
        let body = screen.previewBody
        let total = headerCount + (body?.lines.count ?? 0)
        let offset = min(max(0, screen.scroll[.request] ?? 0), max(0, total - (height - 1)))
        sectionTitle(
            "Request it will send next", focused: screen.focus == .request,
            mark: total > height - 1 ? Self.position(first: offset + 1, last: min(total, offset + height - 1), total: total) : nil,
            &grid, row: top, left: left, width: width)
        for index in offset..<min(total, offset + height - 1) {
            let row = top + 1 + index - offset
            if index < headerCount {
                drawSpans(lines[index], &grid, row: row, left: left, width: width)
            } else if let body {
                let line = Self.mask(
                    String(body.lines[index - headerCount]), secrets: preview.secrets, reveal: screen.revealSecrets,
                    bullet: glyphs.bullet[0])
                drawSpans(
                    PrettyBody.spans(of: Substring(line), colored: body.isJSON).map { ($0.0, style($0.1)) }, &grid, row: row, left: left,
                    width: width)
            }
        }
        return top + height
    }

    /// The path of a URL (what the title shows), or the URL when it has none.
    static func path(of url: String) -> String {
        guard let parsed = URL(string: url), !parsed.path.isEmpty else { return url }
        return parsed.path + (parsed.query.map { "?\($0)" } ?? "")
    }

    /// The last exchange (or the one browsed to) as one unit: the request sent and the response
    /// it got, under one title with method, path, status and time.
    func renderExchange(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid, top: Int, left: Int, width: Int, height: Int) -> Int {
        guard let exchange = screen.exchange else { return top }
        let entries = screen.exchangeEntries
        let index = min(screen.browsedEntry ?? (entries.count - 1), max(0, entries.count - 1))
        let status = exchange.status.map { "\($0) \(HTTPReason.text($0))" } ?? "no response"
        let which = screen.browsedEntry == nil || index == entries.count - 1 ? "Last exchange" : "Exchange"
        let position = entries.count > 1 ? " [\(index + 1)/\(entries.count)]" : ""
        let head = "\(which)\(position): \(exchange.method)"
        let tail = "\(arrow) \(status) \(dot) \(String(format: "%.0f ms", exchange.durationMilliseconds))"
        var lines: [[(String, TextStyle)]] = []
        if entries.indices.contains(index),
            let fold = entries[index].foldLine(times: glyphs.isASCII ? "x" : "×", arrow: glyphs.isASCII ? "->" : "→")
        {
            lines.append([(fold, style(TextStyle(color: .cyan, bold: true)))])
        }
        if let note = exchange.note { lines.append([("(\(note))", style(TextStyle(dim: true)))]) }
        // The URL whole, over as many rows as it needs.
        for (offset, part) in wrap(exchange.url, width: width - DisplayWidth.of(exchange.method) - 3).enumerated() {
            lines.append(
                offset == 0
                    ? [
                        ("\(glyphs.isASCII ? ">" : "→") ", style(TextStyle(dim: true))),
                        (exchange.method + " ", style(TextStyle(color: .magenta, bold: true))), (part, .plain),
                    ]
                    : [(String(repeating: " ", count: DisplayWidth.of(exchange.method) + 3) + part, .plain)])
        }
        if screen.showResponseHeaders {
            for header in exchange.requestHeaders where header.count == 2 {
                lines.append([("  " + header[0] + ": ", style(TextStyle(color: .cyan))), (header[1], .plain)])
            }
        }
        if let requestBody = exchange.requestBody {
            let pretty = PrettyBody(text: requestBody)
            for line in pretty.lines.prefix(40) {
                lines.append(PrettyBody.spans(of: Substring("  " + line), colored: pretty.isJSON).map { ($0.0, style($0.1)) })
            }
        }
        if let status = exchange.status {
            let color: TerminalColor = status < 300 ? .green : status < 500 ? .yellow : .red
            lines.append([
                ("\(glyphs.isASCII ? "<" : "←") ", style(TextStyle(dim: true))),
                ("\(status) \(HTTPReason.text(status))", style(TextStyle(color: color, bold: true))),
                (String(format: "  %.0f ms", exchange.durationMilliseconds), style(TextStyle(dim: true))),
            ])
        } else {
            lines.append([("No response: \(exchange.error ?? "unknown error")", style(TextStyle(color: .red, bold: true)))])
        }
        if exchange.status != nil, let error = exchange.error {
            lines.append([("\(glyphs.isASCII ? "!" : "⚠") " + error, style(TextStyle(color: .yellow)))])
        }
        if screen.showResponseHeaders {
            for header in exchange.responseHeaders where header.count == 2 {
                lines.append([(header[0] + ": ", style(TextStyle(color: .cyan))), (header[1], .plain)])
            }
        }
        let headerCount = lines.count
        let body = screen.responseBody
        let trailer = trailerLines(screen, width: width)
        let total = headerCount + (body?.lines.count ?? 0) + trailer.count
        // The title keeps the status and the time whole; the path shortens (ids abbreviated, then
        // its leading segments), or leaves the title to the URL line just below. The scroll
        // position goes in the title's rule when the path fits beside it with ids abbreviated at
        // most (any form in a pane of few rows), else on the pane's last row, kept for it.
        let fixed = 4 + DisplayWidth.of(head) + DisplayWidth.of(tail) + 2
        let forms = pathForms(Self.path(of: exchange.url))
        let scrolls = total > height - 1
        let markWidth = scrolls ? DisplayWidth.of(Self.position(first: total, last: total, total: total)) + 3 : 0
        var path = forms.prefix(height < 6 ? forms.count : 2).first { fixed + DisplayWidth.of($0) + markWidth <= width }
        let markInRule = !scrolls || path != nil || forms.allSatisfy { fixed + DisplayWidth.of($0) > width }
        if path == nil { path = forms.first { fixed + DisplayWidth.of($0) + (markInRule ? markWidth : 0) <= width } }
        let rows = scrolls && !markInRule ? height - 2 : height - 1
        let offset = min(max(0, screen.scroll[.response] ?? 0), max(0, total - rows))
        let mark = scrolls ? Self.position(first: offset + 1, last: min(total, offset + rows), total: total) : nil
        let title = path.map { "\(head) \($0) \(tail)" } ?? "\(head) \(tail)"
        sectionTitle(title, focused: screen.focus == .response, mark: markInRule ? mark : nil, &grid, row: top, left: left, width: width)
        if let mark, !markInRule {
            grid.put(mark, row: top + height - 1, column: left + width - DisplayWidth.of(mark) - 2, style: style(TextStyle(dim: true)))
        }
        for index in offset..<min(total, offset + rows) {
            let row = top + 1 + index - offset
            if index < headerCount {
                drawSpans(lines[index], &grid, row: row, left: left, width: width)
            } else if let body, index - headerCount < body.lines.count {
                drawSpans(
                    PrettyBody.spans(of: body.lines[index - headerCount], colored: body.isJSON).map { ($0.0, style($0.1)) }, &grid,
                    row: row, left: left, width: width)
            } else {
                let line = trailer[index - headerCount - (body?.lines.count ?? 0)]
                drawSpans([(line.0, style(line.1))], &grid, row: row, left: left, width: width)
            }
        }
        return top + height
    }

    /// Captures and notes, shown after the response body.
    func trailerLines(_ screen: WalkthroughScreen, width: Int) -> [(String, TextStyle)] {
        var lines: [(String, TextStyle)] = []
        if !screen.captures.isEmpty {
            lines.append(("", .plain))
            lines.append(("Captured", TextStyle(bold: true)))
            for capture in screen.captures { lines.append(("  \(capture.name) = \(capture.value)", TextStyle(color: .green))) }
        }
        let info = glyphs.isASCII ? "i" : "ℹ"
        for note in screen.notes where note.kind == .note || note.kind == .search || note.kind == .operator {
            lines.append(("", .plain))
            let prefix = note.quirkID.map { "\(info) \($0): " } ?? "\(info) "
            for (index, line) in wrap(prefix + note.text, width: width).enumerated() {
                lines.append((line, TextStyle(color: index == 0 ? .blue : nil)))
            }
        }
        return lines
    }

    func drawSpans(_ spans: [(String, TextStyle)], _ grid: inout ScreenGrid, row: Int, left: Int, width: Int) {
        var x = left
        let end = left + width
        for (text, spanStyle) in spans {
            guard x < end else { break }
            let remaining = end - x
            let shown = DisplayWidth.of(text) > remaining ? DisplayWidth.truncate(text, to: remaining) : text
            x = grid.put(shown, row: row, column: x, style: spanStyle, limit: remaining)
        }
    }

    /// The action panel: what the step needs now. Every line is wrapped whole.
    func panelLines(_ screen: WalkthroughScreen, width: Int) -> [(String, TextStyle)] {
        var lines: [(String, TextStyle)] = []
        func add(_ text: String, _ lineStyle: TextStyle, indent: String = "") {
            for line in wrap(text, width: width - DisplayWidth.of(indent)) { lines.append((indent + line, lineStyle)) }
        }
        switch screen.mode {
        case .starting(let message):
            add("\(glyphs.spinner[Int(now.timeIntervalSince1970 * 10) % glyphs.spinner.count]) \(message)", TextStyle(color: .cyan))
        case .confirm:
            add("Press Enter to send this request.", TextStyle(color: .cyan, bold: true))
        case .sending where screen.lesson != nil:
            add("Paused on the lesson above: Enter goes on.", TextStyle(color: .cyan))
        case .sending(let since):
            add(
                "\(glyphs.spinner[Int(now.timeIntervalSince(since) * 10) % glyphs.spinner.count]) Working… \(String(format: "%.1f", now.timeIntervalSince(since))) s",
                TextStyle(color: .cyan))
        case .waiting(let next, let attempt, let quirk, let explain):
            let left = max(0, next.timeIntervalSince(now))
            add(
                "\(glyphs.spinner[Int(now.timeIntervalSince1970 * 10) % glyphs.spinner.count]) Waiting\(quirk.map { " on \($0)" } ?? ""): poll \(attempt + 1) in \(String(format: "%.1f", left)) s",
                TextStyle(color: .cyan, bold: true))
            if let explain { add(explain, TextStyle(dim: true)) }
        case .input(let request, let text):
            add(request.prompt + (request.optional ? " (optional)" : ""), TextStyle(bold: true))
            let shown = request.secret ? String(repeating: glyphs.bullet[0], count: text.count) : text
            let placeholder = text.isEmpty ? (request.defaultValue.map { "  (Enter for \($0))" } ?? "") : ""
            lines.append(((glyphs.isASCII ? "> " : "› ") + shown + (glyphs.isASCII ? "_" : "▏") + placeholder, TextStyle(color: .cyan)))
            if let error = request.error { add("\(glyphs.failed[0]) " + error, TextStyle(color: .red)) }
        case .blocked(let blocked, let selection):
            add("\(glyphs.blocked[0]) Stopped on \(blocked.quirkID)", TextStyle(color: .yellow, bold: true))
            add(blocked.explanation, .plain)
            for (index, remedy) in blocked.remedies.enumerated() {
                let marker = index == selection ? glyphs.current[0] : " "
                let tag =
                    remedy.recommended
                    ? "  (recommended)"
                    : remedy.available ? "" : "  \(glyphs.isASCII ? "-" : "—") \(remedy.unavailableReason ?? "unavailable")"
                let lineStyle =
                    !remedy.available
                    ? TextStyle(dim: true)
                    : index == selection
                        ? TextStyle(color: .green, bold: true, reverse: true)
                        : remedy.recommended ? TextStyle(color: .green, bold: true) : TextStyle.plain
                let text = "\(index + 1). \(remedy.label)\(tag)"
                let wrapped = DisplayWidth.of(text) <= width - 2 ? [text] : wrap(text, width: width - 2)
                for (offset, line) in wrapped.enumerated() {
                    lines.append(((offset == 0 ? "\(marker) " : "     ") + line, lineStyle))
                }
            }
        case .resend:
            add("The last run stopped while this request was in flight. It has no idempotency key:", TextStyle(color: .yellow, bold: true))
            add("send it again? Enter/y yes, n no.", .plain)
        case .failed(let message):
            add("\(glyphs.failed[0]) The step failed", TextStyle(color: .red, bold: true))
            add(message, .plain)
            add("r retry \(dot) S skip this step \(dot) q quit (progress is saved)", TextStyle(dim: true))
        case .complete:
            add("\(glyphs.succeeded[0]) Walkthrough complete", TextStyle(color: .green, bold: true))
        case .stopped(let message):
            add("Stopped", TextStyle(color: .yellow, bold: true))
            add(message, .plain)
            add("q quits; run the same command again to resume.", TextStyle(dim: true))
        }
        return lines
    }

    /// The lesson card: a box over the screen with the quirk, its explanation and the field it is
    /// about, highlighted, until Enter.
    func renderLesson(_ lesson: WalkthroughScreen.Lesson, _ grid: inout ScreenGrid) {
        let boxWidth = min(grid.width - 2, 84)
        let inner = boxWidth - 4
        var lines: [(String, TextStyle)] = [
            ("Lesson \(dot) \(lesson.quirkID)", TextStyle(color: .yellow, bold: true, reverse: true))
        ]
        if let summary = lesson.summary {
            for line in wrap(summary, width: inner) { lines.append((line, TextStyle(bold: true, reverse: true))) }
        }
        lines.append(("", TextStyle(reverse: true)))
        for line in wrap(lesson.explanation, width: inner) { lines.append((line, TextStyle(reverse: true))) }
        if let field = lesson.field {
            lines.append(("", TextStyle(reverse: true)))
            lines.append(("The field it is about, in the response:", TextStyle(dim: true, reverse: true)))
            for line in wrap("\(field) = \(lesson.value ?? "(absent)")", width: inner) {
                lines.append(("  " + line, TextStyle(color: .yellow, bold: true)))
            }
        }
        lines.append(("", TextStyle(reverse: true)))
        lines.append(("Press Enter to go on.", TextStyle(color: .cyan, bold: true, reverse: true)))
        let height = min(lines.count + 2, grid.height - 2)
        let left = max(0, (grid.width - boxWidth) / 2)
        let top = max(1, (grid.height - height) / 2)
        for row in top..<(top + height) {
            // The whole row: no background text beside the card.
            grid.put(String(repeating: " ", count: grid.width), row: row, column: 0, style: .plain)
            grid.put(String(repeating: " ", count: boxWidth), row: row, column: left, style: style(TextStyle(reverse: true)))
        }
        for (index, line) in lines.prefix(height - 2).enumerated() {
            grid.put(line.0, row: top + 1 + index, column: left + 2, style: style(line.1))
        }
    }

    func renderHelp(_ grid: inout ScreenGrid) {
        let updown = glyphs.isASCII ? "up/dn" : "↑↓"
        let leftright = glyphs.isASCII ? "<- ->" : "← →"
        let lines = [
            "Keys", "", "Enter      the highlighted next action (send, accept, recommended remedy)", "1-9        pick a remedy",
            "e          edit the request body in $VISUAL/$EDITOR", "c          copy the request as a curl command",
            "s          reveal or hide secrets", "h          show or hide headers",
            "[ ] \(leftright)  the step's exchanges, back and forth",
            "Tab        move focus between panes", "\(updown) j k     scroll the focused pane (PgUp/PgDn, g/G)",
            "r          retry a failed step",
            "Esc        cancel a wait or a prompt", "q          quit; progress is saved and the session resumes", "",
            "Press ? or Esc to close",
        ]
        let boxWidth = min(72, grid.width - 2)
        let left = max(0, (grid.width - boxWidth) / 2)
        let top = max(1, (grid.height - lines.count - 2) / 2)
        for row in top..<min(grid.height - 1, top + lines.count + 2) {
            grid.put(String(repeating: " ", count: boxWidth), row: row, column: left, style: style(TextStyle(reverse: true)))
        }
        for (index, line) in lines.enumerated() {
            grid.put(line, row: top + 1 + index, column: left + 2, style: style(TextStyle(bold: index == 0, reverse: true)))
        }
    }

    /// Word-wraps text to `width` columns; a word longer than a line is split across lines (a
    /// URL), never dropped.
    func wrap(_ text: String, width: Int) -> [String] {
        let width = max(1, width)
        var lines: [String] = []
        var line = ""
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            var word = String(word)
            let candidate = line.isEmpty ? word : line + " " + word
            if DisplayWidth.of(candidate) <= width {
                line = candidate
                continue
            }
            if !line.isEmpty { lines.append(line) }
            while DisplayWidth.of(word) > width {
                var head = ""
                for character in word {
                    if DisplayWidth.of(head) + DisplayWidth.of(character) > width { break }
                    head.append(character)
                }
                lines.append(head)
                word.removeFirst(head.count)
            }
            line = word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
