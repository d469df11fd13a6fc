import Foundation
import KiraJSON
import KiraTestSupport
import Testing
import WalkthroughCore

@testable import Exports

/// Checks a document against the structure HAR 1.2 prescribes
/// (http://www.softwareishard.com/blog/har-12-spec/): every required field present with its type,
/// no unknown field but `comment` and `_custom` ones, timings that add up, dates in ISO 8601.
struct HARValidator {
    private(set) var problems: [String] = []

    static func validate(_ document: JSONValue) -> [String] {
        var validator = HARValidator()
        validator.document(document)
        return validator.problems
    }

    enum Kind { case string, number, object, array, integer }

    mutating func fail(_ path: String, _ message: String) { problems.append("\(path): \(message)") }

    /// Checks the fields of an object: required ones with their kinds, optional ones, nothing else.
    @discardableResult
    mutating func object(_ value: JSONValue?, at path: String, required: [String: Kind], optional: [String: Kind] = [:]) -> JSONObject? {
        guard let object = value?.objectValue else {
            fail(path, "must be an object")
            return nil
        }
        for (key, kind) in required {
            guard let field = object[key] else {
                fail(path, "missing required '\(key)'")
                continue
            }
            check(field, kind, at: "\(path).\(key)")
        }
        for (key, kind) in optional { if let field = object[key] { check(field, kind, at: "\(path).\(key)") } }
        for key in object.keys where required[key] == nil && optional[key] == nil && key != "comment" && !key.hasPrefix("_") {
            fail(path, "unknown field '\(key)' (custom fields start with '_')")
        }
        if let comment = object["comment"], comment.stringValue == nil { fail("\(path).comment", "must be a string") }
        return object
    }

    mutating func check(_ value: JSONValue, _ kind: Kind, at path: String) {
        switch kind {
        case .string: if value.stringValue == nil { fail(path, "must be a string") }
        case .number: if value.doubleValue == nil { fail(path, "must be a number") }
        case .integer: if value.intValue == nil { fail(path, "must be an integer") }
        case .object: if value.objectValue == nil { fail(path, "must be an object") }
        case .array: if value.arrayValue == nil { fail(path, "must be an array") }
        }
    }

