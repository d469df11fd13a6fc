import OrderedCollections

/// Turns an `Encodable` value into a `JSONValue`, so it can be written with `JSONValue.serialized`:
/// keys in the order the value encodes them, and `JSONValue`s inside it (response bodies, captures)
/// kept as they are, number text included.
///
/// String-keyed dictionaries are written with their keys sorted, so the same value always gives the
/// same bytes (a `Dictionary`'s own order changes from one process to the next). Doubles are written
/// in their shortest exact form, without a trailing `.0`, as `JSONEncoder` writes them.
public struct JSONValueEncoder: Sendable {
    /// Writes a value some other way than its own `encode(to:)` (a `Date` as ISO 8601 text, say):
    /// answers the JSON for a value it handles and `nil` for the rest.
    public var override: (@Sendable (any Encodable) throws -> JSONValue?)?

    /// Information the encoded types can read from `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable]

    /// An encoder that writes every value through its own `encode(to:)` unless `override` answers.
    public init(
        userInfo: [CodingUserInfoKey: any Sendable] = [:], override: (@Sendable (any Encodable) throws -> JSONValue?)? = nil
    ) {
        self.userInfo = userInfo
        self.override = override
    }

    /// The JSON of `value`.
    public func encode<Value: Encodable>(_ value: Value) throws -> JSONValue {
        let root = EncodedNode()
        try EncodingContext(options: self).encode(value, into: root, path: [])
        return root.materialized()
    }
}

/// A value being built: a leaf, or an object or array whose members are still being written.
final class EncodedNode {
    enum Content {
        case unset
        case leaf(JSONValue)
        case object(OrderedDictionary<String, EncodedNode>)
        case array([EncodedNode])
    }

    var content: Content = .unset

    /// Makes this node an object (keeping members already written) and answers whether it is one.
    func becomeObject() -> Bool {
        switch content {
        case .object: return true
        case .unset, .leaf:
            content = .object([:])
            return true
        case .array: return false
        }
    }

    /// Makes this node an array, keeping elements already written.
    func becomeArray() -> Bool {
        switch content {
        case .array: return true
        case .unset, .leaf:
            content = .array([])
            return true
        case .object: return false
        }
    }

    /// The member `key` of this object, created empty when missing.
    func member(_ key: String) -> EncodedNode {
        guard case .object(var members) = content else { return EncodedNode() }
        if let existing = members[key] { return existing }
        let child = EncodedNode()
        content = .unset  // keeps `members` uniquely referenced while it grows
        members[key] = child
        content = .object(members)
        return child
    }

    /// A new last element of this array.
    func appendElement() -> EncodedNode {
        guard case .array(var elements) = content else { return EncodedNode() }
        let child = EncodedNode()
        content = .unset
        elements.append(child)
        content = .array(elements)
        return child
    }

    var elementCount: Int {
        if case .array(let elements) = content { return elements.count }
        return 0
    }

    /// The finished value; a value that wrote nothing is an empty object, as with `JSONEncoder`.
    func materialized() -> JSONValue {
        switch content {
        case .unset: return .object(JSONObject())
        case .leaf(let value): return value
        case .array(let elements): return .array(elements.map { $0.materialized() })
        case .object(let members):
            var object = OrderedDictionary<String, JSONValue>(minimumCapacity: members.count)
            for (key, node) in members { object[key] = node.materialized() }
            return .object(JSONObject(object))
        }
    }
}

/// A key made from a string or an index, for coding paths and dictionary members.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// A `Dictionary` with `String` keys, which is written with sorted keys.
protocol StringKeyedEncodableDictionary {
    /// The members, sorted by key.
    var sortedEncodableMembers: [(key: String, value: any Encodable)] { get }
}

extension Dictionary: StringKeyedEncodableDictionary where Key == String, Value: Encodable {
    var sortedEncodableMembers: [(key: String, value: any Encodable)] {
        sorted { $0.key < $1.key }.map { ($0.key, $0.value as any Encodable) }
    }
}

/// What every container of one `encode` call shares.
struct EncodingContext {
    let options: JSONValueEncoder

    /// Writes `value` into `node`: the override first, then primitives, then the value's own coding.
    func encode<T: Encodable>(_ value: T, into node: EncodedNode, path: [any CodingKey]) throws {
        if let override = options.override, let json = try override(value) {
            node.content = .leaf(json)
            return
        }
        if let leaf = try primitive(value, path: path) {
            node.content = .leaf(leaf)
            return
        }
        if let dictionary = value as? any StringKeyedEncodableDictionary {
            _ = node.becomeObject()
            for (key, member) in dictionary.sortedEncodableMembers {
                try encode(member, into: node.member(key), path: path + [AnyCodingKey(stringValue: key)])
            }
            return
        }
        try value.encode(to: ValueEncoder(node: node, path: path, context: self))
    }

