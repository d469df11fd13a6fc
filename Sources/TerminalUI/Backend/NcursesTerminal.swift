import CNcursesw
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A key press, decoded.
public enum KeyPress: Sendable, Equatable {
    case character(Character)
    case enter, escape, tab, backTab, backspace
    case up, down, left, right, pageUp, pageDown, home, end
    case resize
}

/// The terminal, through ncursesw: draws grids, reads keys. Every call stays on the main actor,
/// since ncurses is global, non-reentrant C state.
@MainActor
final class NcursesTerminal {
    private let screen: OpaquePointer
    private let window: UnsafeMutablePointer<WINDOW>
    private let input: UnsafeMutablePointer<FILE>
    private let output: UnsafeMutablePointer<FILE>
    /// Whether colours are drawn (the terminal has them and `NO_COLOR` is unset).
    let colors: Bool
    private var closed = false

    /// Opens the terminal, or `nil` when there is none usable (then the caller falls back to plain mode).
    static func open(noColor: Bool) -> NcursesTerminal? {
        setlocale(LC_ALL, "")
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1,
            let input = fdopen(dup(STDIN_FILENO), "r"), let output = fdopen(dup(STDOUT_FILENO), "w"),
            let screen = newterm(nil, output, input)
        else { return nil }
        set_term(screen)
        guard let window = kira_stdscr() else { return nil }
        cbreak()
        noecho()
        nonl()
        keypad(window, true)
        wtimeout(window, 50)
        set_escdelay(25)
        curs_set(0)
        var colors = false
        if !noColor, has_colors() {
            start_color()
            use_default_colors()
            for color in TerminalColor.allCases {
                init_pair(Int16(color.rawValue), Int16(color.rawValue), -1)
            }
            colors = true
        }
        return NcursesTerminal(screen: screen, window: window, input: input, output: output, colors: colors)
    }

    private init(
        screen: OpaquePointer, window: UnsafeMutablePointer<WINDOW>, input: UnsafeMutablePointer<FILE>, output: UnsafeMutablePointer<FILE>,
        colors: Bool
    ) {
        self.screen = screen
        self.window = window
        self.input = input
        self.output = output
        self.colors = colors
    }

    /// Columns and rows.
    var size: (width: Int, height: Int) {
        var rows: Int32 = 0
        var columns: Int32 = 0
        kira_getmaxyx(window, &rows, &columns)
        return (Int(columns), Int(rows))
    }

    func attributes(_ style: TextStyle) -> (attr_t, Int16) {
        var attributes = kira_a_normal()
        if style.bold { attributes |= kira_a_bold() }
        if style.dim { attributes |= kira_a_dim() }
        if style.reverse { attributes |= kira_a_reverse() }
        if style.underline { attributes |= kira_a_underline() }
        let pair = colors ? Int16(style.color?.rawValue ?? 0) : 0
        return (attributes, pair)
    }

    /// Draws a whole grid; ncurses sends only what changed.
    func draw(_ grid: ScreenGrid) {
        werase(window)
        for row in 0..<grid.height {
            var column = 0
            while column < grid.width {
                let style = grid[row, column].style
                var run: [wchar_t] = []
                let start = column
                while column < grid.width, grid[row, column].style == style {
                    let cell = grid[row, column]
                    if cell.width != 0 {
                        for scalar in cell.text.unicodeScalars { run.append(wchar_t(truncatingIfNeeded: scalar.value)) }
                    }
                    column += 1
                }
                guard !run.isEmpty else { continue }
                // The bottom-right cell cannot be written without scrolling: leave it.
                if row == grid.height - 1, column == grid.width { run.removeLast() }
                let (attributes, pair) = self.attributes(style)
                wattr_set(window, attributes, pair, nil)
                run.append(0)
                _ = run.withUnsafeBufferPointer { mvwaddnwstr(window, Int32(row), Int32(start), $0.baseAddress, Int32($0.count - 1)) }
            }
        }
        wattr_set(window, kira_a_normal(), 0, nil)
        wrefresh(window)
    }

    /// The next key, or `nil` after the input timeout (50 ms).
    func readKey() -> KeyPress? {
        var character: wint_t = 0
        let result = wget_wch(window, &character)
        if result == kira_err() { return nil }
        if result == kira_key_code_yes() {
            switch Int32(character) {
            case kira_key_resize(): return .resize
            case kira_key_up(): return .up
            case kira_key_down(): return .down
            case kira_key_left(): return .left
            case kira_key_right(): return .right
            case kira_key_npage(): return .pageDown
            case kira_key_ppage(): return .pageUp
            case kira_key_home(): return .home
            case kira_key_end(): return .end
            case kira_key_btab(): return .backTab
            case kira_key_enter(): return .enter
            case kira_key_backspace(): return .backspace
            default: return nil
            }
        }
        switch character {
        case 10, 13: return .enter
        case 27: return .escape
        case 9: return .tab
        case 8, 127: return .backspace
        default:
            guard let scalar = Unicode.Scalar(UInt32(character)) else { return nil }
            return .character(Character(scalar))
        }
    }

    /// Leaves curses mode so another program (an editor) can use the terminal.
    func suspend() {
        def_prog_mode()
        endwin()
    }

    /// Comes back after `suspend`.
    func resume() {
        reset_prog_mode()
        wrefresh(window)
    }

    /// Writes raw bytes to the terminal (an OSC 52 clipboard sequence).
    func writeRaw(_ text: String) {
        fputs(text, output)
        fflush(output)
    }

    /// Restores the terminal. Safe to call twice.
    func close() {
        guard !closed else { return }
        closed = true
        curs_set(1)
        endwin()
        delscreen(screen)
        fclose(input)
        fclose(output)
    }
}
