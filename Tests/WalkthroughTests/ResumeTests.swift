import Foundation
import KiraJSON
import Testing

@testable import WalkthroughCore

/// Resuming: what a new run does with what an earlier one left.
@Suite struct ResumeTests {
    func decoded(_ session: Session) throws -> Session {
        try JSONDecoder().decode(Session.self, from: JSONEncoder().encode(session))
    }

    @Test func aPollInFlightWhenTheRunDiedPollsAgainTheNextDay() throws {
        let flow = try quickstart()
        var harness = EngineHarness(flow: flow, answer: happyAnswer(userStatuses: ["CREATED"]))
        // Stop with the second poll of the user's wait in flight (as a kill would leave it).
        var polls = 0
        let inFlight = harness.run(stopWhen: { action in
            if case .send(let request) = action, request.requestID == "user_verified" { polls += 1 }
            return polls == 2
        })
        guard case .send(let request) = inFlight, case .sending(_, let wait?) = harness.engine.session.steps[3].phase else {
            Issue.record("expected a poll in flight, got \(inFlight)")
            return
        }
        #expect(wait.attempt == 1)
        let nextDay = harness.now.addingTimeInterval(86_400)
        var resumed = WalkthroughEngine(flow: flow, session: try decoded(harness.engine.session), sources: harness.engine.sources)
        #expect(resumed.start(now: nextDay) == .send(request))
        #expect(resumed.session.steps[3].wait == WaitProgress(startedAt: nextDay, attempt: 0), "the wait's clock starts again")
        // Not verified yet: the wait goes on (it does not time out on yesterday's clock).
        guard case .poll = resumed.received(response(200, ["id": "user-1", "status": "CREATED"]), now: nextDay) else {
            Issue.record("expected another poll: \(resumed.session.steps[3].phase)")
            return
        }
        #expect(resumed.violations.isEmpty)
    }

    @Test func aResumedPromptStillSaysWhyTheLastValueWasRefused() throws {
        let flow = try quickstart()
        var harness = EngineHarness(flow: flow, answer: happyAnswer())
        guard
            case .needInput = harness.run(stopWhen: { if case .needInput(let input) = $0 { input.name == "deposit_amount" } else { false } }
            )
        else {
            Issue.record("deposit_amount was not asked")
            return
        }
        guard case .needInput(let refused) = harness.engine.provide(input: "deposit_amount", value: "ten dollars", now: harness.now) else {
            Issue.record("an invalid amount is asked again")
            return
        }
        let reason = try #require(refused.error)
        #expect(reason.contains("amount"))
        var resumed = WalkthroughEngine(flow: flow, session: try decoded(harness.engine.session), sources: harness.engine.sources)
        guard case .needInput(let again) = resumed.start(now: harness.now) else {
            Issue.record("expected the prompt again")
            return
        }
        #expect(again.name == "deposit_amount")
        #expect(again.error == reason)
    }

    @Test func aCompleteSessionResumesToFinishedWithoutCredentials() throws {
        let flow = try quickstart()
        var harness = EngineHarness(flow: flow, answer: happyAnswer())
        #expect(harness.run() == .finished)
        var resumed = WalkthroughEngine(flow: flow, session: try decoded(harness.engine.session))
        #expect(resumed.start(now: Date()) == .finished)
    }

    @Test func credentialsAskedAgainLeaveASendingStepSending() throws {
        let flow = try quickstart()
        var harness = EngineHarness(flow: flow, answer: happyAnswer())
        guard
            case .send(let interrupted) = harness.run(stopWhen: {
                if case .send(let r) = $0 { return r.requestID == "create_user" } else { return false }
            })
        else {
            Issue.record("expected to stop at create_user")
            return
        }
        // No environment, no demo credentials: the person types them again.
        var resumed = WalkthroughEngine(flow: flow, session: try decoded(harness.engine.session))
        var action = resumed.start(now: Date())
        var asked: [String] = []
        while case .needInput(let request) = action {
            asked.append(request.name)
            #expect(resumed.session.steps[3].state == .sending, "asking does not reset the step")
            action = resumed.provide(
                input: request.name, value: request.name == "client_id" ? "5f3c9d2e-8a41-4b7e-9c06-1d2e3f4a5b6c" : "typed-\(request.name)",
                now: Date())
        }
        #expect(Set(asked) == ["api_key", "client_id", "password"])
        #expect(action == .send(interrupted), "the interrupted request goes again, same key")
    }

    @Test func aBlockedStepIsCheckedAgainByTheNextRun() throws {
        let flow = try quickstart()
        var harness = EngineHarness(flow: flow, emulator: false, answer: happyAnswer(verifiedAfterOperator: false))
        harness.remedyFor["Q-NO-AUTO-VERIFY"] = 3
        guard case .stopped = harness.run() else {
            Issue.record("expected the person to be needed")
            return
        }
        var resumed = WalkthroughEngine(flow: flow, session: try decoded(harness.engine.session), sources: harness.engine.sources)
        guard case .send(let request) = resumed.start(now: Date()) else {
            Issue.record("a new run checks the user again")
            return
        }
        #expect(request.requestID == "user_verified")
        // In flight again, as the first request of a new wait.
        #expect(resumed.session.steps[3].state == .sending)
        #expect(resumed.session.steps[3].wait == WaitProgress(startedAt: resumed.session.steps[3].wait?.startedAt, attempt: 0))
        // The Kira contact verified the user overnight: the walkthrough goes on.
        var next = resumed.received(response(200, ["id": "user-1", "status": "VERIFIED"]), now: Date())
        // On a real target, step 5 first asks for a provisioned account (left empty: create one).
        if case .needInput(let asked) = next, asked.name == "provisioned_va_id" {
            next = resumed.provide(input: "provisioned_va_id", value: "", now: Date())
        }
        guard case .confirm(let va) = next else {
            Issue.record("expected the next step, got \(next)")
            return
        }
        #expect(va.requestID == "create_va")
    }

