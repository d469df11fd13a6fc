import Foundation
import KiraJSON
import WalkthroughCore

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
        case steps, request, response
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
    public var exchange: ExchangeRecord?
    public var responseBody: PrettyBody?
    public var captures: [(name: String, value: String)] = []
    public var notes: [SessionEvent] = []
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

    /// The keys that work right now, for the footer.
    public var footerKeys: [(key: String, action: String)] {
        var keys: [(String, String)] = []
        switch mode {
        case .confirm:
            keys += [("Enter", "send"), ("e", "edit body"), ("c", "copy curl"), ("s", revealSecrets ? "hide secrets" : "reveal")]
        case .blocked(let blocked, _):
            keys += [("Enter", "recommended"), ("1-\(min(9, blocked.remedies.count))", "choose"), ("↑↓", "select")]
        case .input: keys += [("Enter", "accept"), ("Esc", "cancel")]
        case .waiting: keys += [("Esc", "stop waiting")]
        case .failed: keys += [("r", "retry"), ("S", "skip step")]
        case .resend: keys += [("Enter/y", "send again"), ("n", "don't")]
        case .sending, .starting, .complete, .stopped: break
        }
        if case .input = mode {
        } else {
            keys += [("Tab", "focus"), ("j/k", "scroll"), ("h", "headers"), ("?", "help"), ("q", "quit")]
        }
        return keys
    }
}

/// Which glyphs to draw with: Unicode, or ASCII when the locale is not UTF-8.
public struct Glyphs: Sendable {
    public var pending, current, succeeded, blocked, failed, skipped, rule, bullet, spinner: [String]

