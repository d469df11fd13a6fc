/// Reads a `Decodable` value from a `JSONValue`, the counterpart of `JSONValueEncoder`.
///
/// Numbers decode from their text: an integer type takes a lexeme with an exact integral value
/// (`7`, `7.0`, `7e0`), a floating-point type any number. A `JSONValue` inside the value (a
/// response body, a capture) is handed over as it is, number text included.
public struct JSONValueDecoder: Sendable {
    /// Reads a type some other way than its own `init(from:)` (a `Date` from ISO 8601 text, say):
    /// answers the value for a type it handles and `nil` for the rest. Gets the JSON and its path.
    public var override: (@Sendable (any Decodable.Type, JSONValue, [any CodingKey]) throws -> (any Decodable)?)?

    /// Information the decoded types can read from `Decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable]

    /// A decoder that reads every type through its own `init(from:)` unless `override` answers.
    public init(
        userInfo: [CodingUserInfoKey: any Sendable] = [:],
        override: (@Sendable (any Decodable.Type, JSONValue, [any CodingKey]) throws -> (any Decodable)?)? = nil
    ) {
        self.userInfo = userInfo
        self.override = override
    }

    /// A `Value` read from `json`.
    public func decode<Value: Decodable>(_ type: Value.Type, from json: JSONValue) throws -> Value {
        try DecodingContext(options: self).decode(type, from: json, path: [])
    }
}

/// What every container of one `decode` call shares.
struct DecodingContext {
    let options: JSONValueDecoder

    func decode<T: Decodable>(_ type: T.Type, from json: JSONValue, path: [any CodingKey]) throws -> T {
        if let override = options.override, let value = try override(type, json, path) {
            guard let typed = value as? T else {
                throw DecodingError.typeMismatch(
                    type, .init(codingPath: path, debugDescription: "The override answered a \(Swift.type(of: value))"))
            }
            return typed
        }
        if let value = try primitive(type, from: json, path: path) { return value }
        return try T(from: ValueDecoder(json: json, path: path, context: self))
    }

    /// `json` as a primitive `T`, or `nil` when `T` is not a primitive type. Compares the static
    /// type, so a type that is none of these costs no dynamic cast.
    func primitive<T>(_ type: T.Type, from json: JSONValue, path: [any CodingKey]) throws -> T? {
        switch ObjectIdentifier(type) {
        case ObjectIdentifier(JSONValue.self): return json as? T
        case ObjectIdentifier(JSONObject.self):
            guard case .object(let object) = json else { throw mismatch(type, json, path) }
            return object as? T
        case ObjectIdentifier(String.self): return try string(json, path: path) as? T
        case ObjectIdentifier(Bool.self):
            guard case .bool(let value) = json else { throw mismatch(type, json, path) }
            return value as? T
        case ObjectIdentifier(Int.self): return try integer(Int.self, json, path) as? T
        case ObjectIdentifier(Int8.self): return try integer(Int8.self, json, path) as? T
        case ObjectIdentifier(Int16.self): return try integer(Int16.self, json, path) as? T
        case ObjectIdentifier(Int32.self): return try integer(Int32.self, json, path) as? T
        case ObjectIdentifier(Int64.self): return try integer(Int64.self, json, path) as? T
        case ObjectIdentifier(UInt.self): return try integer(UInt.self, json, path) as? T
        case ObjectIdentifier(UInt8.self): return try integer(UInt8.self, json, path) as? T
        case ObjectIdentifier(UInt16.self): return try integer(UInt16.self, json, path) as? T
        case ObjectIdentifier(UInt32.self): return try integer(UInt32.self, json, path) as? T
        case ObjectIdentifier(UInt64.self): return try integer(UInt64.self, json, path) as? T
        case ObjectIdentifier(Double.self): return try floating(Double.self, json, path) as? T
        case ObjectIdentifier(Float.self): return try floating(Float.self, json, path) as? T
        default: return nil
        }
    }

    func string(_ json: JSONValue, path: [any CodingKey]) throws -> String {
        guard case .string(let value) = json else { throw mismatch(String.self, json, path) }
        return value
    }

