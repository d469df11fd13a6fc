// wcwidth comes from the C library; the shim's <wchar.h>, with the X/Open extensions switched on,
// is what declares it for Swift.
import CNcursesw
import Foundation

/// The colours the interface uses (mapped to the terminal's basic eight).
public enum TerminalColor: Int, Sendable, CaseIterable {
    case red = 1, green, yellow, blue, magenta, cyan, white
}

/// How a cell is drawn.
public struct TextStyle: Sendable, Hashable {
    public var color: TerminalColor?
    public var bold = false
    public var dim = false
    public var reverse = false
    public var underline = false

    public init(color: TerminalColor? = nil, bold: Bool = false, dim: Bool = false, reverse: Bool = false, underline: Bool = false) {
        self.color = color
        self.bold = bold
        self.dim = dim
        self.reverse = reverse
        self.underline = underline
    }

    public static let plain = TextStyle()
}

/// One character position on screen.
public struct Cell: Sendable, Hashable {
    /// The grapheme drawn here; empty for the second column of a wide character.
    public var text: String
    public var style: TextStyle
    /// 2 for a wide character's first column, 0 for its second, 1 otherwise.
    public var width: Int

    public static let blank = Cell(text: " ", style: .plain, width: 1)
}

/// Column widths of text, as the terminal will draw it.
public enum DisplayWidth {
    /// Columns taken by one grapheme (0, 1 or 2): the C library's `wcwidth` under a UTF-8 locale,
    /// else the East Asian Wide and emoji ranges, so layout does not depend on the locale.
    public static func of(_ character: Character) -> Int {
        guard let first = character.unicodeScalars.first else { return 0 }
        if first.value < 0x7F { return first.value < 0x20 ? 0 : 1 }
        let fromLibrary = Int(kira_wcwidth(first.value))
        if fromLibrary >= 0 { return character.unicodeScalars.count > 1 && isWide(first.value) ? 2 : fromLibrary }
        if first.properties.generalCategory == .nonspacingMark || first.properties.generalCategory == .enclosingMark { return 0 }
        return isWide(first.value) ? 2 : 1
    }

    /// East Asian Wide/Fullwidth blocks and emoji.
    static func isWide(_ value: UInt32) -> Bool {
        switch value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF, 0xAC00...0xD7A3,
            0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
            return true
        default:
            return false
        }
    }

    /// Columns taken by a string.
    public static func of(_ text: String) -> Int { text.reduce(0) { $0 + of($1) } }

    /// The longest prefix that fits in `columns`, with `…` when cut.
    public static func truncate(_ text: String, to columns: Int) -> String {
        guard columns > 0 else { return "" }
        guard of(text) > columns else { return text }
        var out = ""
        var used = 0
        for character in text {
            let width = of(character)
            if used + width > columns - 1 { break }
            out.append(character)
            used += width
        }
        return out + "…"
    }
}

/// An in-memory screen: what a view renders into, what the ncurses backend draws, and what tests
/// compare.
public struct ScreenGrid: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    public subscript(row: Int, column: Int) -> Cell {
        cells[row * width + column]
    }

    /// Writes `text` from (row, column), clipped at `limit` columns (default: the row's end).
    /// Returns the column after the last one written.
    @discardableResult
    public mutating func put(_ text: String, row: Int, column: Int, style: TextStyle = .plain, limit: Int? = nil) -> Int {
        guard row >= 0, row < height, column < width else { return column }
        let end = min(width, column + (limit ?? width))
        var x = max(0, column)
        for character in text {
            if character == "\n" || character == "\t" { continue }
            let characterWidth = DisplayWidth.of(character)
            if characterWidth == 0 { continue }
            if x + characterWidth > end { break }
            cells[row * width + x] = Cell(text: String(character), style: style, width: characterWidth)
            if characterWidth == 2 { cells[row * width + x + 1] = Cell(text: "", style: style, width: 0) }
            x += characterWidth
        }
        return x
    }

    /// Paints a rectangle's style (keeping its text), for bars and highlights.
    public mutating func fill(row: Int, column: Int, width: Int, style: TextStyle) {
        guard row >= 0, row < height else { return }
        for x in max(0, column)..<min(self.width, column + width) {
            let index = row * self.width + x
            if cells[index].text == " " || cells[index].text.isEmpty && cells[index].width == 0 {
                cells[index] = Cell(text: cells[index].text, style: style, width: cells[index].width)
            } else {
                cells[index].style = style
            }
        }
    }

    /// The text of each row, trailing spaces removed: a snapshot for tests.
    public var lines: [String] {
        (0..<height).map { row in
            var line = ""
            for x in 0..<width {
                let cell = self[row, x]
                if cell.width == 0 { continue }
                line += cell.text
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
    }

    /// The whole screen as text.
    public var text: String { lines.joined(separator: "\n") }
}

extension ScreenGrid {
    /// Replaces every character that is not ASCII with `fallback(character)` (one column; the
    /// second column of a wide character becomes a space), for a terminal whose locale is not UTF-8.
    public mutating func foldToASCII(_ fallback: (Character) -> Character) {
        for index in cells.indices {
            let cell = cells[index]
            if cell.width == 0 {
                cells[index] = Cell(text: " ", style: cell.style, width: 1)
            } else if let character = cell.text.first, !cell.text.allSatisfy(\.isASCII) {
                cells[index] = Cell(text: String(fallback(character)), style: cell.style, width: 1)
            }
        }
    }
}
