import Foundation
import KiraJSON

/// Typed, validating access to a JSON request body (or one of its nested objects).
///
/// Every accessor throws the emulator's 400 with the field's dotted path, so handlers read like
/// the contract: required here, optional there, this enum, that format.
struct BodyFields {
    let object: JSONObject
    let prefix: String

    init(_ object: JSONObject, prefix: String = "") {
        self.object = object
        self.prefix = prefix
    }

    /// Parses a request body that must be a JSON object.
    static func parse(_ bytes: [UInt8]) throws(APIError) -> BodyFields {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            throw APIError.validation(message: "Request body is required and must be a JSON object")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw APIError.api(400, "invalid_json", "Malformed JSON body: \(error.description)")
        }
        guard case .object(let object) = value else {
            throw APIError.validation(message: "Request body must be a JSON object, not \(value.typeName)")
        }
        return BodyFields(object)
    }

    func path(_ key: String) -> String { prefix + key }

    /// Whether the key is present and not `null`.
    func has(_ key: String) -> Bool {
        if let value = object[key], value != .null { return true }
        return false
    }

    /// Whether the key holds something other than `null`, a blank string or an empty container.
    func hasValue(_ key: String) -> Bool {
        switch object[key] {
        case .none, .some(.null): return false
        case .some(.string(let text)): return !text.trimmingWhitespace.isEmpty
        case .some(.array(let items)): return !items.isEmpty
        case .some(.object(let members)): return members.count > 0
        default: return true
        }
    }

    /// An optional string; `null` counts as absent; other types are a 400.
    func string(_ key: String) throws(APIError) -> String? {
        guard let value = object[key], value != .null else { return nil }
        guard case .string(let string) = value else {
            throw APIError.validation(path(key), "Expected a string, got \(value.typeName)")
        }
        return string
    }

    /// A string that must be present and not blank.
    func requiredString(_ key: String) throws(APIError) -> String {
        guard let string = try string(key) else { throw APIError.validation(path(key), "Required") }
        guard !string.trimmingWhitespace.isEmpty else { throw APIError.validation(path(key), "Must not be empty") }
        return string
    }

    /// An optional string that must be one of `accepted`.
    func enumeration(_ key: String, _ accepted: [String]) throws(APIError) -> String? {
        guard let string = try string(key) else { return nil }
        guard accepted.contains(string) else { throw APIError.invalidEnum(path(key), string, accepted: accepted) }
        return string
    }

    /// A required string that must be one of `accepted`.
    func requiredEnumeration(_ key: String, _ accepted: [String]) throws(APIError) -> String {
        guard let string = try enumeration(key, accepted) else { throw APIError.validation(path(key), "Required") }
        return string
    }

    /// An optional UUID string, returned in lower case.
    func uuid(_ key: String) throws(APIError) -> String? {
        guard let string = try string(key) else { return nil }
        guard let uuid = SandboxID.canonical(string) else { throw APIError.validation(path(key), "Must be a UUID") }
        return uuid
    }

    /// A required UUID string, returned in lower case.
    func requiredUUID(_ key: String) throws(APIError) -> String {
        guard let uuid = try uuid(key) else { throw APIError.validation(path(key), "Required") }
        return uuid
    }

    /// A required decimal amount (`"100.00"`): a string, positive, at most two decimals. Cents.
    func requiredAmount(_ key: String) throws(APIError) -> Int {
        guard let value = object[key], value != .null else { throw APIError.validation(path(key), "Required") }
        guard case .string(let string) = value else {
            throw APIError.validation(path(key), "Amounts are decimal strings such as \"100.00\", got \(value.typeName)")
        }
        guard let cents = Amount.cents(string) else {
            throw APIError.validation(path(key), "Must be a decimal string with at most two decimals, such as \"100.00\"")
        }
        guard cents > 0 else { throw APIError.validation(path(key), "Must be greater than zero") }
        return cents
    }

    /// An optional nested object; other types are a 400.
    func nested(_ key: String) throws(APIError) -> BodyFields? {
        guard let value = object[key], value != .null else { return nil }
        guard case .object(let nested) = value else {
            throw APIError.validation(path(key), "Expected an object, got \(value.typeName)")
        }
        return BodyFields(nested, prefix: path(key) + ".")
    }

    /// A required nested object.
    func requiredNested(_ key: String) throws(APIError) -> BodyFields {
        guard let nested = try nested(key) else { throw APIError.validation(path(key), "Required") }
        return nested
    }

    /// An optional array; other types are a 400.
    func array(_ key: String) throws(APIError) -> [JSONValue]? {
        guard let value = object[key], value != .null else { return nil }
        guard case .array(let elements) = value else {
            throw APIError.validation(path(key), "Expected an array, got \(value.typeName)")
        }
        return elements
    }

    /// An optional ISO country code of `length` upper-case letters.
    func country(_ key: String, length: Int, message: String? = nil) throws(APIError) -> String? {
        guard let string = try string(key) else { return nil }
        guard string.count == length, string.allSatisfy({ $0.isASCII && $0.isLetter && $0.isUppercase }) else {
            throw APIError.validation(path(key), message ?? "Must be a \(length)-letter ISO country code")
        }
        return string
    }
}

/// Canonical ids: lower-case UUIDs.
enum SandboxID {
    /// The lower-case form of `string` when it is a UUID.
    static func canonical(_ string: String) -> String? {
        guard string.utf8.count == 36, let uuid = UUID(uuidString: string) else { return nil }
        return uuid.uuidString.lowercased()
    }

    /// A fresh lower-case UUID v4.
    static func make() -> String { UUID().uuidString.lowercased() }
}

extension String {
    var trimmingWhitespace: Substring {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return Substring(scalars[first...last])
    }
}
