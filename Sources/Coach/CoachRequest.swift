import Foundation
import KiraJSON

/// One request as the coach sees it: what the integrator's program sent (secrets already masked
/// by whoever recorded it), what it got back, and the facts the server recorded as it answered.
///
/// Generic: nothing here knows one API. The server that records requests decides which facts it
/// writes; the rules (data) decide which ones matter.
public struct CoachRequest: Sendable, Equatable {
    /// Its position in the log, from 1, increasing.
    public var sequence: Int
    /// When it arrived, on the server's clock.
    public var at: Date
    /// The method in upper case.
    public var method: String
    /// The path without the query, as sent.
    public var path: String
    /// The query parameters.
    public var query: [String: String]
    /// Header fields with lower-case names, secrets masked.
    public var headers: [String: String]
    /// The request body, secrets and large data URLs masked.
    public var body: [UInt8]
    /// The HTTP status answered.
    public var status: Int
    /// The response body, secrets masked.
    public var response: [UInt8]
    /// How long the server took to answer, in milliseconds.
    public var latencyMilliseconds: Double
    /// A label for the tenant the request belonged to (never a credential), when it had one.
    public var tenant: String?
    /// What the server knew when it answered (for example whether an account was pinned).
    public var facts: [String: JSONValue]

    /// A request record.
    public init(
        sequence: Int, at: Date, method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:],
        body: [UInt8] = [], status: Int, response: [UInt8] = [], latencyMilliseconds: Double = 0, tenant: String? = nil,
        facts: [String: JSONValue] = [:]
    ) {
        self.sequence = sequence
        self.at = at
        self.method = method.uppercased()
        self.path = path
        self.query = query
        var lowered: [String: String] = [:]
        for (name, value) in headers { lowered[name.lowercased()] = value }
        self.headers = lowered
        self.body = body
        self.status = status
        self.response = response
        self.latencyMilliseconds = latencyMilliseconds
        self.tenant = tenant
        self.facts = facts
    }

    /// The path with its query, as a person reads it.
    public var target: String {
        guard !query.isEmpty else { return path }
        return path + "?" + query.keys.sorted().map { "\($0)=\(query[$0] ?? "")" }.joined(separator: "&")
    }

    /// The summary a report carries: `{"method","path","status","at"}` (and the tenant when known).
    public var summaryJSON: JSONValue {
        var object: JSONObject = [
            "method": .string(method), "path": .string(target), "status": .int(status), "at": .string(CoachTime.format(at)),
        ]
        if let tenant { object["tenant"] = .string(tenant) }
        return .object(object)
    }

    /// The whole request and response as JSON, for a detail view (already masked).
    public var detailJSON: JSONValue {
        func bodyValue(_ bytes: [UInt8]) -> JSONValue {
            guard !bytes.isEmpty else { return .null }
            return (try? JSONValue.parse(bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))
        }
        var headerObject = JSONObject()
        for name in headers.keys.sorted() { headerObject[name] = .string(headers[name] ?? "") }
        var factObject = JSONObject()
        for name in facts.keys.sorted() { factObject[name] = facts[name] }
        return [
            "sequence": .int(sequence), "at": .string(CoachTime.format(at)), "method": .string(method), "path": .string(target),
            "tenant": tenant.map(JSONValue.string) ?? .null, "headers": .object(headerObject), "body": bodyValue(body),
            "status": .int(status), "latency_ms": .number(String(format: "%.2f", latencyMilliseconds)),
            "response": bodyValue(response), "facts": .object(factObject),
        ]
    }
}

/// ISO 8601 UTC timestamps with milliseconds, for reports.
public enum CoachTime {
    /// `2026-04-14T09:30:00.000Z`.
    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
