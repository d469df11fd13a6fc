import Foundation
import Testing

@testable import KiraJSON

@Suite struct JSONValueTests {
    @Test func roundTripKeepsKeyOrderAndNumberLexemes() throws {
        let text = #"{"z":1,"a":{"amount":100.00,"big":12345678901234567890,"exp":2.5E+3},"list":[true,false,null,"s"]}"#
        let value = try JSONValue.parse(text)
        #expect(value.text() == text)
        #expect(value["z"]?.intValue == 1)
        #expect(value["a"]?.objectValue?.keys == ["amount", "big", "exp"])
        #expect(value["a"]?["amount"] == .number("100.00"))
    }

    @Test func prettyPrintingIndentsByTwo() throws {
        let value = try JSONValue.parse(#"{"a":[1,{"b":"c"}],"e":{},"f":[]}"#)
        #expect(
            value.text(.pretty) == """
                {
                  "a": [
                    1,
                    {
                      "b": "c"
                    }
                  ],
                  "e": {},
                  "f": []
                }
                """
        )
    }

    @Test func canonicalFormIgnoresKeyOrder() throws {
        let one = try JSONValue.parse(#"{"b":1,"a":{"y":2,"x":3}}"#)
        let two = try JSONValue.parse(#"{"a":{"x":3,"y":2},"b":1}"#)
        #expect(one == two)
        #expect(one.hashValue == two.hashValue)
        #expect(one.text(.canonical) == two.text(.canonical))
        #expect(one.text() != two.text())
    }

    @Test func stringsEscapeAndUnescape() throws {
        let value = try JSONValue.parse(#""quote \" backslash \\ tab \t newline \n unicode \u00e9 emoji \ud83d\ude00 slash \/""#)
        #expect(value.stringValue == "quote \" backslash \\ tab \t newline \n unicode é emoji 😀 slash /")
        #expect(try JSONValue.parse(value.text()) == value)
        #expect(JSONValue.string("\u{01}").text() == #""\u0001""#)
    }

    @Test(arguments: [
        ("", "Empty document", 1, 1),
        ("{\"a\":1,}", "Expected a string key", 1, 8),
        ("{\n  \"a\": tru\n}", "Invalid literal", 2, 8),
        ("[1 2]", "Expected ',' or ']'", 1, 4),
        ("\"abc", "Unterminated string", 1, 1),
        ("01", "Unexpected content", 1, 2),
        ("{\"a\":\"\\ud800\"}", "Unpaired surrogate", 1, 13),
        ("1.", "digits expected", 1, 3),
        ("{} x", "Unexpected content", 1, 4),
    ])
    func syntaxErrorsSayWhatAndWhere(text: String, reason: String, line: Int, column: Int) {
        do {
            _ = try JSONValue.parse(text)
            Issue.record("\(text) should not parse")
        } catch {
            #expect(error.reason.contains(reason), "\(error)")
            #expect(error.line == line, "\(error)")
            #expect(error.column == column, "\(error)")
        }
    }

    @Test func deepNestingIsRefusedNotCrashed() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { _ = try JSONValue.parse(deep) }
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect((try? JSONValue.parse(fine)) != nil)
    }

    /// A string without escapes is made from the bytes in place; one with escapes goes byte by
    /// byte. Both give the same value, wherever an escape sits, and writing gives it back.
    @Test(arguments: [
        (#""""#, ""), (#""plain""#, "plain"), (#""é漢字😀""#, "é漢字😀"), (#""at the end \n""#, "at the end \n"),
        (#""\tat the start""#, "\tat the start"), (#""mid\u00e9dle""#, "midédle"), (#""two \" \\ escapes""#, "two \" \\ escapes"),
        (#""plain then \ud83d\ude00""#, "plain then 😀"),
    ])
    func stringsWithAndWithoutEscapesParseAlike(json: String, expected: String) throws {
        let value = try JSONValue.parse(json)
        #expect(value == .string(expected))
        #expect(try JSONValue.parse(value.text()) == value)
        // The same string as a key (after a plain prefix) and as a value, with space around the colon.
        let object = try JSONValue.parse("{\"key " + json.dropFirst() + "   :   " + json + "}")
        #expect(object["key " + expected] == value)
    }

    /// Errors inside a string are found where they are, on either path.
    @Test(arguments: [
        ("\"plain\u{01}\"", "Control character", 7), ("\"ab\\n\u{01}\"", "Control character", 6),
        ("\"plain", "Unterminated string", 1), ("\"ab\\n", "Unterminated string", 1),
    ])
    func stringErrorsAreFoundOnEitherPath(text: String, reason: String, column: Int) {
        do {
            _ = try JSONValue.parse(text)
            Issue.record("\(text.debugDescription) should not parse")
        } catch {
            #expect(error.reason.contains(reason), "\(error)")
            #expect(error.column == column, "\(error)")
        }
    }

    /// The writer copies a string with nothing to escape in one piece and escapes the others.
    @Test func writtenStringsAreEscapedExactlyWhereNeeded() {
        #expect(JSONValue.string("plain é 漢字").text() == #""plain é 漢字""#)
        #expect(JSONValue.string("a\"b\\c\nd\u{01}").text() == #""a\"b\\c\nd\u0001""#)
        #expect(JSONValue.string("").text() == #""""#)
    }

    @Test func invalidUTF8IsAnError() {
        #expect(throws: JSONSyntaxError.self) { _ = try JSONValue.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func codableRoundTrip() throws {
        let value: JSONValue = ["a": [1, "two", nil, true], "b": ["c": "d"]]
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
    }

    @Test func objectSubscriptSetsReplacesAndRemoves() {
        var object: JSONObject = ["a": 1, "b": 2]
        object["c"] = 3
        object["a"] = 9
        object["b"] = nil
        #expect(object.keys == ["a", "c"])
        #expect(object["a"] == 9)
    }
}