    public static let unicode = Glyphs(
        pending: ["○"], current: ["▶"], succeeded: ["✓"], blocked: ["⚑"], failed: ["✗"], skipped: ["↷"], rule: ["─"], bullet: ["•"],
        spinner: ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
    )
    public static let ascii = Glyphs(
        pending: [" "], current: [">"], succeeded: ["+"], blocked: ["!"], failed: ["x"], skipped: ["-"], rule: ["-"], bullet: ["*"],
        spinner: ["|", "/", "-", "\\"]
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

    func style(_ style: TextStyle) -> TextStyle {
        guard !colors else { return style }
        var plain = style
        plain.color = nil
        return plain
    }

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
        guard width >= Self.minimumWidth, height >= Self.minimumHeight else {
            renderTooSmall(&grid)
            return grid
        }
        renderHeader(screen, &grid)
        let listWidth = 30
        renderSteps(screen, &grid, width: listWidth)
        for row in 1..<(height - 1) { grid.put("│", row: row, column: listWidth, style: style(TextStyle(dim: true))) }
        renderMain(screen, &grid, left: listWidth + 2, width: width - listWidth - 3)
        renderFooter(screen, &grid)
        if screen.showHelp { renderHelp(&grid) }
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

    func renderHeader(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid) {
        let bar = style(TextStyle(reverse: true))
        grid.fill(row: 0, column: 0, width: grid.width, style: bar)
        var x = grid.put(" \(screen.flowTitle) ", row: 0, column: 0, style: style(TextStyle(bold: true, reverse: true)))
        x = grid.put("│ session \(screen.sessionName) │ ", row: 0, column: x, style: bar)
        if screen.isLocalEmulator {
            x = grid.put(" LOCAL EMULATOR ", row: 0, column: x, style: style(TextStyle(color: .yellow, bold: true, reverse: true)))
        } else {
            x = grid.put(DisplayWidth.truncate(screen.targetLabel, to: 40), row: 0, column: x, style: bar)
        }
        x = grid.put(" │ version \(screen.pinnedVersion ?? "not pinned")", row: 0, column: x, style: bar)
        if let expiry = screen.tokenExpiresAt {
            let left = max(0, Int(expiry.timeIntervalSince(now)))
            grid.put(" │ token \(left / 60):\(String(format: "%02d", left % 60))", row: 0, column: x, style: bar)
        } else {
            grid.put(" │ no token yet", row: 0, column: x, style: bar)
        }
    }

    func renderSteps(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid, width: Int) {
        grid.put("Steps", row: 2, column: 1, style: style(TextStyle(bold: true, underline: screen.focus == .steps)))
        for (index, step) in screen.steps.enumerated() {
            let row = 4 + index * 2
            guard row < grid.height - 2 else { break }
            let current = index == screen.cursor
            let glyph = glyphs.glyph(for: step.state, current: current)
            let color: TerminalColor? =
                switch step.state {
                case .succeeded: .green
                case .blocked: .yellow
                case .failed: .red
                default: current ? .cyan : nil
                }
            let text = DisplayWidth.truncate("\(glyph) \(index + 1). \(step.title)", to: width - 2)
            grid.put(text, row: row, column: 1, style: style(TextStyle(color: color, bold: current, dim: step.state == .skipped)))
        }
    }

    func renderFooter(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid) {
        let row = grid.height - 1
        grid.fill(row: row, column: 0, width: grid.width, style: style(TextStyle(reverse: true)))
        var x = 1
        if let flash = screen.flash {
            grid.put(
                DisplayWidth.truncate(flash, to: grid.width - 2), row: row, column: 1,
                style: style(TextStyle(color: .yellow, bold: true, reverse: true)))
            return
        }
        for key in screen.footerKeys {
            guard x < grid.width - 4 else { break }
            x = grid.put(key.key, row: row, column: x, style: style(TextStyle(bold: true, reverse: true)))
            x = grid.put(" \(key.action)  ", row: row, column: x, style: style(TextStyle(reverse: true)))
        }
    }

    /// The current step: title, explanation, request, response, captures, notes, and the panel.
    func renderMain(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid, left: Int, width: Int) {
        var row = 2
        let bottom = grid.height - 2
        let title =
            screen.cursor < screen.steps.count
            ? "Step \(screen.cursor + 1) of \(screen.steps.count) · \(screen.steps[screen.cursor].title)" : "Walkthrough"
        grid.put(DisplayWidth.truncate(title, to: width), row: row, column: left, style: style(TextStyle(bold: true)))
        row += 1
        for line in wrap(screen.explanation, width: width).prefix(4) {
            grid.put(line, row: row, column: left, style: style(TextStyle(dim: true)))
            row += 1
        }
        row += 1
        let panel = panelLines(screen, width: width)
        let panelTop = max(row + 6, bottom - panel.count)
        let available = panelTop - row - 1
        // Until there is a response, the request takes the room; then they share it.
        let requestLines = (screen.preview?.headers.count ?? 0) + (screen.previewBody?.lines.count ?? 0) + 3
        let requestHeight = screen.exchange == nil ? max(3, available - 3) : max(3, min(requestLines, available / 2))
        let responseHeight = max(3, available - requestHeight)
        row = renderRequest(screen, &grid, top: row, left: left, width: width, height: requestHeight)
        row = renderResponse(screen, &grid, top: row, left: left, width: width, height: responseHeight)
        var panelRow = panelTop
        for (text, lineStyle) in panel where panelRow <= bottom {
            grid.put(DisplayWidth.truncate(text, to: width), row: panelRow, column: left, style: style(lineStyle))
            panelRow += 1
        }
    }

    func sectionTitle(_ text: String, focused: Bool, _ grid: inout ScreenGrid, row: Int, left: Int, width: Int) {
        let rule = glyphs.rule[0]
        let label = "\(rule)\(rule) \(text) "
        let end = grid.put(label, row: row, column: left, style: style(TextStyle(bold: true, underline: focused)))
        let rest = max(0, width - (end - left))
        grid.put(String(repeating: rule, count: rest), row: row, column: end, style: style(TextStyle(dim: true)))
    }

    func renderRequest(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid, top: Int, left: Int, width: Int, height: Int) -> Int {
        sectionTitle("Request it will send", focused: screen.focus == .request, &grid, row: top, left: left, width: width)
        guard let preview = screen.preview else {
            grid.put("(no request yet)", row: top + 1, column: left, style: style(TextStyle(dim: true)))
            return top + height
        }
        var lines: [[(String, TextStyle)]] = []
        lines.append([(preview.method + " ", style(TextStyle(color: .magenta, bold: true))), (preview.url, .plain)])
        if let label = preview.label { lines.append([("# " + label, style(TextStyle(dim: true)))]) }
        for header in preview.headers {
            let value = Self.mask(header.value, secrets: preview.secrets, reveal: screen.revealSecrets)
            lines.append([(header.name + ": ", style(TextStyle(color: .cyan))), (value, .plain)])
        }
        let headerCount = lines.count
        let body = screen.previewBody
        let total = headerCount + (body?.lines.count ?? 0)
        let offset = min(max(0, screen.scroll[.request] ?? 0), max(0, total - (height - 1)))
        for index in offset..<min(total, offset + height - 1) {
            let row = top + 1 + index - offset
            if index < headerCount {
                drawSpans(lines[index], &grid, row: row, left: left, width: width)
            } else if let body {
                let line = Self.mask(String(body.lines[index - headerCount]), secrets: preview.secrets, reveal: screen.revealSecrets)
                drawSpans(
                    PrettyBody.spans(of: Substring(line), colored: body.isJSON).map { ($0.0, style($0.1)) }, &grid, row: row, left: left,
                    width: width)
            }
        }
        if total > height - 1 {
            renderPosition(
                first: offset + 1, last: min(total, offset + height - 1), total: total, &grid, row: top, left: left, width: width)
        }
        return top + height
    }

    func renderResponse(_ screen: WalkthroughScreen, _ grid: inout ScreenGrid, top: Int, left: Int, width: Int, height: Int) -> Int {
        sectionTitle("Response it got", focused: screen.focus == .response, &grid, row: top, left: left, width: width)
        guard let exchange = screen.exchange else {
            let text: String
            switch screen.mode {
            case .sending(let since):
                let elapsed = now.timeIntervalSince(since)
                text = "\(glyphs.spinner[Int(elapsed * 10) % glyphs.spinner.count]) sending… \(String(format: "%.1f", elapsed)) s"
            default: text = "(not sent yet)"
            }
            grid.put(text, row: top + 1, column: left, style: style(TextStyle(dim: true)))
            return top + height
        }
        var lines: [[(String, TextStyle)]] = []
        if let status = exchange.status {
            let color: TerminalColor = status < 300 ? .green : status < 500 ? .yellow : .red
            lines.append([
                ("\(status) \(HTTPReason.text(status))", style(TextStyle(color: color, bold: true))),
                (String(format: "  %.0f ms", exchange.durationMilliseconds), style(TextStyle(dim: true))),
                (exchange.note.map { "  (\($0))" } ?? "", style(TextStyle(dim: true))),
            ])
        } else {
            lines.append([("No response: \(exchange.error ?? "unknown error")", style(TextStyle(color: .red, bold: true)))])
        }
        if exchange.status != nil, let error = exchange.error { lines.append([("⚠ " + error, style(TextStyle(color: .yellow)))]) }
        if screen.showResponseHeaders {
            for header in exchange.responseHeaders where header.count == 2 {
                lines.append([(header[0] + ": ", style(TextStyle(color: .cyan))), (header[1], .plain)])
            }
        }
        let headerCount = lines.count
        let body = screen.responseBody
        let trailer = trailerLines(screen)
        let total = headerCount + (body?.lines.count ?? 0) + trailer.count
        let offset = min(max(0, screen.scroll[.response] ?? 0), max(0, total - (height - 1)))
        for index in offset..<min(total, offset + height - 1) {
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
        if total > height - 1 {
            renderPosition(
                first: offset + 1, last: min(total, offset + height - 1), total: total, &grid, row: top, left: left, width: width)
        }
        return top + height
    }

    /// `[first-last/total]` at the right end of a section's title line, whole whatever its length.
    func renderPosition(first: Int, last: Int, total: Int, _ grid: inout ScreenGrid, row: Int, left: Int, width: Int) {
        let label = "[\(first)-\(last)/\(total)]"
        grid.put(label, row: row, column: max(left, left + width - DisplayWidth.of(label) - 2), style: style(TextStyle(dim: true)))
    }

    /// Captures and notes, shown after the response body.
    func trailerLines(_ screen: WalkthroughScreen) -> [(String, TextStyle)] {
        var lines: [(String, TextStyle)] = []
        if !screen.captures.isEmpty {
            lines.append(("", .plain))
            lines.append(("Captured", TextStyle(bold: true)))
            for capture in screen.captures { lines.append(("  \(capture.name) = \(capture.value)", TextStyle(color: .green))) }
        }
        for note in screen.notes where note.kind == .note || note.kind == .search || note.kind == .operator {
            lines.append(("", .plain))
            let prefix = note.quirkID.map { "ℹ \($0): " } ?? "ℹ "
            for (index, line) in wrap(prefix + note.text, width: 90).enumerated() {
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

    /// The action panel: what the step needs now.
    func panelLines(_ screen: WalkthroughScreen, width: Int) -> [(String, TextStyle)] {
        var lines: [(String, TextStyle)] = []
        switch screen.mode {
        case .starting(let message):
            lines.append(
                ("\(glyphs.spinner[Int(now.timeIntervalSince1970 * 10) % glyphs.spinner.count]) \(message)", TextStyle(color: .cyan)))
        case .confirm:
            lines.append(("Press Enter to send this request.", TextStyle(color: .cyan, bold: true)))
        case .sending(let since):
            lines.append(
                (
                    "\(glyphs.spinner[Int(now.timeIntervalSince(since) * 10) % glyphs.spinner.count]) Sending… \(String(format: "%.1f", now.timeIntervalSince(since))) s",
                    TextStyle(color: .cyan)
                ))
        case .waiting(let next, let attempt, let quirk, let explain):
            let left = max(0, next.timeIntervalSince(now))
            lines.append(
                (
                    "\(glyphs.spinner[Int(now.timeIntervalSince1970 * 10) % glyphs.spinner.count]) Waiting\(quirk.map { " on \($0)" } ?? ""): poll \(attempt + 1) in \(String(format: "%.1f", left)) s",
                    TextStyle(color: .cyan, bold: true)
                ))
            if let explain { for line in wrap(explain, width: width) { lines.append((line, TextStyle(dim: true))) } }
        case .input(let request, let text):
            lines.append((request.prompt + (request.optional ? " (optional)" : ""), TextStyle(bold: true)))
            let shown = request.secret ? String(repeating: glyphs.bullet[0], count: text.count) : text
            let placeholder = text.isEmpty ? (request.defaultValue.map { "  (Enter for \($0))" } ?? "") : ""
            lines.append(("› " + shown + "▏" + placeholder, TextStyle(color: .cyan)))
            if let error = request.error { lines.append(("✗ " + error, TextStyle(color: .red))) }
        case .blocked(let blocked, let selection):
            lines.append(("\(glyphs.blocked[0]) Stopped on \(blocked.quirkID)", TextStyle(color: .yellow, bold: true)))
            for line in wrap(blocked.explanation, width: width).prefix(5) { lines.append((line, .plain)) }
            for (index, remedy) in blocked.remedies.enumerated() {
                let marker = index == selection ? glyphs.current[0] : " "
                let tag =
                    remedy.recommended ? "  (recommended)" : remedy.available ? "" : "  — \(remedy.unavailableReason ?? "unavailable")"
                let lineStyle =
                    !remedy.available
                    ? TextStyle(dim: true)
                    : index == selection
                        ? TextStyle(color: .green, bold: true, reverse: true)
                        : remedy.recommended ? TextStyle(color: .green, bold: true) : TextStyle.plain
                lines.append(("\(marker) \(index + 1). \(remedy.label)\(tag)", lineStyle))
            }
        case .resend:
            lines.append(
                ("The last run stopped while this request was in flight. It has no idempotency key:", TextStyle(color: .yellow, bold: true))
            )
            lines.append(("send it again? Enter/y yes, n no.", .plain))
        case .failed(let message):
            lines.append(("\(glyphs.failed[0]) The step failed", TextStyle(color: .red, bold: true)))
            for line in wrap(message, width: width).prefix(4) { lines.append((line, .plain)) }
            lines.append(("r retry · S skip this step · q quit (progress is saved)", TextStyle(dim: true)))
        case .complete:
            lines.append(("\(glyphs.succeeded[0]) Walkthrough complete", TextStyle(color: .green, bold: true)))
            lines.append(("All steps are done. q quits; `kira-walkthrough status` shows what was kept.", .plain))
        case .stopped(let message):
            lines.append(("Stopped", TextStyle(color: .yellow, bold: true)))
            for line in wrap(message, width: width).prefix(4) { lines.append((line, .plain)) }
            lines.append(("q quits; run the same command again to resume.", TextStyle(dim: true)))
        }
        return lines
    }

    func renderHelp(_ grid: inout ScreenGrid) {
        let lines = [
            "Keys", "", "Enter      the highlighted next action (send, accept, recommended remedy)", "1-9        pick a remedy",
            "e          edit the request body in $VISUAL/$EDITOR", "c          copy the request as a curl command",
            "s          reveal or hide secrets", "h          show or hide response headers", "Tab        move focus between panes",
            "↑↓ j k     scroll the focused pane (PgUp/PgDn, g/G)", "r          retry a failed step", "Esc        cancel a wait or a prompt",
            "q          quit; progress is saved and the session resumes", "", "Press ? or Esc to close",
        ]
        let boxWidth = 72
        let left = max(0, (grid.width - boxWidth) / 2)
        let top = max(1, (grid.height - lines.count - 2) / 2)
        for row in top..<(top + lines.count + 2) {
            grid.put(String(repeating: " ", count: boxWidth), row: row, column: left, style: style(TextStyle(reverse: true)))
        }
        for (index, line) in lines.enumerated() {
            grid.put(line, row: top + 1 + index, column: left + 2, style: style(TextStyle(bold: index == 0, reverse: true)))
        }
    }

    /// Word-wraps text to `width` columns.
    func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let candidate = line.isEmpty ? String(word) : line + " " + word
            if DisplayWidth.of(candidate) > width, !line.isEmpty {
                lines.append(line)
                line = String(word)
            } else {
                line = candidate
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
