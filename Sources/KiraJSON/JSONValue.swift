import OrderedCollections

/// A JSON value that keeps what an API exchange needs to show faithfully.
///
/// Objects keep their keys in the order they were written, and numbers keep their exact lexeme
/// (`"100.00"` stays `100.00`), so a body that is parsed and written again reads like the original.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number, as its JSON lexeme (for example `3600` or `2.5e3`).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A number value from an integer.
    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }
}

/// A JSON object whose keys keep their insertion order.
///
/// Backed by an `OrderedDictionary`, so lookups and inserts are constant time and building an
/// object of `n` keys is linear. Setting an existing key keeps its position; equality ignores key
/// order, as JSON does.
public struct JSONObject: Sendable, Hashable, ExpressibleByDictionaryLiteral, Sequence {
    /// The members, keyed and in order.
    public private(set) var members: OrderedDictionary<String, JSONValue>

    /// An empty object.
    public init() { self.members = [:] }

    /// An object with the given members, in order; a repeated key keeps its first position and
    /// its last value (what the parser does with a duplicate key).
    public init(_ entries: [(String, JSONValue)]) {
        self.members = OrderedDictionary(entries, uniquingKeysWith: { _, last in last })
    }

    /// An object over the given ordered members.
    public init(_ members: OrderedDictionary<String, JSONValue>) {
        self.members = members
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }

    /// The members in order.
    public var entries: [(key: String, value: JSONValue)] { Array(members.elements) }

    /// The keys in order.
    public var keys: [String] { Array(members.keys) }

    /// The number of members.
    public var count: Int { members.count }

    /// The value for `key`; setting `nil` removes the member, setting a new key appends it.
    public subscript(key: String) -> JSONValue? {
        get { members[key] }
        set { members[key] = newValue }
    }

    /// Reserves room for `capacity` members.
    public mutating func reserveCapacity(_ capacity: Int) {
        members.reserveCapacity(capacity)
    }

    /// Walks the members in order.
    public struct Iterator: IteratorProtocol {
        var base: OrderedDictionary<String, JSONValue>.Iterator

        public mutating func next() -> (key: String, value: JSONValue)? { base.next() }
    }

    public func makeIterator() -> Iterator {
        Iterator(base: members.makeIterator())
    }

    public var underestimatedCount: Int { members.count }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (key, value) in lhs.members where rhs.members[key] != value { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent: combine per-member hashes commutatively.
        var combined = 0
        for (key, value) in members {
            var member = Hasher()
            member.combine(key)
            member.combine(value)
            combined ^= member.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }
}

extension JSONValue {
    /// The member `key` when this is an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The string payload, when this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The object payload, when this is an object.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The array payload, when this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The boolean payload, when this is a boolean.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number as a `Double`, when this is a number.
    public var doubleValue: Double? {
        if case .number(let lexeme) = self { return Double(lexeme) }
        return nil
    }

    /// The number as an `Int`, when this is a number with an integral value.
    public var intValue: Int? {
        if case .number(let lexeme) = self {
            if let value = Int(lexeme) { return value }
            if let double = Double(lexeme), double.rounded() == double, abs(double) < 9e15 {
                return Int(double)
            }
        }
        return nil
    }

    /// Whether this is `null`.
    public var isNull: Bool { self == .null }

    /// A short name of the value's JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    public init(nilLiteral: ()) { self = .null }
}
