import Foundation
import KiraJSON
import Testing

@testable import SessionStore
@testable import WalkthroughCore

/// The session file as written through KiraJSON: files of earlier versions still load, dates are
/// written as before, and the session's key order and number text reach the disk.
@Suite struct SessionFileFormatTests {
    /// `Fixtures/session-schema1.json`: a whole quickstart (with webhooks) saved by the version that
    /// wrote sessions with `JSONEncoder` (sorted keys, ISO 8601 dates).
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/session-schema1.json")

    @Test func aSessionWrittenByTheJSONEncoderVersionLoadsAndSavesBackTheSame() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            try FileManager.default.copyItem(atPath: fixture.path, toPath: store.path(for: "today"))
            let old = try JSONValue.parse(try #require(bytes(fixture.path)))
            let session = try #require(try store.load("today"))
            #expect(session.isComplete)
            #expect(session.steps.allSatisfy { $0.state == .succeeded })
            #expect(session.exchanges.count == 18)
            #expect(session.webhooks.count == 6)
            #expect(session.createdAt == (try Date.ISO8601FormatStyle().parse("2026-12-03T08:28:32Z")))
            #expect(
                session.exchanges.first?.durationMilliseconds == old["exchanges"]?.arrayValue?.first?["durationMilliseconds"]?.doubleValue)
            #expect(session.captures["token_lifetime"] == .number("3600"))
            #expect(
                session.captures
                    == old["captures"]?.objectValue.map { Dictionary(uniqueKeysWithValues: $0.entries.map { ($0.key, $0.value) }) })

            try store.save(session)
            let again = try #require(try store.load("today"))
            #expect(again.createdAt == session.createdAt)
            #expect(again.updatedAt == session.updatedAt)
            #expect(again.completedAt == session.completedAt)
            #expect(again.steps == session.steps)
            #expect(again.exchanges == session.exchanges)
            #expect(again.events == session.events)
            #expect(again.webhooks == session.webhooks)
            #expect(again.captures == session.captures)
            #expect(again.inputs == session.inputs)
        }
    }

    @Test func datesAreWrittenAsJSONEncodersISO8601WroteThem() throws {
        let date = Date(timeIntervalSince1970: 1_800_000_000.75)
        let before = try String(
            decoding: {
                let e = JSONEncoder(); e.dateEncodingStrategy = .iso8601; return try e.encode([date])
            }(), as: UTF8.self)
        #expect(try SessionStore.encoder.encode([date]).text() == before)
        let read = try SessionStore.decoder.decode([Date].self, from: JSONValue.parse(before))
        #expect(read == [Date(timeIntervalSince1970: 1_800_000_000)], "whole seconds, as before")
        #expect(throws: DecodingError.self) { _ = try SessionStore.decoder.decode(Date.self, from: "yesterday") }
    }

    @Test func bodiesKeepKeyOrderAndNumberText() throws {
        try withTemporaryDirectory { root in
            let store = SessionStore(directory: root)
            var session = try quickstartSession("order")
            let body = try JSONValue.parse(#"{"zeta":"first","amount":100.00,"alpha":1.50e2}"#)
            session.captures["quote"] = body
            session.webhooks = [
                WebhookEventRecord(event: "payout.created", eventID: "e1", verified: true, receivedAt: session.createdAt, body: body)
            ]
            try store.save(session)
            let text = String(decoding: try #require(bytes(store.path(for: "order"))), as: UTF8.self)
            #expect(
                text.hasPrefix("{\n  \"schema_version\": \(Session.currentSchema),\n  \"name\": \"order\""),
                "the session's own key order, not sorted")
            #expect(text.contains("\"amount\": 100.00"))
            #expect(text.contains("\"alpha\": 1.50e2"))
            let loaded = try #require(try store.load("order"))
            #expect(loaded.captures["quote"]?.text() == body.text())
            #expect(loaded.webhooks.first?.body?.text() == body.text())
        }
    }
}
