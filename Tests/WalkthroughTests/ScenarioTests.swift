import Foundation
import KiraJSON
import Testing

@testable import WalkthroughCore

/// Tours (`NAME.tour.yaml`) and a request's own `headers:`: loading, checking, and what the engine
/// does with them.
@Suite struct ScenarioTests {
    static func shippedTour() throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent("flows/quickstart.tour.yaml"), encoding: .utf8)
    }

    @Test func theShippedTourLoadsAgainstTheQuickstart() throws {
        let flow = try quickstart()
        let tour = try Scenario.load(try Self.shippedTour(), file: "flows/quickstart.tour.yaml", flow: flow)
        #expect(tour.flowID == "quickstart")
        #expect(tour.inputs == ["payout_amount": "1.00"])
        let user = try #require(tour.moment(stepID: "create_user", requestID: "create_user"))
        #expect(user.body?.remove == ["source_of_funds"])
        let account = try #require(tour.moment(stepID: "create_virtual_account", requestID: "create_va"))
        guard case .request(let request)? = account.setup.first else {
            Issue.record("the account moment sends a request first: \(account.setup)")
            return
        }
        #expect(request.method == "POST" && request.idempotency)
        let deposit = try #require(tour.moment(stepID: "simulate_deposit", requestID: "deposit"))
        guard case .clock(let seconds)? = deposit.setup.first else {
            Issue.record("the deposit moment moves the clock: \(deposit.setup)")
            return
        }
        #expect(seconds > 3600, "past the token's hour")
        #expect(Scenario.file(besideFlow: "flows/quickstart.yaml") == "flows/quickstart.tour.yaml")
    }

    @Test func aBrokenTourIsReportedWhereItIsWrong() throws {
        let flow = try quickstart()
        let text = """
            tour: quickstart
            title: broken
            explain: x
            colour: red
            inputs:
              api_key: nope
              payout_amount: "1.001"
              nothing_here: "1"
            moments:
              - at: create_user/create_usr
              - at: create_user/create_user
                body:
                  remove: [source_of_fund]
              - at: create_virtual_account/find_existing_va
                body:
                  set: { a: 1 }
              - at: payout/preview
                say: "{{ paout_amount }}"
                setup:
                  - clock: 0s
                  - clock: 1s
                    fault: { path: /x, kind: drop }
                  - fault: { kind: drop }
            """
        let error = #expect(throws: FlowLoadError.self) { try Scenario.load(text, file: "t.tour.yaml", flow: flow) }
        let messages = error?.problems.map(\.description) ?? []
        let expected = [
            "t.tour.yaml:4:1: Unknown key 'colour' in a tour",
            "t.tour.yaml:6:3: A tour cannot give the secret input 'api_key'",
            "t.tour.yaml:7:18: payout_amount must be an amount such as 100.00",
            "t.tour.yaml:8:3: The flow has no input 'nothing_here'",
            "t.tour.yaml:10:9: Step 'create_user' has no request 'create_usr'",
            "t.tour.yaml:13:16: The body of 'create_user' has no key 'source_of_fund' to remove",
            "t.tour.yaml:16:7: A body change applies to a step's own request",
            "t.tour.yaml:18:10: Unknown reference '{{ paout_amount }}'",
            "t.tour.yaml:20:16: clock moves the emulator's clock forward",
            "t.tour.yaml:21:9: A setup has exactly one of",
            "t.tour.yaml:23:16: fault is the emulator's fault control",
        ]
        for line in expected {
            #expect(messages.contains { $0.hasPrefix(line) }, "\(line)\n\(messages.joined(separator: "\n"))")
        }
        #expect(messages.count == expected.count, "\(messages.joined(separator: "\n"))")
        let other = #expect(throws: FlowLoadError.self) {
            try Scenario.load("tour: other\ntitle: t\nexplain: x\n", file: "o.tour.yaml", flow: flow)
        }
        #expect(other?.problems.first?.message == "This tour is for the flow 'other', not 'quickstart'")
    }

    /// The body change happens the first time the request is rendered, never again: the restart
    /// after the rejection sends the flow's own body.
    @Test func theBodyChangeAppliesOnceAndIsSaid() throws {
        let flow = try quickstart()
        let tour = try Scenario.load(try Self.shippedTour(), file: "flows/quickstart.tour.yaml", flow: flow)
        let moment = try #require(tour.moment(stepID: "create_user", requestID: "create_user"))
        var harness = EngineHarness(flow: flow, answer: happyAnswer())
        var action = harness.run(stopWhen: {
            if case .confirm(let request) = $0 { return request.requestID == "create_user" }
            return false
        })
        guard case .confirm(let original) = action else {
            Issue.record("stopped at \(action)")
            return
        }
        #expect(original.body?["source_of_funds"] == "salary")
        action = harness.engine.changeReadyBody(for: moment, now: harness.now)
        guard case .confirm(let changed) = action else {
            Issue.record("the request stays to be confirmed: \(action)")
            return
        }
        #expect(changed.body?["source_of_funds"] == nil)
        let email = try #require(changed.body?["email"]?.stringValue)
        #expect(email.hasPrefix("first-try+") && !email.contains("{{"), "\(email)")
        #expect(harness.engine.scenarioDone(moment.bodyMark))
        #expect(harness.engine.session.events.last?.text.hasPrefix("Tour: this first user goes without source_of_funds") == true)
        // Saved with the session, and never again.
        if case .ready(let active) = harness.engine.session.steps[3].phase { #expect(active.request == changed) }
        let again = harness.engine.changeReadyBody(for: moment, now: harness.now)
        guard case .confirm(let same) = again else {
            Issue.record("\(again)")
            return
        }
        #expect(same == changed)
        #expect(harness.engine.session.scenarioMarks == [moment.bodyMark])
    }

    @Test func aRequestsOwnHeadersAreRenderedAndApplied() throws {
        let flow = try quickstart(
            replacing: """
                        path: /v1/virtual-accounts/{{ va_id }}/deposits
                """,
            with: """
                        path: /v1/virtual-accounts/{{ va_id }}/deposits
                        headers:
                          X-Api-Version: "{{ api_version }}"
                          x-trace: null
                """)
        let request = try #require(flow.steps[5].requests.first { $0.id == "deposits_list" })
        #expect(request.headers.map(\.name) == ["x-api-version", "x-trace"])
        #expect(request.headers[1].value == nil)
        let rendered = [
            RenderedHeader(name: "x-api-version", value: "2026-04-14"), RenderedHeader(name: "x-trace", value: nil),
        ]
        let applied = RenderedHeader.apply(
            rendered, to: [("accept", "application/json"), ("X-Trace", "1"), ("x-api-version", "old")])
        #expect(applied.map { "\($0.0)=\($0.1)" } == ["accept=application/json", "x-api-version=2026-04-14"])
        #expect(RenderedHeader.apply(nil, to: [("a", "b")]).map(\.0) == ["a"])
    }

    @Test func headersTheWalkthroughOwnsOrSecretsAreRefused() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("flows/quickstart.yaml"), encoding: .utf8)
        let old = "        path: /v1/virtual-accounts/{{ va_id }}/deposits\n"
        let broken = text.replacingOccurrences(
            of: old,
            with: old + "        headers:\n          Authorization: x\n          x-pass: \"{{ password }}\"\n          bad name: y\n")
        let error = #expect(throws: FlowLoadError.self) {
            try FlowLoader.load(broken, file: "flows/quickstart.yaml", readFile: shippedFlowFile)
        }
        let messages = error?.problems.map(\.message) ?? []
        #expect(messages.contains("Header 'Authorization' is the walkthrough's own: auth: bearer sends it"), "\(messages)")
        #expect(
            messages.contains("The header x-pass of 'deposits_list' may not use the secret {{ password }}: headers are recorded"),
            "\(messages)")
        #expect(messages.contains("A header name uses letters, digits and '-' ('x-api-version')"), "\(messages)")
    }

    /// With the API description naming it, a token the client renewed is a note of the quirk.
    @Test func aRenewedTokenIsNotedAsTheDescriptionsQuirk() throws {
        let flow = try quickstart()
        #expect(flow.api.ruleQuirks.tokenRenewal == "Q-TOKEN-TTL")
        var harness = EngineHarness(flow: flow, answer: happyAnswer())
        _ = harness.run(until: { $0.session.cursor >= 2 })
        harness.engine.noteTokenRenewal("GET /x answered 401", now: harness.now)
        let event = try #require(harness.engine.session.events.last)
        #expect(event.kind == .note && event.quirkID == "Q-TOKEN-TTL")
        #expect(event.text.hasPrefix("The access token was renewed: GET /x answered 401."), "\(event.text)")
        // A flow whose description names no quirk for it records nothing.
        var plain = flow
        plain.api.ruleQuirks.tokenRenewal = nil
        var bare = WalkthroughEngine(flow: plain, session: harness.engine.session)
        let count = bare.session.events.count
        bare.noteTokenRenewal("GET /x answered 401", now: harness.now)
        #expect(bare.session.events.count == count)
    }
}
