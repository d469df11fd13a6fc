import Testing

@testable import KiraJSON

/// The order and duplicate-key rules of `JSONObject`, which callers and files on disk rely on.
@Suite struct JSONObjectTests {
    @Test func parserKeepsFirstPositionAndLastValueOfADuplicateKey() throws {
        let value = try JSONValue.parse(#"{"b":1,"a":2,"b":3,"c":4}"#)
        #expect(value.objectValue?.keys == ["b", "a", "c"])
        #expect(value["b"] == 3)
        #expect(value.text() == #"{"b":3,"a":2,"c":4}"#)
    }

    @Test func initFromPairsFollowsTheParsersDuplicateRule() {
        let object = JSONObject([("z", 1), ("y", 2), ("z", 3)])
        #expect(object.keys == ["z", "y"])
        #expect(object["z"] == 3)
        #expect(object.count == 2)
    }

    @Test func entriesAndIterationAreInInsertionOrder() {
        var object = JSONObject()
        for key in ["m", "a", "z", "b"] { object[key] = .string(key) }
        #expect(object.entries.map(\.key) == ["m", "a", "z", "b"])
        #expect(object.map(\.key) == ["m", "a", "z", "b"])
        object["a"] = nil
        object["a"] = "again"
        #expect(object.keys == ["m", "z", "b", "a"], "a removed key comes back at the end")
    }

    @Test func equalityAndHashIgnoreOrderButNotValues() {
        let one = JSONObject([("a", 1), ("b", 2)])
        let two = JSONObject([("b", 2), ("a", 1)])
        #expect(one == two)
        #expect(one.hashValue == two.hashValue)
        #expect(one != JSONObject([("a", 1), ("b", 3)]))
        #expect(one != JSONObject([("a", 1)]))
    }

    @Test func aLargeObjectKeepsEveryKeyInOrder() throws {
        var object = JSONObject()
        for index in 0..<5_000 { object["k\(index)"] = .int(index) }
        #expect(object.count == 5_000)
        #expect(object["k4321"] == .int(4321))
        let reparsed = try JSONValue.parse(JSONValue.object(object).text())
        #expect(reparsed.objectValue?.keys == object.keys)
    }
}