    func integer<Integer: FixedWidthInteger>(_ type: Integer.Type, _ json: JSONValue, _ path: [any CodingKey]) throws -> Integer {
        guard case .number(let lexeme) = json else { throw mismatch(type, json, path) }
        if let value = Integer(lexeme) { return value }
        if let double = Double(lexeme), let value = Integer(exactly: double) { return value }
        throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "\(lexeme) does not fit in \(type)"))
    }

    func floating<Number: BinaryFloatingPoint & LosslessStringConvertible>(_ type: Number.Type, _ json: JSONValue, _ path: [any CodingKey])
        throws -> Number
    {
        guard case .number(let lexeme) = json else { throw mismatch(type, json, path) }
        guard let value = Number(lexeme) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "\(lexeme) does not fit in \(type)"))
        }
        return value
    }

    func mismatch(_ type: Any.Type, _ json: JSONValue, _ path: [any CodingKey]) -> DecodingError {
        if json.isNull {
            return .valueNotFound(type, .init(codingPath: path, debugDescription: "Expected \(type) but found null"))
        }
        return .typeMismatch(type, .init(codingPath: path, debugDescription: "Expected \(type) but found a \(json.typeName)"))
    }
}

/// The `Decoder` handed to a type's `init(from:)`.
struct ValueDecoder: Decoder {
    let json: JSONValue
    let codingPath: [any CodingKey]
    let context: DecodingContext

    init(json: JSONValue, path: [any CodingKey], context: DecodingContext) {
        self.json = json
        self.codingPath = path
        self.context = context
    }

    var userInfo: [CodingUserInfoKey: Any] { context.options.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = json else { throw context.mismatch([String: JSONValue].self, json, codingPath) }
        return KeyedDecodingContainer(KeyedValueDecoder<Key>(object: object, codingPath: codingPath, context: context))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = json else { throw context.mismatch([JSONValue].self, json, codingPath) }
        return UnkeyedValueDecoder(elements: elements, codingPath: codingPath, context: context)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueDecoder(json: json, codingPath: codingPath, context: context)
    }
}

struct KeyedValueDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let codingPath: [any CodingKey]
    let context: DecodingContext

    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    func member(_ key: Key) throws -> JSONValue {
        guard let value = object[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "No value for \"\(key.stringValue)\""))
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool { try member(key).isNull }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try context.decode(type, from: member(key), path: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try ValueDecoder(json: member(key), path: codingPath + [key], context: context).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(json: member(key), path: codingPath + [key], context: context).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        let key = AnyCodingKey(stringValue: "super")
        return ValueDecoder(json: object["super"] ?? .null, path: codingPath + [key], context: context)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        ValueDecoder(json: object[key.stringValue] ?? .null, path: codingPath + [key], context: context)
    }
}

struct UnkeyedValueDecoder: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    let context: DecodingContext
    private(set) var currentIndex = 0

    init(elements: [JSONValue], codingPath: [any CodingKey], context: DecodingContext) {
        self.elements = elements
        self.codingPath = codingPath
        self.context = context
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private var currentPath: [any CodingKey] { codingPath + [AnyCodingKey(intValue: currentIndex)] }

    /// The next element, without moving past it.
    private func peek<T>(_ type: T.Type) throws -> JSONValue {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: currentPath, debugDescription: "The array has no more elements"))
        }
        return elements[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard try peek(Never.self).isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let value = try context.decode(type, from: peek(type), path: currentPath)
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let container = try ValueDecoder(json: peek(type), path: currentPath, context: context).container(keyedBy: type)
        currentIndex += 1
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try ValueDecoder(json: peek([JSONValue].self), path: currentPath, context: context).unkeyedContainer()
        currentIndex += 1
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let decoder = ValueDecoder(json: try peek(JSONValue.self), path: currentPath, context: context)
        currentIndex += 1
        return decoder
    }
}

struct SingleValueDecoder: SingleValueDecodingContainer {
    let json: JSONValue
    let codingPath: [any CodingKey]
    let context: DecodingContext

    func decodeNil() -> Bool { json.isNull }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try context.decode(type, from: json, path: codingPath)
    }
}