    /// The JSON of a value that is a JSON primitive (or a `JSONValue`), else `nil`. Compares the
    /// static type first, so a value that is none of these costs no dynamic cast.
    func primitive<T: Encodable>(_ value: T, path: [any CodingKey]) throws -> JSONValue? {
        func number<Integer: BinaryInteger>(_: Integer.Type) -> JSONValue? {
            (value as? Integer).map { .number(String($0)) }
        }
        switch ObjectIdentifier(T.self) {
        case ObjectIdentifier(JSONValue.self): return value as? JSONValue
        case ObjectIdentifier(JSONObject.self): return (value as? JSONObject).map(JSONValue.object)
        case ObjectIdentifier(String.self): return (value as? String).map(JSONValue.string)
        case ObjectIdentifier(Bool.self): return (value as? Bool).map(JSONValue.bool)
        case ObjectIdentifier(Int.self): return number(Int.self)
        case ObjectIdentifier(Int8.self): return number(Int8.self)
        case ObjectIdentifier(Int16.self): return number(Int16.self)
        case ObjectIdentifier(Int32.self): return number(Int32.self)
        case ObjectIdentifier(Int64.self): return number(Int64.self)
        case ObjectIdentifier(UInt.self): return number(UInt.self)
        case ObjectIdentifier(UInt8.self): return number(UInt8.self)
        case ObjectIdentifier(UInt16.self): return number(UInt16.self)
        case ObjectIdentifier(UInt32.self): return number(UInt32.self)
        case ObjectIdentifier(UInt64.self): return number(UInt64.self)
        case ObjectIdentifier(Double.self):
            guard let double = value as? Double else { return nil }
            return .number(try Self.lexeme(double, path: path))
        case ObjectIdentifier(Float.self):
            guard let float = value as? Float else { return nil }
            return .number(try Self.lexeme(float, path: path))
        default: return nil
        }
    }

    /// The shortest text that reads back as exactly `value`, without a trailing `.0`.
    static func lexeme<Number: BinaryFloatingPoint & LosslessStringConvertible>(_ value: Number, path: [any CodingKey]) throws -> String {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: path, debugDescription: "\(value) is not valid in JSON"))
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
}

/// The `Encoder` handed to a value's `encode(to:)`.
struct ValueEncoder: Encoder {
    let node: EncodedNode
    let codingPath: [any CodingKey]
    let context: EncodingContext

    init(node: EncodedNode, path: [any CodingKey], context: EncodingContext) {
        self.node = node
        self.codingPath = path
        self.context = context
    }

    var userInfo: [CodingUserInfoKey: Any] { context.options.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        _ = node.becomeObject()
        return KeyedEncodingContainer(KeyedValueEncoder<Key>(node: node, codingPath: codingPath, context: context))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        _ = node.becomeArray()
        return UnkeyedValueEncoder(node: node, codingPath: codingPath, context: context)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueEncoder(node: node, codingPath: codingPath, context: context)
    }
}

struct KeyedValueEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodedNode
    let codingPath: [any CodingKey]
    let context: EncodingContext

    mutating func encodeNil(forKey key: Key) throws {
        node.member(key.stringValue).content = .leaf(.null)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try context.encode(value, into: node.member(key.stringValue), path: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<
        NestedKey
    > {
        let child = node.member(key.stringValue)
        _ = child.becomeObject()
        return KeyedEncodingContainer(KeyedValueEncoder<NestedKey>(node: child, codingPath: codingPath + [key], context: context))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = node.member(key.stringValue)
        _ = child.becomeArray()
        return UnkeyedValueEncoder(node: child, codingPath: codingPath + [key], context: context)
    }

    mutating func superEncoder() -> any Encoder {
        ValueEncoder(node: node.member("super"), path: codingPath + [AnyCodingKey(stringValue: "super")], context: context)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoder(node: node.member(key.stringValue), path: codingPath + [key], context: context)
    }
}

struct UnkeyedValueEncoder: UnkeyedEncodingContainer {
    let node: EncodedNode
    let codingPath: [any CodingKey]
    let context: EncodingContext

    var count: Int { node.elementCount }

    private var nextKey: AnyCodingKey { AnyCodingKey(intValue: count) }

    mutating func encodeNil() throws {
        node.appendElement().content = .leaf(.null)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath + [nextKey]
        try context.encode(value, into: node.appendElement(), path: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = codingPath + [nextKey]
        let child = node.appendElement()
        _ = child.becomeObject()
        return KeyedEncodingContainer(KeyedValueEncoder<NestedKey>(node: child, codingPath: path, context: context))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = codingPath + [nextKey]
        let child = node.appendElement()
        _ = child.becomeArray()
        return UnkeyedValueEncoder(node: child, codingPath: path, context: context)
    }

    mutating func superEncoder() -> any Encoder {
        let path = codingPath + [nextKey]
        return ValueEncoder(node: node.appendElement(), path: path, context: context)
    }
}

struct SingleValueEncoder: SingleValueEncodingContainer {
    let node: EncodedNode
    let codingPath: [any CodingKey]
    let context: EncodingContext

    mutating func encodeNil() throws { node.content = .leaf(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try context.encode(value, into: node, path: codingPath)
    }
}
