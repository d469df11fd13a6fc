import Testing

@testable import KiraJSON

/// `Codable` values to and from `JSONValue`, as session and emulator files are written.
@Suite struct JSONValueCoderTests {
    struct Record: Codable, Equatable {
        enum Origin: Codable, Equatable {
            case flow
            case remedy(quirk: String, remedy: Int)
        }

        var zebra: String
        var apple: Int
        var amount: Double
        var body: JSONValue?
        var missing: String?
        var origin: Origin
        var tags: [String: Int]
        var nested: [[UInt8]]
        var flag: Bool

        enum CodingKeys: String, CodingKey {
            case zebra, apple = "apple_count", amount, body, missing, origin, tags, nested, flag
        }
    }

    let sample = Record(
        zebra: "z", apple: 3, amount: 2.5, body: try! JSONValue.parse(#"{"total":100.00,"b":1,"a":2}"#), missing: nil,
        origin: .remedy(quirk: "Q-X", remedy: 1), tags: ["b": 2, "a": 1, "c": 3], nested: [[1, 2], []], flag: true
    )

    @Test func encodesInDeclaredKeyOrderKeepingEmbeddedJSONAsIs() throws {
        let json = try JSONValueEncoder().encode(sample)
        #expect(
            json.text()
                == #"{"zebra":"z","apple_count":3,"amount":2.5,"body":{"total":100.00,"b":1,"a":2},"origin":{"remedy":{"quirk":"Q-X","remedy":1}},"tags":{"a":1,"b":2,"c":3},"nested":[[1,2],[]],"flag":true}"#
        )
    }

    @Test func roundTripsThroughText() throws {
        let text = try JSONValueEncoder().encode(sample).text(.pretty)
        let decoded = try JSONValueDecoder().decode(Record.self, from: JSONValue.parse(text))
        #expect(decoded == sample)
        #expect(decoded.body?.text() == #"{"total":100.00,"b":1,"a":2}"#)
    }

    @Test func doublesAreWrittenShortestWithoutTrailingZero() throws {
        #expect(
            try JSONValueEncoder().encode([1.0, 0.1, 1796286488.8292258, -3])
                == .array([.number("1"), .number("0.1"), .number("1796286488.8292258"), .number("-3")]))
        #expect(throws: EncodingError.self) { _ = try JSONValueEncoder().encode(Double.nan) }
    }

    @Test func integersAcceptExactLexemesOnly() throws {
        #expect(try JSONValueDecoder().decode(Int.self, from: .number("7.0")) == 7)
        #expect(try JSONValueDecoder().decode(Int.self, from: .number("7e1")) == 70)
        #expect(throws: DecodingError.self) { _ = try JSONValueDecoder().decode(Int.self, from: .number("7.5")) }
        #expect(throws: DecodingError.self) { _ = try JSONValueDecoder().decode(UInt8.self, from: .number("300")) }
        #expect(throws: DecodingError.self) { _ = try JSONValueDecoder().decode(Int.self, from: .string("7")) }
    }

    @Test func missingAndNullAreTold() throws {
        struct Needs: Decodable { var name: String }
        #expect(throws: DecodingError.self) { _ = try JSONValueDecoder().decode(Needs.self, from: ["other": 1]) }
        #expect(throws: DecodingError.self) { _ = try JSONValueDecoder().decode(Needs.self, from: ["name": nil]) }
        struct Optional_: Decodable { var name: String? }
        #expect(try JSONValueDecoder().decode(Optional_.self, from: ["name": nil]).name == nil)
    }

    @Test func overridesReplaceATypesOwnCoding() throws {
        struct Stamp: Codable, Equatable { var seconds: Int }
        let encoder = JSONValueEncoder { value in (value as? Stamp).map { .string("t=\($0.seconds)") } }
        let decoder = JSONValueDecoder { type, json, _ in
            guard type == Stamp.self, let text = json.stringValue, text.hasPrefix("t=") else { return nil }
            return Stamp(seconds: Int(text.dropFirst(2))!)
        }
        let json = try encoder.encode(["at": Stamp(seconds: 5)])
        #expect(json.text() == #"{"at":"t=5"}"#)
        #expect(try decoder.decode([String: Stamp].self, from: json) == ["at": Stamp(seconds: 5)])
    }
}
