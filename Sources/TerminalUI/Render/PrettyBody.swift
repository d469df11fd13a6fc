import KiraJSON

/// A response or request body prepared for display: pretty-printed once, coloured line by line
/// only when a line is drawn, so a 5 MB body costs nothing per keystroke.
public struct PrettyBody: Sendable {
    /// The lines of the pretty-printed body (or the raw text, when it is not JSON).
    public let lines: [Substring]
    /// Whether the body was JSON (and gets syntax colours).
    public let isJSON: Bool

    public init(json: JSONValue) {
        self.init(lines: Self.lines(of: json.text(.pretty)), isJSON: true)
    }

    /// Pretty-prints text that is JSON; keeps other text (an HTML error page) as it is.
    public init(text: String) {
        if let json = try? JSONValue.parse(text) {
            self.init(json: json)
        } else {
            self.init(lines: Self.lines(of: text), isJSON: false)
        }
    }

    /// The lines of `text`, split at every line feed byte (empty lines kept). Scanning the UTF-8
    /// bytes rather than `Character`s skips grapheme breaking, which made splitting a 5 MB body the
    /// slowest part of showing it; a line feed is always a whole scalar, so every slice is valid.
    static func lines(of text: String) -> [Substring] {
        // A native string's bytes are contiguous: scan them as a buffer, and make each line's
        // bounds by offset (constant time on UTF-8 storage).
        var contiguous = text
        contiguous.makeContiguousUTF8()
        let text = contiguous
        let fast = text.utf8.withContiguousStorageIfAvailable { bytes -> [Substring] in
            var lines: [Substring] = []
            let utf8 = text.utf8
            var lineStart = 0
            var startIndex = utf8.startIndex
            for offset in bytes.indices where bytes[offset] == UInt8(ascii: "\n") {
                let endIndex = utf8.index(startIndex, offsetBy: offset - lineStart)
                lines.append(text[startIndex..<endIndex])
                lineStart = offset + 1
                startIndex = utf8.index(after: endIndex)
            }
            lines.append(text[startIndex..<utf8.endIndex])
            return lines
        }
        if let fast { return fast }
        var lines: [Substring] = []
        let utf8 = text.utf8
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex {
            if utf8[index] == UInt8(ascii: "\n") {
                lines.append(text[start..<index])
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        lines.append(text[start..<utf8.endIndex])
        return lines
    }

    init(lines: [Substring], isJSON: Bool) {
        self.lines = lines
        self.isJSON = isJSON
    }

    /// A pretty line split into coloured runs: keys, strings, numbers, literals, punctuation.
    public static func spans(of line: Substring, colored: Bool) -> [(String, TextStyle)] {
        guard colored else { return [(String(line), .plain)] }
        var spans: [(String, TextStyle)] = []
        var index = line.startIndex
        func emit(_ text: Substring, _ style: TextStyle) { if !text.isEmpty { spans.append((String(text), style)) } }
        while index < line.endIndex {
            let character = line[index]
            if character == "\"" {
                // A string: find its end, honouring escapes.
                var end = line.index(after: index)
                var escaped = false
                while end < line.endIndex {
                    let next = line[end]
                    if escaped { escaped = false } else if next == "\\" { escaped = true } else if next == "\"" { break }
                    end = line.index(after: end)
                }
                if end < line.endIndex { end = line.index(after: end) }
                let rest = line[end...].drop { $0 == " " }
                let isKey = rest.first == ":"
                emit(line[index..<end], isKey ? TextStyle(color: .cyan) : TextStyle(color: .green))
                index = end
            } else if character == "-" || ("0"..."9").contains(character) {
                // ASCII digits only: `isNumber` is also true for "½" or "٣", which the loop below
                // does not consume, and the highlighter never moved past them (a hang).
                var end = index
                while end < line.endIndex, "-+.eE0123456789".contains(line[end]) { end = line.index(after: end) }
                emit(line[index..<end], TextStyle(color: .yellow))
                index = end
            } else if line[index...].hasPrefix("true") || line[index...].hasPrefix("false") || line[index...].hasPrefix("null") {
                let length = line[index...].hasPrefix("false") ? 5 : 4
                let end = line.index(index, offsetBy: length)
                emit(line[index..<end], TextStyle(color: .magenta))
                index = end
            } else {
                var end = index
                while end < line.endIndex, !"\"-0123456789tfn".contains(line[end]) { end = line.index(after: end) }
                if end == index { end = line.index(after: index) }
                emit(line[index..<end], TextStyle(dim: true))
                index = end
            }
        }
        return spans
    }
}
