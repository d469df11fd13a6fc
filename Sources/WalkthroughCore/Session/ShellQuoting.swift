import Foundation

/// Quoting for bash, in one place: the curl commands a person copies (`CurlCommand`) and the
/// exported scripts (`Exports`) both write values this way, so no value from a flow, a session or
/// an answer can break out of the word it is written in.
public enum ShellQuoting {
    /// `text` as one single-quoted bash word: nothing inside expands (`it's` → `'it'\''s'`).
    public static func singleQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `text` escaped for the inside of a bash double-quoted string, where it stays literal:
    /// `"`, `\`, `$` and backquotes get a backslash.
    public static func doubleQuotedContent(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "\\", "\"", "$", "`": out += "\\\(character)"
            default: out.append(character)
            }
        }
        return out
    }

    /// `text` as one double-quoted bash word that expands nothing.
    public static func doubleQuoted(_ text: String) -> String { "\"\(doubleQuotedContent(text))\"" }
}
