import Foundation
import KiraJSON
import Testing

@testable import WalkthroughCore

/// The pure shape comparison behind `kira-walkthrough drift`.
@Suite struct ShapeDriftTests {
    func shape(_ status: Int, _ json: JSONValue) -> ResponseShape { ResponseShape(status: status, body: json.text(.pretty)) }

    func compare(_ recorded: ResponseShape, _ emulator: ResponseShape) -> [String] {
        ShapeDrift.compare(recorded, emulator, stepID: "step", requestID: "request").map(\.description)
    }

    @Test func otherValuesOfTheSameShapeAreNoDifference() {
        let recorded = shape(201, ["id": "3f0c1e2a-0000-4000-8000-000000000001", "status": "approved", "amount": "10.00", "n": 1])
        let emulator = shape(201, ["id": "9a9a9a9a-0000-4000-8000-000000000002", "status": "declined", "amount": "99.99", "n": 7])
        #expect(compare(recorded, emulator).isEmpty)
    }

    @Test func aRenamedFieldIsNamedOnBothSides() {
        let recorded = shape(200, ["data": ["access_token": "x", "expires_in": 3600]])
        let emulator = shape(200, ["data": ["token": "x", "expires_in": 3600]])
        #expect(
            compare(recorded, emulator) == [
                "step/request: data.access_token: recorded string emulator absent",
                "step/request: data.token: recorded absent emulator string",
            ])
    }

    @Test func aChangedTypeAndCasingAreReported() {
        let recorded = shape(200, ["status": "approved", "amount": "10.00", "items": [["kind": "a"]]])
        let emulator = shape(200, ["status": "APPROVED", "amount": 10, "items": [["kind": 1]]])
        #expect(
            compare(recorded, emulator) == [
                "step/request: amount: recorded string emulator number",
                "step/request: items[].kind: recorded string emulator number",
                "step/request: status: recorded lower case string emulator UPPER CASE string",
            ])
    }

    @Test func anotherStatusCodeIsTheOnlyDifferenceShown() {
        #expect(
            compare(shape(201, ["id": "x"]), shape(400, ["code": "validation_error"])) == [
                "step/request: HTTP status: recorded 201 emulator 400"
            ])
    }

    @Test func nullAgainstAValueIsAValueNotAShape() {
        let recorded = shape(200, ["account_number": .null, "destination": .null])
        let emulator = shape(200, ["account_number": "1234567890", "destination": ["address": "x", "chain": "eth"]])
        #expect(compare(recorded, emulator).isEmpty)
    }

    @Test func textAgainstJSONIsReported() {
        let recorded = ResponseShape(status: 502, body: "<html>Bad Gateway</html>")
        let emulator = shape(502, ["message": "Bad Gateway"])
        #expect(compare(recorded, emulator).contains("step/request: (body): recorded text emulator object"))
    }

    @Test func enumLikeStringsAreTheOnlyOnesWithACasing() {
        #expect(ResponseShape.casing(ofEnumLike: "approved") == .lower)
        #expect(ResponseShape.casing(ofEnumLike: "resource_conflict") == .lower)
        #expect(ResponseShape.casing(ofEnumLike: "PENDING") == .upper)
        #expect(ResponseShape.casing(ofEnumLike: "Ada") == .mixed)
        for value in ["ada@example.com", "10.00", "3f0c1e2a-0000-4000-8000-000000000001", "Total fees exceed", "", "_x", "a__b"] {
            #expect(ResponseShape.casing(ofEnumLike: value) == nil, "\(value)")
        }
    }

    func exchange(_ step: String, _ request: String, _ status: Int?, _ body: JSONValue?) -> ExchangeRecord {
        ExchangeRecord(
            sequence: 0, stepID: step, requestID: request, note: nil, method: "GET", url: "http://127.0.0.1/x", requestHeaders: [],
            requestBody: nil, status: status, responseHeaders: [], responseBody: body?.text(.pretty), error: nil,
            startedAt: Date(timeIntervalSince1970: 0), durationMilliseconds: 1)
    }

    /// The last answer to each request counts (a wait's final poll), failures without an answer do
    /// not, and a request the emulator's run never sent is listed, not compared.
    @Test func theLastAnswerOfEachRequestIsCompared() {
        let recorded = [
            exchange("va", "ready", 200, ["account_number": "PENDING-ACT-ACCOUNT", "status": "approved"]),
            exchange("va", "ready", nil, nil),
            exchange("va", "ready", 200, ["account_number": "1234567890", "status": "APPROVED"]),
            exchange("va", "find_existing", 200, ["data": []]),
        ]
        let emulator = [exchange("va", "ready", 200, ["account_number": "1234567890", "status": "approved"])]
        let report = ShapeDrift.compare(recorded: recorded, emulator: emulator)
        #expect(report.compared == ["va/ready"])
        #expect(report.notCompared == ["va/find_existing"])
        #expect(report.differences.map(\.description) == ["va/ready: status: recorded UPPER CASE string emulator lower case string"])
    }
}
