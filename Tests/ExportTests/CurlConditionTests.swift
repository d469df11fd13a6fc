import Foundation
import KiraJSON
import KiraTestSupport
import Testing
import WalkthroughCore

@testable import Exports

/// The exported script's conditions against the engine's: every condition of every shipped flow,
/// compiled to jq by `JQConditionCompiler` and run by jq as the script runs it, must decide what
/// `WalkthroughEngine.matches` decides over the answers a real session recorded (and over answers
/// made to reach the corners: a body that is not JSON, a missing or null field, a number where a
/// string is expected, another casing).
@Suite(.serialized) struct CurlConditionTests {
    /// A condition with where it comes from.
    struct Condition {
        var label: String
        var condition: ResponseCondition
    }

    /// An answer as the script and the engine both see it: a status and the body's bytes.
    struct Answer: Hashable {
        var label: String
        var status: Int
        var body: [UInt8]

        init(_ label: String, _ status: Int, _ body: String) { self.init(label, status, bytes: Array(body.utf8)) }
        init(_ label: String, _ status: Int, bytes: [UInt8]) {
            self.label = label
            self.status = status
            self.body = bytes
        }

        /// What the client hands the engine for these bytes (`KiraAPIClient`).
        var summary: ResponseSummary {
            ResponseSummary(status: status, json: try? JSONValue.parse(body), text: String(decoding: body, as: UTF8.self))
        }
    }

    // MARK: Conditions

    /// Every condition of a flow: each request's (remedies' requests included) quirk `when`s and
    /// wait `until`.
    static func conditions(of flow: Flow) -> [Condition] {
        var all: [Condition] = []
        for entry in flow.allRequests {
            let request = entry.request
            let place = "\(entry.step.id)/\(request.id)"
            if let wait = request.wait { all.append(Condition(label: "\(place) wait until", condition: wait.until)) }
            for rule in request.quirks { all.append(Condition(label: "\(place) \(rule.id) when", condition: rule.when)) }
        }
        return all
    }

    /// Conditions that reach what the shipped flows do not (yet) use.
    static let cornerConditions: [Condition] = [
        Condition(label: "status only", condition: ResponseCondition(status: [200])),
        Condition(label: "no status at all", condition: ResponseCondition(status: [])),
        Condition(label: "code, any case", condition: ResponseCondition(code: "Resource_Conflict")),
        Condition(label: "code, case-sensitive", condition: ResponseCondition(code: "resource_conflict", caseSensitive: true)),
        Condition(label: "message, any case", condition: ResponseCondition(messageContains: "NOT FOUND")),
        Condition(label: "message, case-sensitive", condition: ResponseCondition(messageContains: "not found", caseSensitive: true)),
        Condition(label: "empty message fragment", condition: ResponseCondition(messageContains: "")),
        Condition(label: "message, an emoji", condition: ResponseCondition(messageContains: "😀 NOT FOUND")),
        Condition(label: "message with status", condition: ResponseCondition(status: [400], messageContains: "total FEES")),
        Condition(label: "field text, any case", condition: ResponseCondition(field: JSONPath("status"), equals: [.string("verified")])),
        Condition(
            label: "field text, case-sensitive",
            condition: ResponseCondition(field: JSONPath("status"), equals: [.string("VERIFIED")], caseSensitive: true)),
        Condition(label: "field number", condition: ResponseCondition(field: JSONPath("amount"), equals: [.number("100")])),
        Condition(label: "field number as text", condition: ResponseCondition(field: JSONPath("amount"), equals: [.string("100")])),
        Condition(label: "field bool", condition: ResponseCondition(field: JSONPath("flag"), equals: [.bool(true)])),
        Condition(label: "field bool as text", condition: ResponseCondition(field: JSONPath("flag"), equals: [.string("TRUE")])),
        Condition(label: "nested field is null", condition: ResponseCondition(field: JSONPath("data.0.id"), equals: [.null])),
        Condition(label: "field is not null", condition: ResponseCondition(field: JSONPath("status"), notIn: [.null])),
        Condition(label: "field is the text null", condition: ResponseCondition(field: JSONPath("status"), equals: [.string("null")])),
        Condition(
            label: "field not in texts", condition: ResponseCondition(field: JSONPath("status"), notIn: [.null, .string("verified")])),
        Condition(label: "field equals nothing", condition: ResponseCondition(field: JSONPath("status"), equals: [])),
        Condition(label: "field of an array", condition: ResponseCondition(field: JSONPath("0.status"), equals: [.string("verified")])),
        Condition(label: "field, accented", condition: ResponseCondition(field: JSONPath("name"), equals: [.string("ÉCOLE İSTANBUL")])),
        Condition(label: "field object as text", condition: ResponseCondition(field: JSONPath("obj"), equals: [.string("{\"a\":1}")])),
        Condition(
            label: "field array", condition: ResponseCondition(field: JSONPath("list"), equals: [.array([.number("1"), .string("a")])])),
        Condition(
            label: "field equals a known capture",
            condition: ResponseCondition(field: JSONPath("status"), equals: [.string("{{ user_status }}")])),
        Condition(
            label: "field equals text around a capture",
            condition: ResponseCondition(field: JSONPath("note"), equals: [.string("user {{ user_status }}!")], caseSensitive: true)),
        Condition(
            label: "field equals an unknown value, as written",
            condition: ResponseCondition(field: JSONPath("status"), equals: [.string("{{ never_captured }}")])),
        Condition(
            label: "field equals the API version",
            condition: ResponseCondition(field: JSONPath("version"), equals: [.string("{{ api_version }}")])),
        Condition(label: "field without a test", condition: ResponseCondition(field: JSONPath("status"))),
        Condition(label: "nothing", condition: ResponseCondition()),
    ]

