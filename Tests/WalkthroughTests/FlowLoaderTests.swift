import Foundation
import KiraJSON
import Testing

@testable import WalkthroughCore

/// The flow format: the shipped quickstart loads; broken flows are reported with file, line and column.
@Suite struct FlowLoaderTests {
    @Test func theQuickstartHasTheSevenDocumentedSteps() throws {
        let flow = try quickstart()
        #expect(
            flow.steps.map(\.title) == [
                "Get your credentials", "Authenticate", "Pin your version", "Create a user", "Create a virtual account",
                "Simulate a deposit (sandbox)", "Make a payout (preview, then create)",
            ]
        )
        #expect(flow.apiVersion == "2026-04-14")
        #expect(flow.steps.allSatisfy { $0.explain.count > 80 }, "every step explains itself")
        let quirks = Set(flow.steps.flatMap(\.requestsIncludingRemedies).flatMap(\.quirks).map(\.id))
        for id in [
            "Q-SOF-REJECT", "Q-NO-AUTO-VERIFY", "Q-GATE-ON-STATUS", "Q-ONE-VA", "Q-VA-READY", "Q-DEPOSIT-INVISIBLE", "Q-SETTLEMENT-FALSE",
            "Q-PAYOUT-MIN", "Q-PAYOUT-STATUS-CASE", "Q-PIN-FIELD", "Q-SEED-IDS", "Q-NOT-TRIGGERED", "Q-DUPLICATE-EMAIL", "Q-VA-RFI",
            "Q-VA-DEACTIVATED",
        ] {
            #expect(quirks.contains(id), "\(id) is gated in the flow")
        }
        let auth = try #require(flow.steps[1].requests.first)
        #expect(auth.auth == .apiKey)
        #expect(auth.captures.first { $0.name == "access_token" }?.secret == true)
    }

    /// Which of the quickstart's POSTs may be resent after a transient failure: the keyed creates,
    /// and the calls that create nothing (auth, the pin, the payout preview); never the deposit.
    @Test func onlyPOSTsThatCannotDuplicateAnythingAreRepeatable() throws {
        let flow = try quickstart()
        let posts = Dictionary(
            flow.steps.flatMap(\.requests).filter { $0.method == "POST" }.map { ($0.id, $0.repeatable) }, uniquingKeysWith: { a, _ in a })
        #expect(posts["auth"] == true)
        #expect(posts["pin"] == true)
        #expect(posts["preview"] == true, "a preview creates nothing")
        #expect(posts["deposit"] == false, "a deposit has no idempotency key: resending it makes a second one")
        let keyed = flow.steps.flatMap(\.requests).filter { $0.method == "POST" && $0.idempotency }.map(\.id)
        #expect(keyed.allSatisfy { posts[$0] == true })
    }

    func problems(_ yaml: String) -> [FlowProblem] {
        do {
            _ = try FlowLoader.load(yaml, file: "broken.yaml", readFile: shippedFlowFile)
            return []
        } catch {
            return error.problems
        }
    }

    static let minimal = """
        flow: t
        title: T
        api_version: "2026-04-14"
        inputs:
          amount: { default: "1.00", format: amount }
        steps:
          - id: one
            title: One
            explain: First
            requests:
              - id: get
                method: GET
                path: /v1/users/{{ user_id }}
                expect: [200]
                capture:
                  user_id: id
        """

    /// `ask_on_emulator: false` leaves an input empty on the emulator, so it must be optional.
    @Test func anInputNotAskedOnTheEmulatorMustBeOptional() {
        let found = problems(
            Self.minimal.replacingOccurrences(
                of: "amount: { default: \"1.00\", format: amount }", with: "tenant_id: { prompt: Tenant, ask_on_emulator: false }"))
        #expect(problems(Self.minimal).isEmpty)
        #expect(found.contains { $0.message.contains("ask_on_emulator: false needs optional: true") }, "\(found)")
    }

    @Test func aMinimalFlowLoads() throws {
        let flow = try FlowLoader.load(Self.minimal, file: "ok.yaml")
        #expect(flow.steps.first?.requests.first?.path.references == ["user_id"])
    }

    @Test func anUnknownReferenceNamesItselfAndItsLine() {
        let found = problems(Self.minimal.replacingOccurrences(of: "path: /v1/users/{{ user_id }}", with: "path: /v1/users/{{ usr_id }}"))
        #expect(found.count == 1)
        let problem = try? #require(found.first)
        #expect(problem?.message.contains("usr_id") == true)
        #expect(problem?.message.contains("did you mean 'user_id'") == true)
        #expect(problem?.location.file == "broken.yaml")
        #expect(problem?.location.line == 13)
        #expect(problem?.location.column == 15)
    }

    /// Lines appended at the request's indentation (eight spaces).
    static func appended(_ lines: [String]) -> String {
        minimal + "\n" + lines.map { "        " + $0 }.joined(separator: "\n")
    }

    @Test func unknownReferencesInBodiesAndConditionsToo() {
        let yaml = Self.appended([
            "body: { a: \"{{ nope }}\" }",
            "quirks:",
            "  - id: Q-X",
            "    when: { field: status, equals: \"{{ also_nope }}\" }",
            "    explain: x",
            "    remedies:",
            "      - label: stop",
            "        stop: go",
        ])
        let found = problems(yaml)
        #expect(found.contains { $0.message.contains("'{{ nope }}'") && $0.location.line == 17 })
        #expect(found.contains { $0.message.contains("'{{ also_nope }}'") })
    }

    @Test func yamlSyntaxErrorsHaveAPosition() {
        let found = problems("flow: t\nsteps:\n  - id: [unclosed\n")
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("YAML") == true)
        #expect((found.first?.location.line ?? 0) >= 3)
    }

    @Test func everyProblemIsReportedAtOnce() {
        // The API's rules (an idempotency key on POST /v1/users) come from the shipped description.
        let yaml = """
            flow: t
            title: T
            api: kira-api.yaml
            api_version: "1"
            steps:
              - id: one
                title: One
                explain: x
                colour: blue
                requests:
                  - id: create
                    method: POST
                    path: /v1/users
                    expect: [201]
                  - id: wait
                    method: GET
                    path: /v1/users/1
                    expect: [999]
                    wait:
                      until: { field: status, equals: VERIFIED }
            """
        let messages = problems(yaml).map(\.message)
        #expect(messages.contains { $0.contains("Unknown key 'colour'") })
        #expect(messages.contains { $0.contains("idempotency: true") })
        #expect(messages.contains { $0.contains("HTTP statuses") })
        #expect(messages.contains { $0.contains("overall 'timeout'") })
    }

    @Test func remediesMustPointSomewhere() {
        let yaml = Self.appended([
            "quirks:",
            "  - id: Q-X",
            "    when: { status: 404 }",
            "    explain: x",
            "    remedies:",
            "      - label: again",
            "        restart: nowhere",
            "      - label: ask",
            "        prompt: { input: missing }",
            "      - label: search",
            "        search: { input: amount, span: \"100.00\", max_calls: 5 }",
        ])
        let messages = problems(yaml).map(\.message)
        #expect(messages.contains { $0.contains("restart names 'nowhere'") })
        #expect(messages.contains { $0.contains("unknown input 'missing'") })
        #expect(messages.contains { $0.contains("needs 15 calls") })
    }

    @Test func secretDefaultsAreRefused() {
        let yaml = Self.minimal.replacingOccurrences(
            of: "amount: { default: \"1.00\", format: amount }", with: "key: { secret: true, default: \"sk_live\" }")
        #expect(problems(yaml).contains { $0.message.contains("must not have a default") })
    }

    @Test func pathsAndTemplates() throws {
        let path = try #require(JSONPath("data.0.id"))
        let json: JSONValue = ["data": [["id": "x"]]]
        #expect(path.resolve(in: json) == "x")
        #expect(JSONPath("data.1.id")?.resolve(in: json) == nil)
        #expect(JSONPath("[0].id")?.resolve(in: [["id": 1]]) == 1)
        let template = try Template(parsing: "a {{ b }} c{{d}}")
        #expect(template.references == ["b", "d"])
        #expect(template.render { $0.uppercased() } == "a B cD")
        #expect(throws: Template.SyntaxError.self) { try Template(parsing: "{{ open") }
        #expect(throws: Template.SyntaxError.self) { try Template(parsing: "{{ not a name }}") }
    }
}