    @Test func aFailedStepIsRetriedByTheNextRun() throws {
        let flow = try quickstart()
        let happy = happyAnswer()
        var harness = EngineHarness(flow: flow, answer: happy)
        _ = harness.run(stopWhen: { if case .send(let request) = $0 { return request.requestID == "pin" } else { return false } })
        guard case .failed = harness.engine.transportFailed("Connection refused", now: harness.now) else {
            Issue.record("expected the pin to fail")
            return
        }
        var resumed = WalkthroughEngine(flow: flow, session: try decoded(harness.engine.session), sources: harness.engine.sources)
        guard case .send(let request) = resumed.start(now: Date()) else {
            Issue.record("a new run retries")
            return
        }
        #expect(request.requestID == "pin")
    }

    @Test func aNewCompleteUserGetsANewEmail() throws {
        var emails: [String] = []
        let happy = happyAnswer()
        var harness = EngineHarness(flow: try quickstart()) { request, count in
            switch request.requestID {
            case "create_user":
                emails.append(request.body?["email"]?.stringValue ?? "")
                return response(201, ["id": .string("user-\(emails.count)"), "status": "CREATED"])
            case "user_verified" where request.path.hasSuffix("user-1"):
                return response(200, ["status": "REJECTED"])
            case "user_verified":
                return response(200, ["status": "VERIFIED"])
            default: return happy(request, count)
            }
        }
        #expect(harness.run() == .finished)
        #expect(emails.count == 2)
        #expect(emails[0] != emails[1], "a duplicate email would be a 409")
    }

    @Test func theEnvironmentWinsOverAValueFromAnEarlierRun() throws {
        let flow = try quickstart()
        let happy = happyAnswer()
        var harness = EngineHarness(flow: flow, environment: ["KIRA_RECIPIENT_ID": "11111111-1111-4111-8111-111111111111"]) {
            request, count in
            request.requestID == "check_recipient"
                ? response(404, ["code": "not_found", "message": "Recipient not found"]) : happy(request, count)
        }
        guard case .stopped = harness.run() else {
            Issue.record("expected Q-SEED-IDS to stop the run")
            return
        }
        let corrected = InputSources(
            environment: ["KIRA_RECIPIENT_ID": "22222222-2222-4222-8222-222222222222"],
            demoCredentials: harness.engine.sources.demoCredentials)
        var resumed = WalkthroughEngine(flow: flow, session: try decoded(harness.engine.session), sources: corrected)
        guard case .send = resumed.start(now: Date()) else {
            Issue.record("expected a check again")
            return
        }
        #expect(resumed.session.inputs["recipient_id"] == "22222222-2222-4222-8222-222222222222")
    }

    @Test func anUnusableEnvironmentValueIsExplained() throws {
        var harness = EngineHarness(flow: try quickstart(), environment: ["KIRA_PAYOUT_AMOUNT": "abc"], answer: happyAnswer())
        guard
            case .needInput(let request) = harness.run(stopWhen: {
                if case .needInput(let r) = $0 { return r.name == "payout_amount" } else { return false }
            })
        else {
            Issue.record("expected the payout amount to be asked")
            return
        }
        #expect(request.error?.contains("KIRA_PAYOUT_AMOUNT=abc is not usable") == true)
        #expect(request.env == "KIRA_PAYOUT_AMOUNT")
    }

    @Test func invalidDefaultsAndSpansFailAtLoad() {
        let text = (try? String(contentsOf: packageRoot.appendingPathComponent("flows/quickstart.yaml"), encoding: .utf8)) ?? ""
        let broken = text.replacingOccurrences(of: "default: \"50.00\"", with: "default: \"fifty\"")
            .replacingOccurrences(of: "span: \"20.48\"", with: "span: \"lots\"")
        do {
            _ = try FlowLoader.load(broken, file: "broken.yaml")
            Issue.record("must not load")
        } catch {
            #expect(error.problems.contains { $0.message.contains("default of 'payout_amount' is not valid") })
            #expect(error.problems.contains { $0.message.contains("span is an amount") })
        }
    }

    @Test func explanationsAreRenderedForPeople() throws {
        let engine = EngineHarness(flow: try quickstart(), answer: happyAnswer()).engine
        let pin = try #require(engine.flow.steps.first { $0.id == "pin_version" })
        #expect(!engine.renderedText(pin.explain).contains("{{"))
        #expect(engine.renderedText(pin.explain).contains("X-Api-Version 2026-04-14"))
    }
}
