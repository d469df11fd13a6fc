import Foundation
import KiraJSON
import Testing

@testable import WalkthroughCore

/// The walkthrough state machine, driven by events without any IO.
@Suite struct EngineTests {
    /// One event for one action.
    func step(_ harness: inout EngineHarness, _ action: EngineAction) -> EngineAction {
        switch action {
        case .needInput(let request):
            return harness.engine.provide(input: request.name, value: request.defaultValue ?? "", now: harness.now)
        case .confirm: return harness.engine.confirm(now: harness.now)
        case .send(let request):
            harness.sent.append(request)
            return harness.engine.received(harness.answer(request, harness.sent.count), now: harness.now)
        case .poll(let seconds, _):
            harness.now = harness.now.addingTimeInterval(seconds)
            return harness.engine.pollDue(now: harness.now)
        case .blocked(let blocked):
            return harness.engine.choose(remedy: harness.remedyFor[blocked.quirkID] ?? blocked.recommended ?? 0, now: harness.now)
        case .performOperator: return harness.engine.operatorFinished(error: nil, now: harness.now)
        case .awaitWebhook: return harness.engine.webhookArrived(nil, listening: false, now: harness.now)
        default: return action
        }
    }

    @Test func theHappyPathCompletesAllSevenSteps() throws {
        var harness = EngineHarness(flow: try quickstart(), answer: happyAnswer())
        var action = harness.engine.start(now: harness.now)
        var previous = harness.engine.session.steps.map(\.state)
        while true {
            if case .finished = action { break }
            if case .failed(_, let message) = action { Issue.record("failed: \(message)"); break }
            action = step(&harness, action)
            let current = harness.engine.session.steps.map(\.state)
            for (before, after) in zip(previous, current) where before != after {
                #expect(StepMachine.allows(before, after) || (before == .pending && after.isFinal), "\(before) → \(after)")
            }
            previous = current
        }
        #expect(harness.engine.violations.isEmpty, "\(harness.engine.violations)")
        let session = harness.engine.session
        #expect(session.steps.allSatisfy { $0.state == .succeeded })
        #expect(session.isComplete)
        #expect(session.captures["user_id"] == "user-1")
        #expect(session.captures["va_id"] == "va-1")
        #expect(session.captures["payout_id"] == "pay-1")
        #expect(session.pinnedVersion == "2026-04-14")
        let ids = harness.sent.map(\.requestID)
        #expect(ids.first == "auth")
        #expect(ids.filter { $0 == "create_user" }.count == 1)
        #expect(ids.suffix(5) == ["deposits_list", "create_recipient", "preview", "create_payout", "read_payout"])
        let quirks = session.events.compactMap(\.quirkID)
        for id in [
            "Q-NO-AUTO-VERIFY", "Q-GATE-ON-STATUS", "Q-VA-READY", "Q-SETTLEMENT-FALSE", "Q-DEPOSIT-INVISIBLE", "Q-PAYOUT-STATUS-CASE",
        ] {
            #expect(quirks.contains(id), "\(id) was met and explained")
        }
        #expect(session.events.contains { $0.kind == .operator })
        let statusCase = try #require(session.events.first { $0.quirkID == "Q-PAYOUT-STATUS-CASE" })
        #expect(statusCase.text.contains("\"created\"") && statusCase.text.contains("\"CREATED\""), "both spellings shown")
    }

    @Test func theKeyAndTheSendingStateAreInTheSessionBeforeTheRequestLeaves() throws {
        var harness = EngineHarness(flow: try quickstart(), answer: happyAnswer())
        let action = harness.run(stopWhen: {
            if case .send(let request) = $0 { return request.requestID == "create_user" } else { return false }
        })
        guard case .send(let request) = action else {
            Issue.record("expected to stop at create_user")
            return
        }
        let key = try #require(request.idempotencyKey)
        let saved = try JSONDecoder().decode(Session.self, from: JSONEncoder().encode(harness.engine.session))
        #expect(saved.steps[3].state == .sending)
        #expect(saved.idempotencyKeys["create_user/create_user"] == key)
        #expect(saved.steps[3].active?.request == request)
    }

