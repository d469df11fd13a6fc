import OrderedCollections

/// How `JSONValue` is written out.
public struct JSONWriteOptions: Sendable, Equatable {
    /// Newlines and two-space indentation.
    public var pretty: Bool
    /// Keys in byte order instead of insertion order (canonical form, for comparing bodies).
    public var sortedKeys: Bool

    public init(pretty: Bool = false, sortedKeys: Bool = false) {
        self.pretty = pretty
        self.sortedKeys = sortedKeys
    }

    /// Compact, in insertion order: what goes on the wire.
    public static let compact = JSONWriteOptions()
    /// Indented, in insertion order: what a person reads.
    public static let pretty = JSONWriteOptions(pretty: true)
    /// Compact with sorted keys: equal documents give equal bytes.
    public static let canonical = JSONWriteOptions(sortedKeys: true)
}

extension JSONValue {
    /// The UTF-8 bytes of this value.
    public func serialized(_ options: JSONWriteOptions = .compact) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out, options: options, indent: 0)
        return out
    }

    /// This value as text.
    public func text(_ options: JSONWriteOptions = .compact) -> String {
        String(decoding: serialized(options), as: UTF8.self)
    }

    func write(into out: inout [UInt8], options: JSONWriteOptions, indent: Int) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let lexeme): out.append(contentsOf: lexeme.utf8)
        case .string(let value): Self.writeString(value, into: &out)
        case .array(let elements):
            if elements.isEmpty {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                Self.newline(into: &out, options: options, indent: indent + 1)
                element.write(into: &out, options: options, indent: indent + 1)
            }
            Self.newline(into: &out, options: options, indent: indent)
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.count == 0 {
                out.append(contentsOf: "{}".utf8)
                return
            }
            out.append(UInt8(ascii: "{"))
            if options.sortedKeys {
                let sorted = object.entries.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                Self.writeMembers(sorted, into: &out, options: options, indent: indent)
            } else {
                Self.writeMembers(object.members.elements, into: &out, options: options, indent: indent)
            }
            Self.newline(into: &out, options: options, indent: indent)
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Writes `"key": value` pairs separated by commas, each on its own line when pretty.
    static func writeMembers<Members: Sequence>(_ members: Members, into out: inout [UInt8], options: JSONWriteOptions, indent: Int)
    where Members.Element == (key: String, value: JSONValue) {
        var first = true
        for (key, value) in members {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            newline(into: &out, options: options, indent: indent + 1)
            writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            if options.pretty { out.append(UInt8(ascii: " ")) }
            value.write(into: &out, options: options, indent: indent + 1)
        }
    }

    static func newline(into out: inout [UInt8], options: JSONWriteOptions, indent: Int) {
        guard options.pretty else { return }
        out.append(UInt8(ascii: "\n"))
        var spaces = indent * 2
        // One copy per newline from a ready line of spaces, not one append per space.
        while spaces > 0 {
            let chunk = min(spaces, indentation.count)
            indentation.withUnsafeBufferPointer { out.append(contentsOf: $0[0..<chunk]) }
            spaces -= chunk
        }
    }

    /// Spaces for `newline`'s indentation.
    static let indentation = [UInt8](repeating: UInt8(ascii: " "), count: 64)

    static let hexDigits = Array("0123456789abcdef".utf8)

    /// Writes a JSON string literal, escaping quotes, backslashes and control characters.
    static func writeString(_ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // The common case, nothing to escape: the bytes go out in one copy.
        let copied = value.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard !bytes.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { text() }
}
