import Foundation

/// A flow file's text, for pinning problems to the exact line and column of what they name.
struct SourceText: Sendable {
    let text: String
    let file: String
    let lines: [[Character]]

    init(_ text: String, file: String) {
        self.text = text
        self.file = file
        lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.hasSuffix("\r") ? $0.dropLast() : $0) }
    }

    /// 1-based line and column of a character offset.
    func location(ofOffset offset: Int) -> SourceLocation {
        var remaining = offset
        for (index, line) in lines.enumerated() {
            if remaining <= line.count { return SourceLocation(file: file, line: index + 1, column: remaining + 1) }
            remaining -= line.count + 1
        }
        return SourceLocation(file: file, line: max(1, lines.count), column: 1)
    }

    /// The lines of the YAML node that starts at `start`: until a line indented less than it.
    func region(from start: SourceLocation) -> Range<Int> {
        let first = max(0, start.line - 1)
        guard first < lines.count else { return lines.count..<lines.count }
        let indent = max(0, start.column - 1)
        var end = first + 1
        while end < lines.count {
            let line = lines[end]
            let leading = line.prefix { $0 == " " }.count
            let content = line.drop { $0 == " " }
            if !content.isEmpty, content.first != "#", leading < indent { break }
            end += 1
        }
        return first..<end
    }

    /// Where `{{ name }}` is first written in the node at `start`.
    func reference(_ name: String, from start: SourceLocation) -> SourceLocation? {
        for index in region(from: start) {
            let line = lines[index]
            var column = index == start.line - 1 ? max(0, start.column - 1) : 0
            while column + 1 < line.count {
                if line[column] == "{", line[column + 1] == "{", let close = closing(line, after: column + 2) {
                    let inside = String(line[(column + 2)..<close]).trimmingCharacters(in: .whitespaces)
                    if inside == name { return SourceLocation(file: file, line: index + 1, column: column + 1) }
                    column = close + 2
                } else {
                    column += 1
                }
            }
        }
        return nil
    }

    func closing(_ line: [Character], after start: Int) -> Int? {
        var index = start
        while index + 1 < line.count {
            if line[index] == "}", line[index + 1] == "}" { return index }
            index += 1
        }
        return nil
    }

    /// Where `word` is first written in the node at `start` (outside comments).
    func find(_ word: String, from start: SourceLocation) -> SourceLocation? {
        let needle = Array(word)
        for index in region(from: start) {
            let line = lines[index]
            let from = index == start.line - 1 ? max(0, start.column - 1) : 0
            guard from + needle.count <= line.count else { continue }
            for column in from...(line.count - needle.count) {
                if line[column] == "#", column == 0 || line[column - 1] == " " { break }
                if Array(line[column..<(column + needle.count)]) == needle {
                    return SourceLocation(file: file, line: index + 1, column: column + 1)
                }
            }
        }
        return nil
    }

    /// A loader problem about an unknown reference, pinned to the reference itself.
    func refine(_ location: SourceLocation, message: String) -> SourceLocation {
        guard let start = message.range(of: "'{{ "), let end = message[start.upperBound...].range(of: " }}'") else { return location }
        let name = String(message[start.upperBound..<end.lowerBound])
        return reference(name, from: location) ?? location
    }
}