    // MARK: Answers

    /// Answers made to reach the corners of the conditions.
    static let cornerAnswers: [Answer] = [
        Answer("text body", 404, "Not Found: no such user"),
        Answer("text body with fees", 400, "total fees exceed or equal the payout amount"),
        Answer("error in capitals", 409, #"{"code":"RESOURCE_CONFLICT","message":"User NOT FOUND"}"#),
        Answer("error in lower case, message null", 409, #"{"code":"resource_conflict","message":null,"hint":"not found"}"#),
        Answer("code and message not strings", 400, #"{"code":123,"message":["not","found"]}"#),
        Answer(
            "a full object", 200,
            #"{"status":"VERIFIED","amount":100,"flag":true,"name":"école i̇stanbul","obj":{"a":1},"list":[1,"a"],"data":[{"id":null}],"version":"2026-04-14","note":"user VERIFIED!"}"#
        ),
        Answer(
            "texts where numbers were", 200,
            #"{"status":"verified","amount":"100","flag":"true","name":"ÉCOLE İSTANBUL","obj":"{\"a\":1}","data":[]}"#),
        Answer("null status", 200, #"{"status":null,"amount":7,"data":[{}]}"#),
        Answer("status the text null", 200, #"{"status":"null"}"#),
        Answer("status in mixed case", 200, #"{"status":"Verified","note":"user verified!"}"#),
        Answer("an array body", 200, #"[{"status":"VERIFIED"}]"#),
        Answer("an empty body", 204, ""),
        Answer("the body null", 200, "null"),
        Answer("not UTF-8", 500, bytes: Array("Not found ".utf8) + [0xFF, 0xFE, 0x41]),
        Answer("a number body", 200, "42"),
        // A four-byte character across byte 4096, where jq 1.6 reading with -R breaks it in two.
        Answer("a long text body", 404, String(repeating: "x", count: 4094) + "😀 not found"),
    ]

    /// An answer the engine matches to `condition`, in another casing where the condition ignores
    /// case: its first status, its code and message, its field with the first expected value.
    static func witness(for condition: ResponseCondition, label: String, engine: WalkthroughEngine) -> Answer {
        let made = witnessParts(for: condition, engine: engine, into: .object([:]))
        return Answer("made to match \(label)", made.status ?? 200, made.body.text())
    }

    /// The status and body that make `condition` hold, written into `body`: the conditions under
    /// its `all` are written into the same body, so the answer holds for every one of them.
    static func witnessParts(for condition: ResponseCondition, engine: WalkthroughEngine, into body: JSONValue) -> (
        status: Int?, body: JSONValue
    ) {
        let folds = !condition.caseSensitive
        var body = body
        if let code = condition.code { body = setting(.string(folds ? code.uppercased() : code), at: [.key("code")], in: body) }
        if let fragment = condition.messageContains {
            body = setting(.string("before \(folds ? fragment.uppercased() : fragment) after"), at: [.key("message")], in: body)
        }
        if let field = condition.field {
            var value: JSONValue? = .string("something else")
            if let expected = condition.equals?.first {
                value = expected
                if case .string(let text) = expected {
                    let rendered = (try? Template(parsing: text))?.render { engine.value(of: $0) } ?? text
                    value = .string(folds ? rendered.uppercased() : rendered)
                }
            }
            if let value, value != .null { body = setting(value, at: field.segments, in: body) }
        }
        var status = condition.status?.first
        for part in condition.all ?? [] {
            let made = witnessParts(for: part, engine: engine, into: body)
            body = made.body
            status = status ?? made.status
        }
        return (status, body)
    }

    /// `document` with `value` at `path`, building the objects and arrays on the way.
    static func setting(_ value: JSONValue, at path: [JSONPath.Segment], in document: JSONValue) -> JSONValue {
        guard let first = path.first else { return value }
        let rest = Array(path.dropFirst())
        switch first {
        case .key(let key):
            var object = document.objectValue ?? JSONObject()
            object[key] = setting(value, at: rest, in: object[key] ?? .null)
            return .object(object)
        case .index(let index):
            var items: [JSONValue] = []
            if case .array(let existing) = document { items = existing }
            while items.count <= index { items.append(.null) }
            items[index] = setting(value, at: rest, in: items[index])
            return .array(items)
        }
    }

    /// The answers a session recorded, each distinct (status, body) once.
    static func recorded(_ session: Session, kind: String) -> [Answer] {
        var seen = Set<[UInt8]>()
        var answers: [Answer] = []
        for exchange in session.exchanges {
            guard let status = exchange.status else { continue }
            let answer = Answer(
                "\(kind) #\(exchange.sequence) \(exchange.method) \(exchange.requestID)", status, exchange.responseBody ?? "")
            if seen.insert(Array("\(status) ".utf8) + answer.body).inserted { answers.append(answer) }
        }
        return answers
    }

    // MARK: jq, as the script runs it

    /// A bash program that sets the script's variables for the conditions' references to the
    /// session's values (as the exported script holds them by then) and sources the prelude.
    static func scriptSetup(_ script: CurlScript, engine: WalkthroughEngine, conditions: [Condition], directory: URL) throws -> String {
        let prelude = directory.appendingPathComponent("prelude.sh")
        try Data(CurlScript.prelude.utf8).write(to: prelude)
        var lines = ["set -euo pipefail", "source \(ShellQuoting.singleQuoted(prelude.path))"]
        var names: [String] = []
        for condition in conditions {
            for name in condition.condition.references where !names.contains(name) { names.append(name) }
        }
        for name in names {
            let value = engine.value(of: name)
            switch script.bindings.binding(name) {
            case .environment(let variable):
                if let value { lines.append("export \(variable)=\(ShellQuoting.singleQuoted(value))") }
            case .variable(let variable):
                lines.append("\(variable)=\(ShellQuoting.singleQuoted(value ?? ""))")
                if script.bindings.secretNames.contains(name) { lines.append("export \(variable)") }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What jq decides for every pair, in one jq run: each answer's body read from a file as raw
    /// text (`--rawfile`, as `response_matches` reads the response file), its status as a JSON
    /// number (`--argjson`), each condition with the `--arg` options the script gives it.
    static func jqDecisions(_ script: CurlScript, engine: WalkthroughEngine, conditions: [Condition], answers: [Answer]) async throws
        -> [[Bool]]
    {
        let directory = try KiraBinary.temporaryDirectory("kira-conditions")
        var program = try scriptSetup(script, engine: engine, conditions: conditions, directory: directory)
        var options: [String] = []
        var tuples: [String] = []
        for (index, answer) in answers.enumerated() {
            let file = directory.appendingPathComponent("answer-\(index)")
            try Data(answer.body).write(to: file)
            options.append("--rawfile r\(index) \(ShellQuoting.singleQuoted(file.path)) --argjson s\(index) \(answer.status)")
            tuples.append("[$r\(index), $s\(index)]")
        }
        var references: [String] = []
        for condition in conditions { references += condition.condition.references }
        let arguments = script.bindings.jqArguments(references)
        let compiler = JQConditionCompiler(bindings: script.bindings)
        let expressions = conditions.map { "(" + compiler.expression($0.condition) + ")" }.joined(separator: ",\n")
        let jq =
            "[" + tuples.joined(separator: ", ")
            + "] | map(.[0] as $raw | .[1] as $status | ($raw | try fromjson catch null) as $json | [\n"
            + expressions + "\n])"
        program +=
            "jq -c -n \(options.joined(separator: " ")) \(arguments) \"$JQ_PRELUDE\"\(ShellQuoting.singleQuoted(jq)) > \(ShellQuoting.singleQuoted(directory.appendingPathComponent("out.json").path))\n"
        let file = directory.appendingPathComponent("decide.sh")
        try Data(program.utf8).write(to: file)
        let run = try await KiraBinary.run([file.path], executable: URL(fileURLWithPath: "/bin/bash"), timeout: 120)
        try #require(run.status == 0, "jq failed: \(run.stderr)")
        let output = try JSONValue.parse(try Data(contentsOf: directory.appendingPathComponent("out.json")))
        guard case .array(let rows) = output else { throw DecisionError(text: output.text()) }
        return try rows.map { row in
            guard case .array(let cells) = row else { throw DecisionError(text: row.text()) }
            return try cells.map { cell in
                guard case .bool(let flag) = cell else { throw DecisionError(text: cell.text()) }
                return flag
            }
        }
    }

    /// jq answered something other than a boolean.
    struct DecisionError: Error, CustomStringConvertible {
        var text: String
        var description: String { "not a decision: \(text)" }
    }

    /// What the script's own `response_matches` decides for some pairs: `true`, `false`, or the
    /// failure it reports.
    static func responseMatches(
        _ script: CurlScript, engine: WalkthroughEngine, pairs: [(Condition, Answer)], allConditions: [Condition]
    ) async throws -> [Bool] {
        let directory = try KiraBinary.temporaryDirectory("kira-response-matches")
        var program = try scriptSetup(script, engine: engine, conditions: allConditions, directory: directory)
        for (index, (condition, answer)) in pairs.enumerated() {
            let file = directory.appendingPathComponent("answer-\(index)")
            try Data(answer.body).write(to: file)
            program += "RESPONSE_FILE=\(ShellQuoting.singleQuoted(file.path)) STATUS=\(answer.status)\n"
            program += "if response_matches \(script.jqCondition(condition.condition)); then echo yes; else echo no; fi\n"
        }
        let file = directory.appendingPathComponent("matches.sh")
        try Data(program.utf8).write(to: file)
        let run = try await KiraBinary.run([file.path], executable: URL(fileURLWithPath: "/bin/bash"), timeout: 300)
        try #require(run.status == 0, "response_matches failed: \(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        try #require(lines.count == pairs.count, "\(run.stdout)\n\(run.stderr)")
        return lines.map { $0 == "yes" }
    }

    // MARK: Tests

    @Test func theScriptDecidesEveryConditionOfTheShippedFlowsAsTheEngineDoes() async throws {
        var compared = 0
        var agreedTrue = 0
        var agreedFalse = 0
        // Flows start with a `flow:` key; the API descriptions beside them do not.
        let flowsDirectory = KiraBinary.packageRoot.appendingPathComponent("flows")
        let flowFiles = try FileManager.default.contentsOfDirectory(atPath: flowsDirectory.path).filter { name in
            guard name.hasSuffix(".yaml"), let text = try? String(contentsOf: flowsDirectory.appendingPathComponent(name), encoding: .utf8)
            else { return false }
            return text.split(separator: "\n").contains { $0.hasPrefix("flow:") }
        }
        #expect(flowFiles.sorted() == ["quickstart.yaml", "versioning.yaml"], "a new flow needs a real session here too: \(flowFiles)")
        for kind in [WalkthroughSessions.Kind.standard, .payoutMinimumSearch, .versioning] {
            let made = try await WalkthroughSessions.shared.session(kind)
            let engine = WalkthroughEngine(flow: made.flow, session: made.session)
            let script = CurlScript(flow: made.flow, session: made.session, generatedAt: Date())
            let flowConditions = Self.conditions(of: made.flow)
            #expect(flowConditions.count >= 15, "\(flowConditions.count)")
            let conditions = flowConditions + Self.cornerConditions
            let recorded = Self.recorded(made.session, kind: "\(kind)")
            // The versioning flow is shorter: no deposit, no payout.
            #expect(recorded.count >= (kind == .versioning ? 10 : 15), "the session recorded its answers: \(recorded.count)")
            let answers =
                recorded + Self.cornerAnswers + conditions.map { Self.witness(for: $0.condition, label: $0.label, engine: engine) }
            let decisions = try await Self.jqDecisions(script, engine: engine, conditions: conditions, answers: answers)
            try #require(decisions.count == answers.count)
            for (row, answer) in answers.enumerated() {
                try #require(decisions[row].count == conditions.count)
                let summary = answer.summary
                for (column, condition) in conditions.enumerated() {
                    let expected = engine.matches(condition.condition, summary)
                    compared += 1
                    if decisions[row][column] == expected {
                        if expected { agreedTrue += 1 } else { agreedFalse += 1 }
                    } else {
                        Issue.record(
                            "\(condition.label) on \(answer.label) (\(answer.status) \(String(decoding: answer.body, as: UTF8.self).prefix(200))): engine \(expected), jq \(decisions[row][column]); jq: \(script.jqCondition(condition.condition))"
                        )
                    }
                }
            }
            // Both ways out of every condition of the flow are taken.
            for (column, condition) in flowConditions.enumerated() {
                let outcomes = Set(answers.map { engine.matches(condition.condition, $0.summary) })
                #expect(outcomes == [true, false], "\(condition.label) was only ever \(outcomes)")
                let recordedOutcomes = Set(recorded.indices.map { decisions[$0][column] })
                #expect(recordedOutcomes.contains(false), "\(condition.label) held for every recorded answer")
            }
            // The script's own response_matches, reading the response file, agrees too: each
            // condition on the answer made to match it, on an answer that is not UTF-8 and on a
            // long one.
            let witnesses = answers.suffix(conditions.count)
            let notUTF8 = try #require(Self.cornerAnswers.first { $0.label == "not UTF-8" })
            let long = try #require(Self.cornerAnswers.first { $0.label == "a long text body" })
            var pairs: [(Condition, Answer)] = []
            for (condition, witness) in zip(conditions, witnesses) {
                pairs += [(condition, witness), (condition, notUTF8), (condition, long)]
            }
            let matched = try await Self.responseMatches(script, engine: engine, pairs: pairs, allConditions: conditions)
            for ((condition, answer), decision) in zip(pairs, matched) {
                compared += 1
                let expected = engine.matches(condition.condition, answer.summary)
                #expect(decision == expected, "response_matches: \(condition.label) on \(answer.label): engine \(expected)")
                if decision == expected { if expected { agreedTrue += 1 } else { agreedFalse += 1 } }
            }
        }
        #expect(compared == agreedTrue + agreedFalse)
        #expect(agreedTrue > 100 && agreedFalse > 1000, "\(agreedTrue) true, \(agreedFalse) false")
        print("condition differential: \(compared) pairs compared, \(agreedTrue) both true, \(agreedFalse) both false")
    }

    @Test func numbersWrittenInAnotherFormAreTheOneKnownDifference() async throws {
        // jq 1.6 reads numbers as doubles; the engine compares a number's text. The script
        // therefore accepts 100.0 where the flow says 100; the engine does not. Documented in
        // JQConditionCompiler and docs/exports.md; this test notices if either side changes.
        let made = try await WalkthroughSessions.shared.session(.standard)
        let engine = WalkthroughEngine(flow: made.flow, session: made.session)
        let script = CurlScript(flow: made.flow, session: made.session, generatedAt: Date())
        let condition = Condition(label: "amount 100", condition: ResponseCondition(field: JSONPath("amount"), equals: [.number("100")]))
        let answer = Answer("amount 100.0", 200, #"{"amount":100.0}"#)
        #expect(engine.matches(condition.condition, answer.summary) == false)
        let decisions = try await Self.jqDecisions(script, engine: engine, conditions: [condition], answers: [answer])
        #expect(decisions == [[true]])
    }

    @Test func jqLowersTextExactlyAsSwiftDoes() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            // The table in the prelude, expanded, is Swift's lowercase mapping of every code point.
            let prelude = CurlScript.prelude
            let start = try #require(prelude.range(of: "def lower_ranges: ["))
            let end = try #require(prelude.range(of: "];", range: start.upperBound..<prelude.endIndex))
            let table = try JSONValue.parse("[" + prelude[start.upperBound..<end.lowerBound] + "]")
            var mapping: [UInt32: UInt32] = [:]
            for row in try #require(table.arrayValue) {
                let numbers = try #require(row.arrayValue).compactMap(\.intValue)
                try #require(numbers.count == 4)
                for code in stride(from: numbers[0], through: numbers[1], by: numbers[3]) {
                    mapping[UInt32(code)] = UInt32(code + numbers[2])
                }
            }
            var cased: [Unicode.Scalar] = []
            var differences: [String] = []
            for value in UInt32(0)...0x10FFFF {
                guard let scalar = Unicode.Scalar(value) else { continue }
                let swift = String(scalar).lowercased().unicodeScalars.map(\.value)
                let table = value == 0x130 ? [105, 775] : [mapping[value] ?? value]
                if swift != table { differences.append(String(value, radix: 16)) }
                if swift != [value] {
                    for neighbour in [value - 1, value, value + 1] { if let near = Unicode.Scalar(neighbour) { cased.append(near) } }
                }
            }
            #expect(differences.isEmpty, "code points the table lowers otherwise than Swift: \(differences.prefix(20))")
            #expect(cased.count > 3000, "\(cased.count)")

            // jq's lower, run, gives Swift's answer for every code point that has a lower case and its neighbours.
            var text = ""
            text.unicodeScalars.append(contentsOf: cased)
            let directory = try KiraBinary.temporaryDirectory("kira-lower")
            let input = directory.appendingPathComponent("text")
            try Data(text.utf8).write(to: input)
            let preludeFile = directory.appendingPathComponent("prelude.sh")
            try Data(prelude.utf8).write(to: preludeFile)
            let output = directory.appendingPathComponent("lowered")
            let run = try await KiraBinary.run(
                [
                    "-c", "source \"$1\"; jq -nj --rawfile text \"$2\" \"$JQ_PRELUDE\"' $text | lower' > \"$3\"", "lower", preludeFile.path,
                    input.path, output.path,
                ],
                executable: URL(fileURLWithPath: "/bin/bash"), timeout: 120)
            #expect(run.status == 0, "\(run.stderr)")
            let jq = Array(String(decoding: try Data(contentsOf: output), as: UTF8.self).unicodeScalars)
            let swift = Array(text.lowercased().unicodeScalars)
            #expect(jq.count == swift.count)
            let wrong = zip(jq, swift).filter { $0 != $1 }.prefix(10).map {
                "U+\(String($0.1.value, radix: 16)): jq U+\(String($0.0.value, radix: 16))"
            }
            #expect(wrong.isEmpty, "\(wrong)")

        }
    }
}
