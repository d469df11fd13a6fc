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
    /// Columns taken by one grapheme (0, 1 or 2).
    public static func of(_ character: Character) -> Int {
        var widest = 0
        for scalar in character.unicodeScalars {
            let width = Int(kira_wcwidth(scalar.value))
            if width > widest { widest = width }
        }
        if widest == 0, character.unicodeScalars.first.map({ $0.value >= 0x20 }) == true, character != "\u{200B}" {
            // wcwidth answers -1 under a non-UTF-8 locale; count printable text as one column.
            return character.unicodeScalars.first!.properties.generalCategory == .nonspacingMark ? 0 : 1
        }
        return max(0, widest)
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
