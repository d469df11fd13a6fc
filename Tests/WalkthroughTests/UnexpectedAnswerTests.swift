import Foundation
import KiraJSON
import Testing

@testable import WalkthroughCore

/// Answers nobody documented stop the step for a person (the engine's `unexpected-answer` block),
/// and a later run sends nothing again until a remedy is chosen.
@Suite struct UnexpectedAnswerTests {
    /// The happy script, with `status` and `body` as the first answer to `requestID`.
    static func script(_ requestID: String, _ status: Int = 422, _ body: JSONValue = ["code": "compliance_hold", "message": "Held"])
        -> (RenderedRequest, Int) -> ResponseSummary
    {
        script(requestID, answer: response(status, body))
    }

    /// The happy script, with `answer` as the first answer to `requestID`.
    static func script(_ requestID: String, answer: ResponseSummary) -> (RenderedRequest, Int) -> ResponseSummary {
        let happy = happyAnswer()
        var answered = false
        return { request, count in
            if request.requestID == requestID, !answered {
                answered = true
                return answer
            }
            return happy(request, count)
        }
    }

    /// The idempotency keys `requestID` was sent with, in order.
    static func keys(_ harness: EngineHarness, of requestID: String) -> [String?] {
        harness.sent.filter { $0.requestID == requestID }.map(\.idempotencyKey)
    }

    /// Whether `action` is an unexpected-answer block (the happy path meets Q-NO-AUTO-VERIFY first).
    static func isUnexpected(_ action: EngineAction) -> Bool {
        if case .blocked(let blocked) = action { return blocked.answer != nil }
        return false
    }

    @Test func anUndocumented4xxBlocksWithTheWholeAnswerAndStopIsRecommended() throws {
        var harness = EngineHarness(flow: try quickstart(), answer: Self.script("create_va"))
        let action = harness.run(stopWhen: Self.isUnexpected)
        guard case .blocked(let blocked) = action else {
            Issue.record("expected a block, got \(action)")
            return
        }
        #expect(blocked.quirkID == WalkthroughEngine.unexpectedAnswerID)
        #expect(blocked.requestID == "create_va")
        let answer = try #require(blocked.answer)
        #expect(answer.status == 422 && answer.code == "compliance_hold" && answer.message == "Held" && answer.expected == [201])
        for part in ["HTTP 422", "code: compliance_hold", "message: Held", "\"code\": \"compliance_hold\""] {
            #expect(blocked.explanation.contains(part), "\(part) in \(blocked.explanation)")
        }
        #expect(blocked.remedies.map(\.label).count == 3)
        #expect(blocked.recommended == 2, "a run that meets the answer recommends stopping")
        #expect(harness.engine.session.steps[4].state == .blocked)
        #expect(harness.engine.session.events.last?.quirkID == WalkthroughEngine.unexpectedAnswerID)
        guard case .stopped(let advice) = harness.engine.choose(remedy: 2, now: harness.now) else {
            Issue.record("stop stops")
            return
        }
        #expect(advice.contains("HTTP 422"))
        #expect(harness.engine.violations.isEmpty)
    }

    /// A 5xx the client's retries did not get past stops for a person too, with the whole answer
    /// (a JSON error, or a gateway's HTML page); sending again keeps the key (the server may have
    /// done the work).
    @Test(arguments: [
        ("create_va", 4, response(500, ["message": "boom"]), "message: boom"),
        ("create_user", 3, ResponseSummary(status: 502, json: nil, text: "<html><title>502 Bad Gateway</title></html>"), "502 Bad Gateway"),
    ])
    func aServerErrorStopsForAPersonAndKeepsTheKey(requestID: String, step: Int, answer: ResponseSummary, shown: String) throws {
        var harness = EngineHarness(flow: try quickstart(), answer: Self.script(requestID, answer: answer))
        guard case .stopped(let advice) = harness.run() else {
            Issue.record("expected a stop for a person")
            return
        }
        #expect(advice.contains("HTTP \(answer.status)"))
        guard case .blocked(let blocked, _) = harness.engine.session.steps[step].phase else {
            Issue.record("expected the step blocked: \(harness.engine.session.steps[step].phase)")
            return
        }
        #expect(blocked.quirkID == WalkthroughEngine.unexpectedAnswerID && blocked.answer?.status == answer.status)
        #expect(blocked.explanation.contains(shown) && blocked.explanation.contains("the server's own failure"))
        #expect(blocked.remedies[0].label.contains("same idempotency key"), "\(blocked.remedies.map(\.label))")
        let firstKey = try #require(harness.sent.last?.idempotencyKey)
        #expect(harness.run(from: harness.engine.choose(remedy: 0, now: harness.now)) == .finished)
        #expect(Self.keys(harness, of: requestID) == [firstKey, firstKey])
    }

    /// After a refusal (4xx) the server created nothing, and the old key would replay the refusal:
    /// sending again at once takes a new key, which the session keeps.
    @Test func aRefusalIsSentAgainWithANewKey() throws {
        var harness = EngineHarness(flow: try quickstart(), answer: Self.script("create_va"))
        guard case .stopped = harness.run() else {
            Issue.record("expected a stop for a person")
            return
        }
        let options = harness.engine.session.steps[4].blocked?.remedies.map(\.label) ?? []
        #expect(options.first?.contains("with a new idempotency key") == true, "\(options)")
        #expect(harness.run(from: harness.engine.choose(remedy: 0, now: harness.now)) == .finished)
        let keys = Self.keys(harness, of: "create_va")
        #expect(keys.count == 2 && keys[0] != nil && keys[0] != keys[1], "\(keys)")
        #expect(harness.engine.session.idempotencyKeys["create_virtual_account/create_va"] == keys[1])
    }

