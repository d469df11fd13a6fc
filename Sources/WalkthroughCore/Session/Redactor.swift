import Foundation
import KiraJSON

/// Removes secrets from what gets recorded: headers, bodies, text.
public struct Redactor: Sendable {
    /// What a redacted value reads as.
    public static let mask = "[REDACTED]"
    /// Header names whose values are credentials.
    public static let secretHeaders: Set<String> = ["x-api-key", "authorization", "cookie", "set-cookie", "x-admin-token"]
    /// JSON keys whose values are credentials wherever they appear.
    public static let secretKeys: Set<String> = [
        "password", "access_token", "refresh_token", "api_key", "secret", "client_secret", "token",
    ]

    /// Secret values known at run time (the api key, the password, the current token).
    public var values: [String]

    public init(values: [String]) {
        // Longest first, so a value that contains another is masked whole; short values are not
        // worth masking (they would mangle unrelated text).
        self.values = values.filter { $0.count >= 6 }.sorted { $0.count > $1.count }
    }

    /// Masks secret keys and any known secret value inside strings.
    public func redact(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(redact(text))
        case .array(let items): return .array(items.map(redact))
        case .object(let object):
            return .object(
                JSONObject(
                    object.entries.map { entry in
                        Self.secretKeys.contains(entry.key.lowercased()) && entry.value != .null
                            ? (entry.key, .string(Self.mask)) : (entry.key, redact(entry.value))
                    }
                )
            )
        default: return value
        }
    }

    /// Masks known secret values in text.
    public func redact(_ text: String) -> String {
        var result = text
        for value in values where result.contains(value) {
            result = result.replacingOccurrences(of: value, with: Self.mask)
        }
        return result
    }

    /// Masks credential headers.
    public func redact(headers: [(String, String)]) -> [[String]] {
        headers.map { name, value in [name, Self.secretHeaders.contains(name.lowercased()) ? Self.mask : redact(value)] }
    }

    /// A body for the record: JSON redacted and pretty-printed, other text redacted as is.
    public func recordable(body bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty else { return nil }
        // A large data URL (an image echoed back) is kept as its placeholder, not its megabytes.
        if let json = try? JSONValue.parse(bytes) { return redact(DataURL.shortening(json)).text(.pretty) }
        return redact(String(decoding: bytes, as: UTF8.self))
    }
}
