import Foundation
import KiraJSON

/// A string with `{{ name }}` references to inputs and captures.
public struct Template: Sendable, Hashable, CustomStringConvertible {
    public enum Part: Sendable, Hashable {
        case literal(String)
        case reference(String)
    }

    public var parts: [Part]
    public var source: String

    public var description: String { source }

    /// The names it refers to.
    public var references: [String] {
        parts.compactMap {
            if case .reference(let name) = $0 { return name }
            return nil
        }
    }

    /// When the whole template is one reference, its name (the value is substituted as JSON).
    public var soleReference: String? {
        if parts.count == 1, case .reference(let name) = parts[0] { return name }
        return nil
    }

    /// Why a template does not parse.
    public struct SyntaxError: Error, Sendable, Equatable {
        public var message: String
        /// Offset in characters from the template's start.
        public var offset: Int
    }

    /// Parses `text`; `{{` must be closed by `}}` around a name of letters, digits, `_` and `.`.
    public init(parsing text: String) throws(SyntaxError) {
        source = text
        parts = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix("{{") {
                guard let close = text[index...].range(of: "}}") else {
                    throw SyntaxError(message: "'{{' without a closing '}}'", offset: text.distance(from: text.startIndex, to: index))
                }
                let name = text[text.index(index, offsetBy: 2)..<close.lowerBound].trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else {
                    throw SyntaxError(
                        message: "'{{ \(name) }}' is not a reference: names use letters, digits and '_'",
                        offset: text.distance(from: text.startIndex, to: index)
                    )
                }
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = ""
                parts.append(.reference(name))
                index = close.upperBound
            } else {
                literal.append(text[index])
                index = text.index(after: index)
            }
        }
        if !literal.isEmpty || parts.isEmpty { parts.append(.literal(literal)) }
    }

    /// Fills the references with `value(name)`; `nil` when a name has no value.
    public func render(_ value: (String) -> String?) -> String? {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text): out += text
            case .reference(let name):
                guard let text = value(name) else { return nil }
                out += text
            }
        }
        return out
    }
}

extension JSONValue {
    /// Every template reference in the strings of this value.
    func templateReferences() throws(Template.SyntaxError) -> [String] {
        switch self {
        case .string(let text): return try Template(parsing: text).references
        case .array(let items):
            var names: [String] = []
            for item in items { names += try item.templateReferences() }
            return names
        case .object(let object):
            var names: [String] = []
            for (_, value) in object { names += try value.templateReferences() }
            return names
        default: return []
        }
    }
}