    /// A new run finds the block: it sends nothing by itself, recommends sending again a request
    /// that is safe to repeat (the keyed create), with a new key, since the old one holds the
    /// refusal (keys replay refused answers too).
    @Test func aResumedBlockSendsNothingUntilChosenThenANewKey() throws {
        let flow = try quickstart()
        var first = EngineHarness(flow: flow, answer: Self.script("create_va"))
        guard case .stopped = first.run() else {
            Issue.record("the first run stops")
            return
        }
        let firstKey = try #require(first.sent.last?.idempotencyKey)
        var second = EngineHarness(flow: flow, answer: happyAnswer())
        second.engine = WalkthroughEngine(
            flow: flow, session: first.engine.session, sources: first.engine.sources, makeID: { UUID().uuidString })
        let resumed = second.engine.start(now: second.now)
        guard case .blocked(let blocked) = resumed else {
            Issue.record("expected the block again, got \(resumed)")
            return
        }
        #expect(blocked.quirkID == WalkthroughEngine.unexpectedAnswerID)
        #expect(blocked.recommended == 0, "a new run recommends sending the keyed request again")
        #expect(second.sent.isEmpty)
        #expect(second.run(from: resumed) == .finished)
        let creates = second.sent.filter { $0.requestID == "create_va" }
        #expect(creates.count == 1)
        let newKey = try #require(creates.first?.idempotencyKey)
        #expect(newKey != firstKey)
        #expect(second.engine.session.idempotencyKeys["create_virtual_account/create_va"] == newKey)
        #expect(second.engine.violations.isEmpty)
    }

    /// A request that could duplicate (the deposit has no key) is not sent again by a new run's
    /// recommendation: only a person's choice sends it.
    @Test func aRequestThatCouldDuplicateWaitsForAPerson() throws {
        let flow = try quickstart()
        var first = EngineHarness(flow: flow, answer: Self.script("deposit"))
        guard case .stopped = first.run() else {
            Issue.record("the first run stops")
            return
        }
        var second = EngineHarness(flow: flow, answer: happyAnswer())
        second.engine = WalkthroughEngine(flow: flow, session: first.engine.session, sources: first.engine.sources)
        guard case .blocked(let blocked) = second.engine.start(now: second.now) else {
            Issue.record("expected the block again")
            return
        }
        #expect(blocked.recommended == 2)
        #expect(second.sent.isEmpty)
        second.remedyFor[WalkthroughEngine.unexpectedAnswerID] = 0
        #expect(second.run(from: second.engine.choose(remedy: 0, now: second.now)) == .finished)
        #expect(second.sent.filter { $0.requestID == "deposit" }.count == 1)
    }

    /// Editing the body goes back to the ready request with a new idempotency key (the old one
    /// may hold the refused answer); the edited body is what goes.
    @Test func editingTheBodySendsItWithANewKey() throws {
        var harness = EngineHarness(flow: try quickstart(), answer: Self.script("create_va"))
        guard case .blocked = harness.run(stopWhen: Self.isUnexpected) else {
            Issue.record("expected a block")
            return
        }
        let oldKey = try #require(harness.sent.last?.idempotencyKey)
        guard case .confirm(let ready) = harness.engine.choose(remedy: 1, now: harness.now) else {
            Issue.record("editing goes back to the ready request")
            return
        }
        #expect(ready.idempotencyKey != nil && ready.idempotencyKey != oldKey)
        #expect(harness.engine.session.steps[4].state == .ready)
        var body = try #require(ready.body?.objectValue)
        body["bank"] = "another_bank"
        guard case .confirm = harness.engine.replaceBody(.object(body), now: harness.now) else {
            Issue.record("the edited body is ready")
            return
        }
        guard case .send(let sent) = harness.engine.confirm(now: harness.now) else {
            Issue.record("confirm sends")
            return
        }
        #expect(sent.body?["bank"] == "another_bank")
        #expect(sent.idempotencyKey == ready.idempotencyKey)
        #expect(harness.engine.session.idempotencyKeys["create_virtual_account/create_va"] == ready.idempotencyKey)
        #expect(harness.engine.violations.isEmpty)
    }

    /// Sending again is offered at most `remedyLimit` times; stopping always.
    @Test func sendingAgainIsBounded() throws {
        let happy = happyAnswer()
        var harness = EngineHarness(flow: try quickstart()) { request, count in
            request.requestID == "create_va" ? response(422, ["code": "compliance_hold"]) : happy(request, count)
        }
        var action = harness.run(stopWhen: Self.isUnexpected)
        for _ in 0..<WalkthroughEngine.remedyLimit {
            action = harness.engine.choose(remedy: 0, now: harness.now)
            guard case .send(let request) = action else {
                Issue.record("expected a send, got \(action)")
                return
            }
            action = harness.engine.received(harness.answer(request, 0), now: harness.now)
        }
        guard case .blocked(let blocked) = action else {
            Issue.record("expected the block")
            return
        }
        #expect(blocked.remedies[0].available == false)
        #expect(blocked.remedies[2].available)
        #expect(blocked.recommended == 2)
    }
}
