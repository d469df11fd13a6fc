import Foundation
import KiraJSON

/// A path into a JSON document: `data.access_token`, `data.0.id`, `0.id` (numbers index arrays).
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var segments: [Segment]
    public var description: String

    /// Parses a dotted path; `$` or an empty path is the whole document. `[0]` works as `.0`.
    public init?(_ text: String) {
        description = text
        var normalized = text.replacingOccurrences(of: "[", with: ".").replacingOccurrences(of: "]", with: "")
        if normalized.hasPrefix("$") { normalized.removeFirst() }
        segments = []
        for piece in normalized.split(separator: ".", omittingEmptySubsequences: false) {
            if piece.isEmpty {
                continue
            }
            if let index = Int(piece), index >= 0 {
                segments.append(.index(index))
            } else {
                guard !piece.contains(" ") else { return nil }
                segments.append(.key(String(piece)))
            }
        }
    }

    /// The value at this path, or `nil` when the document has no such place.
    public func resolve(in value: JSONValue) -> JSONValue? {
        var current = value
        for segment in segments {
            switch (segment, current) {
            case (.key(let key), .object(let object)):
                guard let next = object[key] else { return nil }
                current = next
            case (.index(let index), .array(let items)):
                guard items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }
}
