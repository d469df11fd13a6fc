import Foundation
import KiraJSON
import WalkthroughCore

/// A session's exchanges as HAR 1.2, the HTTP Archive format browser devtools import.
///
/// One page per step that sent something; one entry per recorded exchange, in order (polls,
/// retries and re-authentications included), with the redacted headers and bodies the session
/// recorded, redacted once more on the way out.
struct HTTPArchive {
    /// The `creator.version` this exporter writes.
    static let creatorVersion = "1.0"

    let session: Session
    let scrubber: SecretScrubber

    var json: JSONValue {
        let exchanges = session.exchanges.sorted { $0.sequence < $1.sequence }
        var pages: [JSONValue] = []
        var pageIDs = Set<String>()
        for exchange in exchanges where pageIDs.insert(exchange.stepID).inserted {
            let index = session.steps.firstIndex { $0.id == exchange.stepID }
            let title = index.map { "Step \($0 + 1) · \(session.steps[$0].title)" } ?? exchange.stepID
            pages.append([
                "startedDateTime": .string(Self.timestamp(exchange.startedAt)), "id": .string(exchange.stepID), "title": .string(title),
                "pageTimings": ["onContentLoad": -1, "onLoad": -1],
            ])
        }
        return [
            "log": [
                "version": "1.2",
                "creator": ["name": "kira-walkthrough", "version": .string(Self.creatorVersion)],
                "pages": .array(pages),
                "entries": .array(exchanges.map(entry)),
                "comment": .string(
                    scrubber.scrub(
                        "Session \(session.name) · \(session.flowTitle) · target \(session.target.kind) \(session.target.baseURL)")
                ),
            ]
        ]
    }

    func entry(_ exchange: ExchangeRecord) -> JSONValue {
        let time = Self.milliseconds(exchange.durationMilliseconds)
        var entry: JSONObject = [
            "pageref": .string(exchange.stepID),
            "startedDateTime": .string(Self.timestamp(exchange.startedAt)),
            "time": time,
            "request": request(exchange),
            "response": response(exchange),
            "cache": [:],
            "timings": ["blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": time, "receive": 0, "ssl": -1],
            "_sequence": .int(exchange.sequence),
            "_step": .string(exchange.stepID),
            "_request": .string(exchange.requestID),
        ]
        let comment = [exchange.note, exchange.error].compactMap { $0 }.joined(separator: "; ")
        if !comment.isEmpty { entry["comment"] = .string(scrubber.scrub(comment)) }
        return .object(entry)
    }

    func request(_ exchange: ExchangeRecord) -> JSONValue {
        var request: JSONObject = [
            "method": .string(exchange.method),
            // A mask in a URL is percent-encoded, so the URL stays one.
            "url": .string(scrubber.scrub(exchange.url).replacingOccurrences(of: Redactor.mask, with: "%5BREDACTED%5D")),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": headers(exchange.requestHeaders),
            "queryString": .array(Self.query(of: exchange.url).map { ["name": .string($0.0), "value": .string(scrubber.scrub($0.1))] }),
            "headersSize": -1,
            "bodySize": 0,
        ]
        if let body = exchange.requestBody.map(cleanBody) {
            request["bodySize"] = .int(body.utf8.count)
            request["postData"] = [
                "mimeType": .string(Self.header("content-type", in: exchange.requestHeaders) ?? "application/json"), "text": .string(body),
            ]
        }
        return .object(request)
    }

    func response(_ exchange: ExchangeRecord) -> JSONValue {
        let body = exchange.responseBody.map(cleanBody) ?? ""
        let received = exchange.status != nil
        let mimeType = Self.header("content-type", in: exchange.responseHeaders) ?? (body.isEmpty ? "x-unknown" : "application/json")
        return [
            "status": .int(exchange.status ?? 0),
            "statusText": .string(exchange.status.map(HTTPReason.text) ?? ""),
            "httpVersion": received ? "HTTP/1.1" : "",
            "cookies": [],
            "headers": headers(exchange.responseHeaders),
            "content": ["size": .int(body.utf8.count), "mimeType": .string(mimeType), "text": .string(body)],
            "redirectURL": .string(Self.header("location", in: exchange.responseHeaders) ?? ""),
            "headersSize": -1,
            "bodySize": received ? .int(body.utf8.count) : -1,
        ]
    }

    /// Header pairs as HAR name/value objects, credential headers masked whatever the record says.
    func headers(_ pairs: [[String]]) -> JSONValue {
        .array(
            pairs.compactMap { pair -> JSONValue? in
                guard pair.count == 2 else { return nil }
                let secret = Redactor.secretHeaders.contains(pair[0].lowercased())
                return ["name": .string(pair[0]), "value": .string(secret ? Redactor.mask : scrubber.scrub(pair[1]))]
            }
        )
    }

    /// A recorded body with secret keys masked again (JSON) and secret-looking values scrubbed.
    func cleanBody(_ text: String) -> String {
        if let json = try? JSONValue.parse(text) {
            return scrubber.scrub(Redactor(values: []).redact(json)).text(.pretty)
        }
        return scrubber.scrub(text)
    }

    static func header(_ name: String, in pairs: [[String]]) -> String? {
        pairs.first { $0.count == 2 && $0[0].lowercased() == name }?[1]
    }

    static func query(of url: String) -> [(String, String)] {
        guard let items = URLComponents(string: url)?.queryItems else { return [] }
        return items.map { ($0.name, $0.value ?? "") }
    }

    /// ISO 8601 with milliseconds, as HAR asks.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// A duration in milliseconds, three decimals, never negative.
    static func milliseconds(_ value: Double) -> JSONValue {
        let clamped = value.isFinite ? max(0, value) : 0
        return .number(String(format: "%.3f", clamped))
    }
}