    @Test func aResumedSendingStepResendsTheSameRequest() throws {
        let flow = try quickstart()
        var harness = EngineHarness(flow: flow, answer: happyAnswer())
        guard
            case .send(let first) = harness.run(stopWhen: {
                if case .send(let r) = $0 { return r.requestID == "create_va" } else { return false }
            })
        else {
            Issue.record("expected to stop at create_va")
            return
        }
        // The process dies here; a new one reads the file.
        let saved = try JSONDecoder().decode(Session.self, from: JSONEncoder().encode(harness.engine.session))
        var resumed = WalkthroughEngine(
            flow: flow, session: saved,
            sources: InputSources(demoCredentials: [.apiKey: "k", .clientID: "5f3c9d2e-8a41-4b7e-9c06-1d2e3f4a5b6c", .password: "p"]))
        let action = resumed.start(now: Date())
        #expect(action == .send(first), "same key, same body")
    }

    @Test func aResumedRequestWithoutKeyAsksFirst() throws {
        let flow = try quickstart()
        var harness = EngineHarness(flow: flow, answer: happyAnswer())
        guard case .send = harness.run(stopWhen: { if case .send(let r) = $0 { return r.requestID == "deposit" } else { return false } })
        else {
            Issue.record("expected to stop at deposit")
            return
        }
        var resumed = WalkthroughEngine(
            flow: flow, session: harness.engine.session,
            sources: InputSources(demoCredentials: [.apiKey: "k", .clientID: "5f3c9d2e-8a41-4b7e-9c06-1d2e3f4a5b6c", .password: "p"]))
        guard case .askResend(let request) = resumed.start(now: Date()) else {
            Issue.record("a deposit without idempotency key must not be resent silently")
            return
        }
        #expect(request.requestID == "deposit")
        guard case .failed = resumed.resend(false, now: Date()) else {
            Issue.record("declining leaves the step failed, to retry or skip")
            return
        }
        #expect(resumed.session.steps[5].state == .failed)
    }

    @Test func secretsNeverReachTheSession() throws {
        var harness = EngineHarness(flow: try quickstart(), answer: happyAnswer())
        #expect(harness.run() == .finished)
        let bytes = String(decoding: try JSONEncoder().encode(harness.engine.session), as: UTF8.self)
        #expect(!bytes.contains("demo-password"))
        #expect(!bytes.contains("demo-api-key-123"))
        #expect(!bytes.contains("tok-secret-value-xyz"))
        #expect(harness.engine.bearerToken?.token == "tok-secret-value-xyz", "the token is kept in memory")
        #expect(harness.sent.first?.body?["password"] == "{{ password }}", "rendered requests keep secret references")
    }

    @Test func offTheEmulatorTheOperatorIsNotOfferedAndWaitingIsRecommended() throws {
        var harness = EngineHarness(flow: try quickstart(), emulator: false, answer: happyAnswer(verifiedAfterOperator: false))
        guard case .blocked(let blocked) = harness.run(stopWhen: { if case .blocked = $0 { return true } else { return false } }) else {
            Issue.record("expected Q-NO-AUTO-VERIFY")
            return
        }
        #expect(blocked.quirkID == "Q-NO-AUTO-VERIFY")
        #expect(blocked.remedies[0].available == false)
        #expect(blocked.remedies[0].unavailableReason?.contains("emulator") == true)
        #expect(blocked.recommended == 1)
        harness.engine.waitTimeoutOverride = 30
        // Keep waiting: the sandbox never verifies; the wait times out and stopping is recommended.
        let end = harness.run(from: harness.engine.choose(remedy: 1, now: harness.now))
        guard case .stopped(let advice) = end else {
            Issue.record("expected a stop, got \(end)")
            return
        }
        #expect(advice.contains("resume"))
        #expect(harness.engine.session.steps[3].state == .blocked)
        #expect(harness.sent.filter { $0.requestID == "user_verified" }.count > 3, "it kept polling")
    }

