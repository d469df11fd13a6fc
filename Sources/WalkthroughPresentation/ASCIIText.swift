/// Text for a terminal whose locale is not UTF-8 (`LANG=C`, or no locale at all), where every
/// byte written must be ASCII: the walkthrough's own glyphs have ASCII stand-ins, and any other
/// character is written as a JSON escape, so nothing is lost and a JSON body stays valid JSON.
public enum ASCIIText {
    /// Whether the locale that `environment` names shows UTF-8: the first of `LC_ALL`,
    /// `LC_CTYPE` and `LANG` that is set, as the C library reads them. None set is the POSIX
    /// locale, which is ASCII.
    public static func localeIsUTF8(environment: [String: String]) -> Bool {
        let name = ["LC_ALL", "LC_CTYPE", "LANG"].lazy.compactMap { environment[$0] }.first { !$0.isEmpty } ?? "C"
        let codeset = name.split(separator: ".", maxSplits: 1).dropFirst().first.map { $0.split(separator: "@").first ?? $0 } ?? ""
        return ["utf8", "utf-8"].contains(codeset.lowercased())
    }

    /// The one-column ASCII stand-in for a glyph the walkthrough draws (rules, arrows, marks,
    /// separators); `nil` for any other character.
    public static func glyph(for scalar: Unicode.Scalar) -> Character? {
        switch scalar {
        case "│", "┃", "▏": "|"
        case "─", "━", "·", "—", "–", "↷": "-"
        case "…": "."
        case "→", "›", "▶", "▸", "➜": ">"
        case "←", "‹": "<"
        case "↑": "^"
        case "↓": "v"
        case "•", "●": "*"
        case "✓": "+"
        case "✗", "×": "x"
        case "⚑", "⚠", "⚡": "!"
        case "ℹ": "i"
        case "○": "o"
        case "⏸": "="
        case "↻": "~"
        case "☎": "@"
        default: nil
        }
    }

    /// `text` with only ASCII bytes: glyphs replaced by their stand-ins, any other non-ASCII
    /// scalar written as `\uXXXX` (a surrogate pair above U+FFFF), as JSON writes it.
    public static func fold(_ text: String) -> String {
        guard !text.utf8.allSatisfy({ $0 < 0x80 }) else { return text }
        var folded = ""
        folded.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar.isASCII {
                folded.unicodeScalars.append(scalar)
            } else if let stand = glyph(for: scalar) {
                folded.append(stand)
            } else {
                for unit in String(scalar).utf16 {
                    let hex = String(unit, radix: 16)
                    folded += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            }
        }
        return folded
    }
}