    mutating func date(_ value: JSONValue?, at path: String) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let text = value?.stringValue, formatter.date(from: text) != nil else {
            fail(path, "must be an ISO 8601 date with fractional seconds, such as 2009-07-24T19:20:30.45+01:00")
            return
        }
    }

    mutating func document(_ document: JSONValue) {
        object(document, at: "$", required: ["log": .object])
        guard
            let log = object(
                document["log"], at: "$.log", required: ["version": .string, "creator": .object, "entries": .array],
                optional: ["browser": .object, "pages": .array]
            )
        else { return }
        if log["version"]?.stringValue != "1.2" { fail("$.log.version", "must be \"1.2\"") }
        object(log["creator"], at: "$.log.creator", required: ["name": .string, "version": .string])
        if let browser = log["browser"] { object(browser, at: "$.log.browser", required: ["name": .string, "version": .string]) }
        var pageIDs = Set<String>()
        for (index, page) in (log["pages"]?.arrayValue ?? []).enumerated() {
            let path = "$.log.pages[\(index)]"
            object(page, at: path, required: ["startedDateTime": .string, "id": .string, "title": .string, "pageTimings": .object])
            date(page["startedDateTime"], at: "\(path).startedDateTime")
            object(page["pageTimings"], at: "\(path).pageTimings", required: [:], optional: ["onContentLoad": .number, "onLoad": .number])
            if let id = page["id"]?.stringValue, !pageIDs.insert(id).inserted { fail("\(path).id", "repeats another page's id") }
        }
        for (index, entry) in (log["entries"]?.arrayValue ?? []).enumerated() {
            self.entry(entry, at: "$.log.entries[\(index)]", pages: pageIDs)
        }
    }

    mutating func entry(_ entry: JSONValue, at path: String, pages: Set<String>) {
        guard
            object(
                entry, at: path,
                required: [
                    "startedDateTime": .string, "time": .number, "request": .object, "response": .object, "cache": .object,
                    "timings": .object,
                ],
                optional: ["pageref": .string, "serverIPAddress": .string, "connection": .string]
            ) != nil
        else { return }
        date(entry["startedDateTime"], at: "\(path).startedDateTime")
        if let pageref = entry["pageref"]?.stringValue, !pages.contains(pageref) { fail("\(path).pageref", "names no page") }
        request(entry["request"], at: "\(path).request")
        response(entry["response"], at: "\(path).response")
        object(entry["cache"], at: "\(path).cache", required: [:], optional: ["beforeRequest": .object, "afterRequest": .object])
        guard
            let timings = object(
                entry["timings"], at: "\(path).timings", required: ["send": .number, "wait": .number, "receive": .number],
                optional: ["blocked": .number, "dns": .number, "connect": .number, "ssl": .number]
            )
        else { return }
        var sum = 0.0
        for key in ["blocked", "dns", "connect", "send", "wait", "receive", "ssl"] {
            guard let value = timings[key]?.doubleValue else { continue }
            let mandatory = ["send", "wait", "receive"].contains(key)
            if value < 0, mandatory || value != -1 { fail("\(path).timings.\(key)", "must be non-negative\(mandatory ? "" : " or -1")") }
            // ssl is part of connect, so it does not count twice.
            if value > 0, key != "ssl" { sum += value }
        }
        if let time = entry["time"]?.doubleValue {
            if time < 0 { fail("\(path).time", "must be non-negative") }
            if abs(time - sum) > 0.001 { fail("\(path).time", "is \(time) but the timings add up to \(sum)") }
        }
    }

    mutating func nameValues(_ value: JSONValue?, at path: String) {
        guard let items = value?.arrayValue else { return }
        for (index, item) in items.enumerated() { object(item, at: "\(path)[\(index)]", required: ["name": .string, "value": .string]) }
    }

    mutating func cookies(_ value: JSONValue?, at path: String) {
        guard let items = value?.arrayValue else { return }
        for (index, item) in items.enumerated() {
            object(
                item, at: "\(path)[\(index)]", required: ["name": .string, "value": .string],
                optional: ["path": .string, "domain": .string, "expires": .string, "httpOnly": .object, "secure": .object]
            )
        }
    }

    mutating func request(_ value: JSONValue?, at path: String) {
        guard
            let request = object(
                value, at: path,
                required: [
                    "method": .string, "url": .string, "httpVersion": .string, "cookies": .array, "headers": .array, "queryString": .array,
                    "headersSize": .integer, "bodySize": .integer,
                ],
                optional: ["postData": .object]
            )
        else { return }
        if let url = request["url"]?.stringValue, URL(string: url)?.scheme == nil { fail("\(path).url", "must be an absolute URL") }
        cookies(request["cookies"], at: "\(path).cookies")
        nameValues(request["headers"], at: "\(path).headers")
        nameValues(request["queryString"], at: "\(path).queryString")
        if let postData = request["postData"] {
            object(postData, at: "\(path).postData", required: ["mimeType": .string], optional: ["params": .array, "text": .string])
            if postData["params"] == nil, postData["text"] == nil { fail("\(path).postData", "needs text or params") }
        }
    }

    mutating func response(_ value: JSONValue?, at path: String) {
        guard
            let response = object(
                value, at: path,
                required: [
                    "status": .integer, "statusText": .string, "httpVersion": .string, "cookies": .array, "headers": .array,
                    "content": .object,
                    "redirectURL": .string, "headersSize": .integer, "bodySize": .integer,
                ]
            )
        else { return }
        cookies(response["cookies"], at: "\(path).cookies")
        nameValues(response["headers"], at: "\(path).headers")
        guard
            let content = object(
                response["content"], at: "\(path).content", required: ["size": .integer, "mimeType": .string],
                optional: ["compression": .integer, "text": .string, "encoding": .string]
            )
        else { return }
        if let size = content["size"]?.intValue, let text = content["text"]?.stringValue, content["encoding"] == nil,
            size != text.utf8.count
        {
            fail("\(path).content.size", "is \(size) but the text has \(text.utf8.count) bytes")
        }
    }
}

