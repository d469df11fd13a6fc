import Foundation
import KiraJSON

/// Finds and masks secrets in text an export is about to write: access tokens, api keys, bearer
/// values, JSON Web Tokens, and any value the caller knows to be secret.
///
/// Sessions are redacted when they are recorded; this is the second line of defence every export
/// goes through, and the check `flows validate` uses for secrets written literally in a flow file.
public struct SecretScrubber: Sendable {
    /// What a secret looks like.
    public enum Kind: String, Sendable, Hashable {
        /// `kat_…`, the shape of the sandbox's access tokens.
        case accessToken = "access token"
        /// `kira_…`, the shape of a Kira api key.
        case apiKey = "api key"
        /// `Bearer <literal>`.
        case bearerToken = "bearer token"
        /// `eyJ….eyJ…`, a JSON Web Token.
        case jsonWebToken = "JSON Web Token"
        /// A value the caller said is secret.
        case knownValue = "known secret value"
    }

    /// One secret found in a text.
    public struct Finding: Sendable, Hashable {
        public var kind: Kind
        /// Where it starts, in characters from the start of the text.
        public var offset: Int
        public var length: Int
    }

    /// Exact values to mask wherever they appear (credentials from the environment, old keys).
    public let knownSecrets: [String]
    /// `knownSecrets` as characters, in the same order (split once, not at every position).
    let knownCharacters: [[Character]]
    /// The characters a secret can start with: positions starting with anything else are
    /// skipped without trying each pattern (most of a long body).
    let firstCharacters: Set<Character>

    public init(knownSecrets: [String] = []) {
        // Longest first, so a value that contains another is masked whole; very short values would
        // mangle unrelated text.
        self.knownSecrets = Array(Set(knownSecrets.filter { $0.count >= 6 })).sorted { $0.count > $1.count }
        knownCharacters = self.knownSecrets.map { Array($0) }
        firstCharacters = Set(knownCharacters.compactMap(\.first)).union(Self.patternFirstCharacters)
    }

    /// Every secret in `text`, in order.
    public func findings(in text: String) -> [Finding] {
        let characters = Array(text)
        var found: [Finding] = []
        var index = 0
        while index < characters.count {
            if let finding = match(characters, at: index) {
                found.append(finding)
                index += max(finding.length, 1)
            } else {
                index += 1
            }
        }
        return found
    }

    /// `text` with every secret replaced by `Redactor.mask`.
    public func scrub(_ text: String) -> String {
        let found = findings(in: text)
        guard !found.isEmpty else { return text }
        var characters = Array(text)
        for finding in found.reversed() {
            characters.replaceSubrange(finding.offset..<(finding.offset + finding.length), with: Redactor.mask)
        }
        return String(characters)
    }

    /// Masks secrets in every string of a JSON value.
    public func scrub(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(scrub(text))
        case .array(let items): return .array(items.map(scrub))
        case .object(let object): return .object(JSONObject(object.entries.map { ($0.key, scrub($0.value)) }))
        default: return value
        }
    }

    // MARK: Matching

    static let tokenCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    static let keyCharacters = tokenCharacters.union("_-")
    static let bearerCharacters = tokenCharacters.union("-._~+/=")
    static let base64URLCharacters = tokenCharacters.union("-_")
    static let accessTokenPrefix = Array("kat_")
    static let apiKeyPrefix = Array("kira_")
    static let jsonWebTokenPrefix = Array("eyJ")
    static let bearerPrefix = Array("Bearer ")
    /// The first characters of the patterns above.
    static let patternFirstCharacters: Set<Character> = ["k", "e", "B"]

    func match(_ characters: [Character], at index: Int) -> Finding? {
        guard firstCharacters.contains(characters[index]) else { return nil }
        for (secret, secretCharacters) in zip(knownSecrets, knownCharacters)
        where Self.hasPrefix(characters, at: index, secretCharacters) {
            return Finding(kind: .knownValue, offset: index, length: secret.count)
        }
        // A token starts at a word boundary: `mykat_x` is not one.
        let boundary = index == 0 || !Self.keyCharacters.contains(characters[index - 1])
        guard boundary else { return nil }
        if let length = Self.run(characters, at: index, prefix: Self.accessTokenPrefix, allowed: Self.tokenCharacters, minimum: 8) {
            return Finding(kind: .accessToken, offset: index, length: length)
        }
        if let length = Self.run(characters, at: index, prefix: Self.apiKeyPrefix, allowed: Self.keyCharacters, minimum: 8) {
            return Finding(kind: .apiKey, offset: index, length: length)
        }
        if let length = Self.jsonWebToken(characters, at: index) {
            return Finding(kind: .jsonWebToken, offset: index, length: length)
        }
        if Self.hasPrefix(characters, at: index, Self.bearerPrefix) {
            let start = index + Self.bearerPrefix.count
            if let length = Self.run(characters, at: start, prefix: [], allowed: Self.bearerCharacters, minimum: 16) {
                return Finding(kind: .bearerToken, offset: start, length: length)
            }
        }
        return nil
    }

    static func hasPrefix(_ characters: [Character], at index: Int, _ prefix: [Character]) -> Bool {
        guard index + prefix.count <= characters.count else { return false }
        var offset = 0
        while offset < prefix.count {
            if characters[index + offset] != prefix[offset] { return false }
            offset += 1
        }
        return true
    }

    /// The length of `prefix` followed by at least `minimum` allowed characters, or `nil`.
    static func run(_ characters: [Character], at index: Int, prefix: [Character], allowed: Set<Character>, minimum: Int) -> Int? {
        guard hasPrefix(characters, at: index, prefix) else { return nil }
        var end = index + prefix.count
        while end < characters.count, allowed.contains(characters[end]) { end += 1 }
        let length = end - index
        return length - prefix.count >= minimum ? length : nil
    }

    /// `eyJ<base64url>.eyJ<base64url>[.<base64url>]`.
    static func jsonWebToken(_ characters: [Character], at index: Int) -> Int? {
        guard let header = run(characters, at: index, prefix: jsonWebTokenPrefix, allowed: base64URLCharacters, minimum: 8) else {
            return nil
        }
        var end = index + header
        guard end < characters.count, characters[end] == ".",
            let payload = run(characters, at: end + 1, prefix: jsonWebTokenPrefix, allowed: base64URLCharacters, minimum: 8)
        else { return nil }
        end += 1 + payload
        if end < characters.count, characters[end] == ".",
            let signature = run(characters, at: end + 1, prefix: [], allowed: base64URLCharacters, minimum: 1)
        {
            end += 1 + signature
        }
        return end - index
    }
}