    @Test func aSecondVirtualAccountIsFoundAndReused() throws {
        let happy = happyAnswer()
        var harness = EngineHarness(flow: try quickstart()) { request, count in
            switch request.requestID {
            case "create_va": return response(409, ["code": "resource_conflict", "message": "User already has an ACT virtual account"])
            case "find_existing_va":
                #expect(request.path == "/v1/virtual-accounts?user_id=user-1&limit=10")
                return response(200, ["data": [["id": "va-existing", "provider": nil]], "pagination": ["total": 1]])
            default: return happy(request, count)
            }
        }
        #expect(harness.run() == .finished)
        #expect(harness.engine.session.captures["va_id"] == "va-existing")
        #expect(harness.sent.contains { $0.requestID == "va_ready" && $0.path == "/v1/virtual-accounts/va-existing" })
        #expect(harness.engine.session.events.contains { $0.quirkID == "Q-ONE-VA" && $0.kind == .quirk })
    }

    @Test func thePayoutMinimumIsFoundByBisectionToTheCent() throws {
        let happy = happyAnswer()
        var probes: [Int] = []
        var harness = EngineHarness(flow: try quickstart(), environment: ["KIRA_PAYOUT_AMOUNT": "1.00"]) { request, count in
            guard request.requestID == "preview" || request.requestID == "create_payout" else { return happy(request, count) }
            let cents = Amount.cents(request.body?["amount"]?.stringValue ?? "") ?? 0
            if request.requestID == "create_payout" { return response(201, ["payout_id": "pay-1", "status": "created"]) }
            probes.append(cents)
            // SWIFT: 2.50 + 0.5 % + 0.25 must stay below the amount.
            let fees = 250 + (cents * 50 + 5000) / 10000 + 25
            return fees < cents
                ? response(200, ["fees": ["total_fees": .string(Amount.format(fees))], "recipient_amount": "x"])
                : response(400, ["code": "bad_request", "message": "Total fees exceed or equal the payout amount"])
        }
        #expect(harness.run() == .finished)
        // The first preview, then the search's probes, then the preview again at the minimum.
        let searchCalls = probes.count - 2
        #expect(searchCalls <= 12)
        #expect(harness.engine.session.inputs["payout_amount"] == "2.77")
        #expect(harness.sent.last { $0.requestID == "create_payout" }?.body?["amount"] == "2.77")
        #expect(
            harness.engine.session.events.contains { $0.kind == .search && $0.text.contains("2.77") && $0.text.contains("to the cent") })
    }

    @Test func aRejectedUserIsReplacedByANewCompleteOne() throws {
        let happy = happyAnswer()
        var creations = 0
        var keys: [String] = []
        var harness = EngineHarness(flow: try quickstart()) { request, count in
            switch request.requestID {
            case "create_user":
                creations += 1
                keys.append(request.idempotencyKey ?? "")
                return response(201, ["id": .string("user-\(creations)"), "status": "CREATED"])
            case "user_verified" where request.path.hasSuffix("user-1"):
                return response(200, ["id": "user-1", "status": "REJECTED", "verification_status": "unverified"])
            case "user_verified":
                return response(200, ["id": "user-2", "status": "VERIFIED"])
            default: return happy(request, count)
            }
        }
        #expect(harness.run() == .finished)
        #expect(creations == 2)
        #expect(Set(keys).count == 2, "the new user gets a new idempotency key")
        #expect(harness.engine.session.captures["user_id"] == "user-2")
        #expect(harness.engine.session.events.contains { $0.quirkID == "Q-SOF-REJECT" })
    }

    /// The id typed at the Q-NO-AUTO-VERIFY prompt remedy, the step's own question (asked on a
    /// real target before anything is created) left empty (KIRA_USER_ID in the environment, or
    /// an id typed there, skips the creation altogether: see aRealTargetAsksForProvisionedIds…).
    static func answeringTheUserPrompt(_ harness: inout EngineHarness, with id: String) -> EngineAction {
        let isUserPrompt: (EngineAction) -> Bool = { if case .needInput(let request) = $0 { request.name == "provisioned_user_id" } else { false } }
        var asked = harness.run(stopWhen: isUserPrompt)
        if isUserPrompt(asked), !harness.sent.contains(where: { $0.requestID == "create_user" }) {
            asked = harness.run(from: harness.engine.provide(input: "provisioned_user_id", value: "", now: harness.now), stopWhen: isUserPrompt)
        }
        guard isUserPrompt(asked) else { return asked }
        return harness.run(from: harness.engine.provide(input: "provisioned_user_id", value: id, now: harness.now))
    }

    /// Runs to the end, answering every question with `value`; what it ended on, and the names
    /// of the inputs it asked for, in order.
    static func runAnsweringInputs(_ harness: inout EngineHarness, _ value: (InputRequest) -> String) -> (EngineAction, [String]) {
        var asked: [String] = []
        var action = harness.engine.start(now: harness.now)
        for _ in 0..<400 {
            action = harness.run(from: action, stopWhen: { if case .needInput = $0 { true } else { false } })
            guard case .needInput(let request) = action else { break }
            asked.append(request.name)
            action = harness.engine.provide(input: request.name, value: value(request), now: harness.now)
        }
        return (action, asked)
    }

    /// On a real target, steps 4, 5 and 7 ask for the ids a Kira contact may have provisioned
    /// (optional: empty creates one); a typed id is checked with a GET and used as it is.
    @Test func aRealTargetAsksForProvisionedIdsAndUsesATypedOne() throws {
        let userID = "11111111-2222-4333-8444-555555555555"
        let happy = happyAnswer()
        var harness = EngineHarness(flow: try quickstart(), emulator: false) { request, count in
            if request.requestID == "check_user" { return response(200, ["id": .string(userID), "status": "VERIFIED"]) }
            return happy(request, count)
        }
        let (action, asked) = Self.runAnsweringInputs(&harness) { $0.name == "provisioned_user_id" ? userID : ($0.defaultValue ?? "") }
        #expect(action == .finished, "\(action)")
        #expect(asked.filter { ["provisioned_user_id", "provisioned_va_id", "recipient_id"].contains($0) } == [
            "provisioned_user_id", "provisioned_va_id", "recipient_id",
        ], "\(asked)")
        let sent = harness.sent.map(\.requestID)
        #expect(sent.contains("check_user") && !sent.contains("create_user"), "\(sent)")
        #expect(harness.sent.first { $0.requestID == "check_user" }?.path.hasSuffix(userID) == true)
        #expect(harness.engine.session.captures["user_id"] == .string(userID))
    }

    /// On the emulator nobody provisioned anything: the walkthrough never asks for those ids.
    @Test func theEmulatorNeverAsksForIdsOnlyARealTenantHas() throws {
        var harness = EngineHarness(flow: try quickstart(), emulator: true, answer: happyAnswer())
        let (action, asked) = Self.runAnsweringInputs(&harness) { $0.defaultValue ?? "" }
        #expect(action == .finished, "\(action)")
        #expect(!asked.contains { ["provisioned_user_id", "provisioned_va_id", "recipient_id"].contains($0) }, "\(asked)")
        #expect(harness.sent.contains { $0.requestID == "create_user" })
    }

    @Test func aProvisionedUserCanReplaceTheWait() throws {
        let happy = happyAnswer(verifiedAfterOperator: false)
        var harness = EngineHarness(flow: try quickstart(), emulator: false) { request, count in
            if request.requestID == "check_provisioned_user" {
                return response(200, ["id": "11111111-2222-4333-8444-555555555555", "status": "VERIFIED"])
            }
            if request.requestID == "user_verified", request.path.hasSuffix("555555555555") { return response(200, ["status": "VERIFIED"]) }
            return happy(request, count)
        }
        harness.remedyFor["Q-NO-AUTO-VERIFY"] = 2
        #expect(Self.answeringTheUserPrompt(&harness, with: "11111111-2222-4333-8444-555555555555") == .finished)
        #expect(harness.engine.session.captures["user_id"] == "11111111-2222-4333-8444-555555555555")
    }

    @Test func anUnknownProvisionedIdIsExplainedAsSeedIds() throws {
        let happy = happyAnswer(verifiedAfterOperator: false)
        var harness = EngineHarness(flow: try quickstart(), emulator: false) { request, count in
            if request.requestID == "check_provisioned_user" { return response(404, ["code": "not_found", "message": "User not found"]) }
            return happy(request, count)
        }
        harness.remedyFor["Q-NO-AUTO-VERIFY"] = 2
        guard case .stopped(let advice) = Self.answeringTheUserPrompt(&harness, with: "11111111-2222-4333-8444-555555555555") else {
            Issue.record("expected a stop")
            return
        }
        #expect(advice.contains("KIRA_USER_ID"))
        #expect(harness.engine.session.events.contains { $0.quirkID == "Q-SEED-IDS" && $0.text.contains("tenant-scoped") })
    }

    /// A failure that is not an answer (the connection failed after the client's retries) fails
    /// the step, and a retry sends the same request with the same key.
    @Test func aTransportFailureFailsTheStepAndARetryKeepsTheKey() throws {
        var keys: [String] = []
        let happy = happyAnswer()
        var harness = EngineHarness(flow: try quickstart()) { request, count in
            if request.requestID == "create_user" { keys.append(request.idempotencyKey ?? "") }
            return happy(request, count)
        }
        let sending = harness.run(stopWhen: { if case .send(let request) = $0 { return request.requestID == "create_user" } else { return false } })
        guard case .send(let request) = sending else {
            Issue.record("expected create_user to be sent, got \(sending)")
            return
        }
        keys.append(request.idempotencyKey ?? "")
        guard case .failed(let stepID, let message) = harness.engine.transportFailed("Connection refused", now: harness.now) else {
            Issue.record("expected a failure")
            return
        }
        #expect(stepID == "create_user" && message.contains("Connection refused"))
        #expect(harness.run(from: harness.engine.retry(now: harness.now)) == .finished)
        #expect(keys.count == 2 && keys[0] == keys[1], "\(keys)")
    }

    @Test func skippingGoesOnWithTheNextStep() throws {
        var harness = EngineHarness(flow: try quickstart(), answer: happyAnswer())
        _ = harness.run(stopWhen: { if case .send(let request) = $0 { return request.requestID == "pin" } else { return false } })
        guard case .failed = harness.engine.transportFailed("Connection refused", now: harness.now) else {
            Issue.record("expected the pin to fail")
            return
        }
        let next = harness.engine.skip(now: harness.now)
        #expect(harness.engine.session.steps[2].state == .skipped)
        guard case .confirm(let request) = next else {
            Issue.record("expected the next step's request")
            return
        }
        #expect(request.requestID == "create_user")
    }

    @Test func invalidInputIsExplainedAndAskedAgain() throws {
        var harness = EngineHarness(flow: try quickstart(), answer: happyAnswer())
        guard
            case .needInput(let request) = harness.run(stopWhen: {
                if case .needInput(let r) = $0 { return r.name == "deposit_amount" } else { return false }
            })
        else {
            Issue.record("expected the deposit amount")
            return
        }
        #expect(request.defaultValue == "100.00")
        guard case .needInput(let again) = harness.engine.provide(input: "deposit_amount", value: "12.345", now: harness.now) else {
            Issue.record("an invalid amount must be asked again")
            return
        }
        #expect(again.error?.contains("two decimals") == true)
        guard case .confirm(let deposit) = harness.engine.provide(input: "deposit_amount", value: "7.50", now: harness.now) else {
            Issue.record("a valid amount renders the request")
            return
        }
        #expect(deposit.body?["amount"] == "7.50")
    }

    @Test func conditionsCompareCaseInsensitivelyByDefault() throws {
        let engine = EngineHarness(flow: try quickstart(), answer: happyAnswer()).engine
        let condition = ResponseCondition(field: JSONPath("status"), equals: ["verified"])
        #expect(engine.matches(condition, response(200, ["status": "VERIFIED"])))
        var strict = condition
        strict.caseSensitive = true
        #expect(!engine.matches(strict, response(200, ["status": "VERIFIED"])))
        let notIn = ResponseCondition(field: JSONPath("account_number"), notIn: [.null, "PENDING-ACT-ACCOUNT"])
        #expect(!engine.matches(notIn, response(200, ["account_number": "PENDING-ACT-ACCOUNT"])))
        #expect(!engine.matches(notIn, response(200, ["account_number": nil])))
        #expect(!engine.matches(notIn, response(200, [:])))
        #expect(engine.matches(notIn, response(200, ["account_number": "1234567890"])))
    }
}