@Suite struct HARExportTests {
    @Test func everyExchangeOfTheSessionIsAValidHAR12Entry() async throws {
        let made = try await WalkthroughSessions.shared.session(.standard)
        let text = SessionExporter(flow: made.flow, session: made.session).export(.har)
        let document = try JSONValue.parse(text)
        let problems = HARValidator.validate(document)
        #expect(problems.isEmpty, "\(problems.prefix(20).joined(separator: "\n"))")
        let entries = try #require(document["log"]?["entries"]?.arrayValue)
        #expect(entries.count == made.session.exchanges.count)
        #expect(document["log"]?["version"] == "1.2")
        #expect(document["log"]?["creator"]?["name"] == "kira-walkthrough")
        // In order, with the methods and statuses the session recorded.
        for (entry, exchange) in zip(entries, made.session.exchanges.sorted { $0.sequence < $1.sequence }) {
            #expect(entry["request"]?["method"]?.stringValue == exchange.method)
            #expect(entry["request"]?["url"]?.stringValue == exchange.url)
            #expect(entry["response"]?["status"]?.intValue == exchange.status)
        }
        let auth = try #require(entries.first { $0["request"]?["url"]?.stringValue?.hasSuffix("/auth") == true })
        let headers = try #require(auth["request"]?["headers"]?.arrayValue)
        #expect(headers.contains { $0["name"] == "x-api-key" && $0["value"] == "[REDACTED]" })
        #expect(auth["request"]?["postData"]?["text"]?.stringValue?.contains("\"password\": \"[REDACTED]\"") == true)
        #expect(Secrets.leaks(in: text).isEmpty, "\(Secrets.leaks(in: text))")
    }

    @Test func aSecretThatSlippedIntoARecordIsMaskedOnTheWayOut() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let flow = try KiraBinary.quickstartFlow()
            var session = Session(
                name: "leaky", flow: flow, target: SessionTarget(kind: "url", baseURL: "http://127.0.0.1:1/sandbox", isEmulator: true),
                now: Date())
            session.record(
                ExchangeRecord(
                    sequence: 1, stepID: "authenticate", requestID: "auth", note: nil, method: "POST",
                    url: "http://127.0.0.1:1/sandbox/auth?api_key=kira_leaked_key_123",
                    requestHeaders: [["x-api-key", "kira_sandbox_demo_key"], ["Authorization", "Bearer kat_0123456789abcdef0123456789"]],
                    requestBody: "{\"password\": \"demo-password\"}", status: 200, responseHeaders: [["content-type", "application/json"]],
                    responseBody:
                        "{\"data\": {\"access_token\": \"kat_0123456789abcdef0123456789\", \"note\": \"token kat_99999999aaaa\"}}",
                    error: nil,
                    startedAt: Date(), durationMilliseconds: -3
                )
            )
            for format in ExportFormat.allCases {
                let text = SessionExporter(flow: flow, session: session, knownSecrets: ["demo-password"]).export(format)
                #expect(Secrets.leaks(in: text).isEmpty, "\(format): \(Secrets.leaks(in: text))")
                #expect(!text.contains("kira_leaked_key_123"), "\(format)")
            }
            let har = try JSONValue.parse(SessionExporter(flow: flow, session: session).export(.har))
            #expect(
                HARValidator.validate(har).isEmpty, "a negative duration becomes 0, a masked URL stays a URL: \(HARValidator.validate(har))"
            )
            let request = har["log"]?["entries"]?.arrayValue?.first?["request"]
            #expect(request?["queryString"]?.arrayValue?.first?["name"] == "api_key")
            #expect(request?["queryString"]?.arrayValue?.first?["value"] == "[REDACTED]")
            #expect(request?["url"]?.stringValue?.hasSuffix("?api_key=%5BREDACTED%5D") == true)

        }
    }

    @Test func theValidatorCatchesWhatIsNotHAR() throws {
        let broken: JSONValue = [
            "log": [
                "version": "1.1", "creator": ["name": "x"],
                "entries": [
                    [
                        "startedDateTime": "yesterday", "time": 5, "request": [:], "response": [:], "cache": [:],
                        "timings": ["send": 1, "wait": 1, "receive": 1],
                    ]
                ],
                "extra": true,
            ]
        ]
        let problems = HARValidator.validate(broken)
        for expected in [
            "must be \"1.2\"", "missing required 'version'", "ISO 8601", "missing required 'method'", "unknown field 'extra'",
            "add up to 3",
        ] {
            #expect(problems.contains { $0.contains(expected) }, "\(expected) in \(problems)")
        }
    }
}
