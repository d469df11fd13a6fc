import Coach
import Foundation
import KiraJSON
import Testing

/// The evaluator's vocabulary, on made-up requests of a made-up API (no Kira here).
@Suite struct CoachEvaluatorTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func request(
        _ sequence: Int, _ method: String, _ path: String, seconds: Double = 0, status: Int = 200, query: [String: String] = [:],
        headers: [String: String] = [:], body: JSONValue? = nil, response: JSONValue? = nil, tenant: String? = "t1",
        facts: [String: JSONValue] = [:]
    ) -> CoachRequest {
        CoachRequest(
            sequence: sequence, at: start.addingTimeInterval(seconds), method: method, path: path, query: query, headers: headers,
            body: body?.serialized() ?? [], status: status, response: response?.serialized() ?? [], tenant: tenant, facts: facts
        )
    }

    static func rules(_ yaml: String) throws -> CoachEvaluator {
        CoachEvaluator(rules: try CoachRules.load(yaml, file: "test.yaml"))
    }

    @Test func aHeaderTestFindsTheRequestWithoutIt() throws {
        let evaluator = try Self.rules(
            """
            base_path: /api
            rules:
              - id: key
                quirk: Q-KEY
                severity: error
                match: "* /**"
                where: [{ field: header.x-key, present: false }]
                message: no key
            """)
        let report = evaluator.report(for: [
            Self.request(1, "GET", "/api/things", headers: ["X-Key": "k"]),
            Self.request(2, "GET", "/api/things/1"),
            Self.request(3, "GET", "/api/things/1"),
        ])
        #expect(report.findings.map(\.rule) == ["key"])
        #expect(report.findings.first?.request.sequence == 2)
        #expect(report.findings.first?.count == 2)
    }

    @Test func patternsBindParametersAndBasePathIsStripped() throws {
        let evaluator = try Self.rules(
            """
            base_path: /api
            rules:
              - id: big
                quirk: Q-BIG
                severity: warning
                match: GET /things/{id}/parts
                except: GET /things/skip/parts
                where: [{ field: query.limit, greater_than: 10 }, { field: param.id, not_equals: "7" }]
                message: too many
            """)
        let report = evaluator.report(for: [
            Self.request(1, "GET", "/api/things/1/parts", query: ["limit": "11"]),
            Self.request(2, "GET", "/api/things/7/parts", query: ["limit": "50"]),
            Self.request(3, "GET", "/api/things/skip/parts", query: ["limit": "50"]),
            Self.request(4, "GET", "/api/things/2/parts", query: ["limit": "10"]),
            Self.request(5, "POST", "/api/things/3/parts", query: ["limit": "50"]),
            Self.request(6, "GET", "/api/things/3/parts/x", query: ["limit": "50"]),
        ])
        #expect(report.findings.map(\.request.sequence) == [1])
        #expect(report.findings.first?.severity == .warning)
    }

    @Test func earlierConditionsLookBackWithinTheTenant() throws {
        let evaluator = try Self.rules(
            """
            rules:
              - id: fast
                quirk: Q-FAST
                severity: warning
                match: GET /things/{id}
                earlier: [{ same: [path], within_seconds: 1 }]
                message: polled fast
              - id: retry
                quirk: Q-RETRY
                severity: error
                match: POST /quote
                earlier:
                  - where: [{ field: status, equals: 400 }, { field: response.code, equals: TOO_SMALL }]
                    same: [body]
                message: same refused quote
              - id: after-401
                quirk: Q-AUTH
                severity: error
                match: "* /things/**"
                earlier: [{ where: [{ field: status, equals: 401 }], immediately: true }]
                message: no new login after 401
              - id: again
                quirk: Q-AGAIN
                severity: error
                match: POST /things
                earlier:
                  - where: [{ field: status, equals: 409 }]
                    same: [body.owner]
                    unless_between: GET /things
                message: created again after 409
            """)
        let report = evaluator.report(for: [
            Self.request(1, "GET", "/things/1", seconds: 0),
            Self.request(2, "GET", "/things/1", seconds: 0.5, tenant: "t2"),
            Self.request(3, "GET", "/things/1", seconds: 1.5),
            Self.request(4, "GET", "/things/1", seconds: 2.0),
            Self.request(5, "POST", "/quote", seconds: 3, status: 400, body: ["amount": "1"], response: ["code": "too_small"]),
            Self.request(6, "POST", "/quote", seconds: 4, status: 400, body: ["amount": "2"], response: ["code": "too_small"]),
            Self.request(7, "POST", "/quote", seconds: 5, status: 400, body: ["amount": "2"], response: ["code": "too_small"]),
            Self.request(8, "GET", "/things/9", seconds: 10, status: 401),
            Self.request(9, "POST", "/login", seconds: 11),
            Self.request(10, "GET", "/things/9", seconds: 12),
            Self.request(11, "GET", "/things/8", seconds: 20, status: 401),
            Self.request(12, "GET", "/things/7", seconds: 30),
            Self.request(13, "POST", "/things", seconds: 40, status: 409, body: ["owner": "a"]),
            Self.request(14, "GET", "/things", seconds: 41),
            Self.request(15, "POST", "/things", seconds: 42, status: 409, body: ["owner": "a"]),
            Self.request(16, "POST", "/things", seconds: 43, status: 409, body: ["owner": "b"]),
            Self.request(17, "POST", "/things", seconds: 44, status: 409, body: ["owner": "a"]),
        ])
        let found = report.findings.map { "\($0.rule)#\($0.request.sequence)" }.sorted()
        #expect(found == ["after-401#12", "again#17", "fast#4", "retry#7"])
    }

    @Test func stepsAreDoneOnlyWhenTheirRequestsComeInOrder() throws {
        let evaluator = try Self.rules(
            """
            steps:
              - id: one
                title: Made and read
                requires:
                  - match: POST /things
                    where: [{ field: status, equals: 201 }]
                  - match: GET /things/{id}
                    where: [{ field: response.state, equals: READY }]
              - id: two
                title: Never
                requires:
                  - match: DELETE /things/{id}
            """)
        let early = evaluator.report(for: [
            Self.request(1, "GET", "/things/1", response: ["state": "ready"]),
            Self.request(2, "POST", "/things", status: 201),
        ])
        #expect(early.steps.map(\.done) == [false, false])
        let done = evaluator.report(for: [
            Self.request(1, "POST", "/things", status: 201), Self.request(2, "GET", "/things/1", response: ["state": "Ready"]),
        ])
        #expect(done.steps.map(\.done) == [true, false])
        #expect(done.json["steps"]?.arrayValue?.first?["id"] == "one")
    }

    @Test func factsAndOneOfCompareScalarsByText() throws {
        let evaluator = try Self.rules(
            """
            rules:
              - id: fact
                quirk: Q-FACT
                severity: error
                match: POST /users
                where: [{ field: status, one_of: [200, 201] }, { field: fact.triggered, equals: false }]
                message: not triggered
            """)
        let report = evaluator.report(for: [
            Self.request(1, "POST", "/users", status: 201, facts: ["triggered": true]),
            Self.request(2, "POST", "/users", status: 400, facts: ["triggered": false]),
            Self.request(3, "POST", "/users", status: 201, facts: ["triggered": false]),
        ])
        #expect(report.findings.map(\.request.sequence) == [3])
    }

    @Test func errorsComeBeforeWarningsAndTheReportRoundTrips() throws {
        let evaluator = try Self.rules(
            """
            rules:
              - { id: w, quirk: Q-W, severity: warning, match: GET /a, message: warn, fix: do less }
              - { id: e, quirk: Q-E, severity: error, match: GET /b, message: fail, why: because }
            """)
        let report = evaluator.report(for: [Self.request(1, "GET", "/a"), Self.request(2, "GET", "/b")])
        #expect(report.findings.map(\.severity) == [.error, .warning])
        let back = try #require(CoachReport(json: report.json))
        #expect(back.findings.map(\.quirk) == ["Q-E", "Q-W"])
        #expect(back.findings.map(\.request.path) == ["/b", "/a"])
        #expect(back.findings.last?.fix == "do less")
    }

    @Test func aBrokenFileIsRefusedWithWhatIsWrong() {
        #expect(throws: CoachRulesError.self) {
            _ = try CoachRules.load("rules: [{ id: x, quirk: Q-X, severity: fatal, match: GET /a, message: m }]", file: "bad.yaml")
        }
        do {
            _ = try CoachRules.load(
                "rules: [{ id: x, quirk: Q-X, severity: error, match: /a, message: m, where: [{ field: status }] }]", file: "bad.yaml")
            Issue.record("a broken rule was accepted")
        } catch let error as CoachRulesError {
            #expect(error.description.contains("pattern '/a' is not 'METHOD /path'"), "\(error)")
            #expect(error.description.contains("needs exactly one operator"), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func theShippedCoachFileLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("flows/coach.yaml"), encoding: .utf8)
        let rules = try CoachRules.load(text, file: "flows/coach.yaml")
        #expect(rules.steps.count == 7)
        #expect(rules.rules.count >= 12)
    }
}
