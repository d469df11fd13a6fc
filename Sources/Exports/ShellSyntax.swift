import Foundation
import KiraJSON
import WalkthroughCore

/// Names, comments and jq syntax for generated scripts, so that no value from a flow or a session
/// can break out of the place it is written in. Bash quoting itself is `ShellQuoting`
/// (WalkthroughCore), shared with the copyable curl commands.
enum ShellSyntax {
    /// `text` as a JSON (and jq) string literal, without the quotes.
    static func jsonStringContent(_ text: String) -> String {
        let quoted = JSONValue.string(text).text()
        return String(quoted.dropFirst().dropLast())
    }

    /// A comment block, wrapped at `width` columns.
    static func comment(_ text: String, indent: String = "", width: Int = 100) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                if !line.isEmpty, indent.count + 2 + line.count + 1 + word.count > width {
                    lines.append(indent + "# " + line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + word
            }
            lines.append(line.isEmpty ? indent + "#" : indent + "# " + line)
        }
        while lines.last == indent + "#" { lines.removeLast() }
        return lines
    }

    /// Bash and jq words a flow name must not shadow.
    static let reservedNames: Set<String> = [
        // bash
        "if", "then", "else", "elif", "fi", "case", "esac", "for", "while", "until", "do", "done", "in", "function", "select", "time",
        "next", "rounds", "key", "body", "path", "home", "shell", "pwd", "ifs", "status",
        // jq
        "as", "def", "reduce", "foreach", "try", "catch", "label", "import", "include", "and", "or", "not", "end", "raw", "json",
        "__loc__", "env",
    ]

    /// A flow name (`user_id`) as a bash variable and jq variable name that cannot collide with the
    /// script's own names (upper case, or starting with `_`) or a keyword.
    static func variableName(_ name: String) -> String {
        var sanitized = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
        if sanitized.isEmpty { sanitized = "value" }
        let startsBadly = sanitized.first.map { $0.isNumber || $0 == "_" } ?? true
        if startsBadly || sanitized.lowercased() != sanitized || reservedNames.contains(sanitized) || sanitized.hasPrefix("kira") {
            sanitized = "flow_" + sanitized.lowercased()
        }
        return sanitized
    }

    /// A JSON path as a jq expression that yields nothing (instead of failing) where the document
    /// has another shape: `data.0.id` → `.data?[0]?.id?`.
    static func jqPath(_ path: JSONPath) -> String {
        guard !path.segments.isEmpty else { return "." }
        var out = ""
        for segment in path.segments {
            switch segment {
            case .key(let key):
                let plain =
                    key.first.map { $0.isLetter || $0 == "_" } == true
                    && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
                out += plain ? ".\(key)?" : ".[\"\(jsonStringContent(key))\"]?"
            case .index(let index):
                // `[0]` alone would build an array: the first segment needs its dot.
                out += out.isEmpty ? ".[\(index)]?" : "[\(index)]?"
            }
        }
        return out
    }

    /// A JSON path as the argument of jq's `getpath`: `data.0.id` → `["data",0,"id"]`.
    static func jqPathArray(_ path: JSONPath) -> String {
        let parts = path.segments.map { segment -> String in
            switch segment {
            case .key(let key): return "\"\(jsonStringContent(key))\""
            case .index(let index): return String(index)
            }
        }
        return "[" + parts.joined(separator: ",") + "]"
    }
}
