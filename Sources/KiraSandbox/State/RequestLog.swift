import Coach
import Foundation
import KiraJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The coach's bounded log of API requests: the newest `limit` requests, secrets masked when
/// captured, with the facts the emulator knew as it answered. Off unless a coach turned it on.
struct RequestLog: Sendable {
    /// How many requests it keeps.
    let limit: Int
    /// The rules the coach evaluates over the log.
    let evaluator: CoachEvaluator
    /// A label per tenant (`tenant 1`, …): reports name tenants without their credentials.
    let tenantLabels: [String: String]
    /// When each tenant's last token expires, to tell how early a new `/auth` came (Q-TOKEN-TTL).
    var lastTokenExpiry: [String: Date] = [:]
    private var storage: [CoachRequest] = []
    private var start = 0
    /// The sequence number the next request gets.
    private(set) var nextSequence = 1
    /// Bodies parsed by earlier reports.
    var entryCache = CoachEntryCache()

    init(limit: Int, rules: CoachRules, tenants: [String]) {
        self.limit = max(1, limit)
        self.evaluator = CoachEvaluator(rules: rules)
        var labels: [String: String] = [:]
        for (index, clientID) in tenants.enumerated() { labels[clientID] = "tenant \(index + 1)" }
        self.tenantLabels = labels
        storage.reserveCapacity(self.limit)
    }

    /// Forgets every request and what it knew of tokens, as `/__emulator/reset` forgets the
    /// resources: the checklist starts again. Sequence numbers go on, so that a watcher's
    /// `requests(after:)` never sees a number twice.
    mutating func clear() {
        storage.removeAll(keepingCapacity: true)
        start = 0
        lastTokenExpiry = [:]
        entryCache = CoachEntryCache()
    }

    /// Appends a request, dropping the oldest when full; returns its sequence number.
    mutating func append(_ request: CoachRequest) {
        var request = request
        request.sequence = nextSequence
        nextSequence += 1
        if storage.count < limit {
            storage.append(request)
        } else {
            storage[start] = request
            start = (start + 1) % limit
        }
    }

    /// The sequence number of the oldest kept request; nil when none is kept.
    var oldestSequence: Int? { storage.isEmpty ? nil : storage[start].sequence }

    /// The kept requests, oldest first.
    var requests: [CoachRequest] {
        guard start > 0 else { return storage }
        return Array(storage[start...] + storage[..<start])
    }

    /// The kept requests with a sequence number above `sequence`, oldest first. Sequence numbers
    /// are consecutive in the ring, so this copies only the newer ones: a watcher that asks often
    /// pays for what it has not seen, not for the whole log.
    func requests(after sequence: Int) -> [CoachRequest] {
        let newer = min(storage.count, max(0, nextSequence - 1 - sequence))
        guard newer > 0 else { return [] }
        var result: [CoachRequest] = []
        result.reserveCapacity(newer)
        // The oldest kept request is at `start`; the newest `newer` end just before it (mod count).
        let first = (start + storage.count - newer) % storage.count
        for offset in 0..<newer { result.append(storage[(first + offset) % storage.count]) }
        return result
    }

    /// The checklist and findings over the kept requests.
    mutating func report() -> CoachReport {
        evaluator.report(for: requests, cache: &entryCache)
    }
}

/// Masks what must never reach a log: credentials, tokens and large data URLs.
enum RequestMasking {
    /// What replaces a secret.
    static let mask = "***"
    /// Header fields whose values are secrets.
    static let secretHeaders: Set<String> = ["x-api-key", "authorization", "x-admin-token", "cookie", "set-cookie", "x-validation-header"]
    /// Body fields whose values are secrets (the client id is one of the three credentials).
    static let secretFields: Set<String> = [
        "password", "client_id", "client_uuid", "secret", "webhook_secret", "access_token", "refresh_token", "api_key", "token",
        "client_secret",
    ]
    /// Data URLs longer than this are replaced by a placeholder.
    static let dataURLLimit = 128

    static func headers(_ headers: [String: String]) -> [String: String] {
        var masked = headers
        for (name, value) in headers where secretHeaders.contains(name) {
            let lower = value.lowercased()
            masked[name] = lower.hasPrefix("bearer ") ? "Bearer \(mask)" : mask
        }
        return masked
    }

    /// The body with secrets masked; parsed only when it may hold one, so most bodies cost a scan.
    static func body(_ bytes: [UInt8]) -> [UInt8] {
        guard !bytes.isEmpty, mayHoldSecret(bytes) else { return bytes }
        guard let value = try? JSONValue.parse(bytes) else {
            return Array("<\(bytes.count) bytes, not JSON, not kept>".utf8)
        }
        return masked(value).serialized()
    }

    static func masked(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var copy = JSONObject()
            for (key, member) in object {
                if secretFields.contains(key.lowercased()), !member.isNull {
                    copy[key] = .string(mask)
                } else {
                    copy[key] = masked(member)
                }
            }
            return .object(copy)
        case .array(let items):
            return .array(items.map(masked))
        case .string(let text) where text.hasPrefix("data:") && text.utf8.count > dataURLLimit:
            let header = text.prefix { $0 != "," }
            return .string("\(header),… (\(text.utf8.count) bytes, not kept)")
        default:
            return value
        }
    }

    /// Whether the bytes contain a secret field's name or a data URL.
    static func mayHoldSecret(_ bytes: [UInt8]) -> Bool {
        needles.contains { contains(bytes, $0) }
    }

    /// What `mayHoldSecret` looks for.
    static let needles: [[UInt8]] = [
        Array("password".utf8), Array("client_".utf8), Array("secret".utf8), Array("token".utf8), Array("api_key".utf8),
        Array("data:".utf8),
    ]

    /// Whether `needle` occurs in `haystack`. Every answer goes through this when the coach is
    /// on, so it jumps from one occurrence of the needle's first byte to the next with the C
    /// library's `memchr` and compares the rest with `memcmp`.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, haystack.count >= needle.count else { return false }
        return haystack.withUnsafeBytes { hay in
            needle.withUnsafeBytes { pin in
                let base = hay.baseAddress!
                let lastStart = hay.count - pin.count
                var offset = 0
                while offset <= lastStart {
                    guard let found = memchr(base + offset, Int32(first), lastStart - offset + 1) else { return false }
                    let position = base.distance(to: UnsafeRawPointer(found))
                    if memcmp(base + position, pin.baseAddress!, pin.count) == 0 { return true }
                    offset = position + 1
                }
                return false
            }
        }
    }

    /// The path's segments between slashes, empty ones dropped (`/sandbox/v1/users` → sandbox,
    /// v1, users), split on the UTF-8 bytes.
    static func segments(of path: String) -> [Substring] {
        var result: [Substring] = []
        let utf8 = path.utf8
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex {
            if utf8[index] == UInt8(ascii: "/") {
                if index != start { result.append(path[start..<index]) }
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        if index != start { result.append(path[start..<index]) }
        return result
    }
}
