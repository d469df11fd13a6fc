import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import WalkthroughCore

/// The step state machine: every legal transition driven, every illegal event rejected.
@Suite struct StepMachineTests {
    /// What comes after the request under test in the step `main`.
    enum Tail: CaseIterable {
        /// Nothing: the step succeeds.
        case none
        /// A request that renders: ready.
        case request
        /// A request needing an input nobody gave yet: awaiting input.
        case input
        /// A request needing a capture no request made: failed.
        case missingCapture

        var expected: StepState {
            switch self {
            case .none: .succeeded
            case .request: .ready
            case .input: .awaitingInput
            case .missingCapture: .failed
            }
        }

        var yaml: String {
            switch self {
            case .none: ""
            case .request: tailRequest("/tail")
            case .input: tailRequest("/tail/{{ later }}")
            case .missingCapture: tailRequest("/tail/{{ never }}")
            }
        }

        func tailRequest(_ path: String) -> String {
            """
                  - id: tail
                    method: GET
                    path: \(path)
                    auth: none
                    expect: [200]

            """
        }
    }

    /// A small flow whose step `main` can reach every phase: a creating request with a quirk
    /// that offers every kind of remedy, optionally a webhook, then `tail`; then a step that polls.
    static func machineFlow(tail: Tail = .request, webhook: Bool = false) throws -> Flow {
        let text = """
            flow: machine
            title: Every transition of a step
            api_version: "2026-01-01"
            inputs:
              api_key: { env: M_API_KEY, secret: true, credential: api_key, prompt: key }
              client_id: { env: M_CLIENT_ID, secret: true, credential: client_id, format: uuid, prompt: id }
              password: { env: M_PASSWORD, secret: true, credential: password, prompt: pw }
              name: { default: ada, prompt: A name }
              amount: { default: "1.00", format: amount, prompt: An amount }
              fallback: { env: M_FALLBACK, prompt: A value the environment gives }
              other: { default: other-value, prompt: Another value }
              later: { default: later-value, prompt: A value asked only after the first request }
            steps:
              - id: empty
                title: No request
                explain: A step with nothing to send.
              - id: main
                title: The step under test
                explain: Creates a thing.
                inputs: [name]
                requests:
                  - id: create
                    method: POST
                    path: /things
                    auth: none
                    body: { name: "{{ name }}", amount: "{{ amount }}" }
                    expect: [201]
                    capture: { thing_id: [id] }
            \(webhook ? "        webhook: { event: thing.created, timeout: 1s }\n" : "")
                    quirks:
                      - id: Q-ONE-VA
                        when: { status: 409 }
                        explain: The name {{ name }} is taken.
                        remedies:
                          - label: Another value from the person, then go on
                            then: next
                            prompt: { input: other }
                          - label: A value from the environment, then go on
                            then: next
                            prompt: { input: fallback }
                          - label: The operator, then go on
                            then: next
                            operator: { action: verify_user, id: "{{ name }}" }
                          - label: The operator, then send it again
                            operator: { action: verify_user, id: "{{ name }}" }
                          - label: Look it up, then go on
                            then: next
                            request:
                              id: lookup
                              method: GET
                              path: /things?name={{ name }}
                              auth: none
                              expect: [200]
                              capture: { thing_id: [0.id] }
                          - label: Start the step over
                            restart: create
                          - label: Treat it as done
                            proceed: true
                          - label: Find the smallest amount
                            search: { input: amount, span: "1.00", max_calls: 9 }
                          - label: Stop
                            stop: Only a person can go on.
                          - label: Another value, checked first
                            prompt:
                              input: other
                              request:
                                id: check_other
                                method: GET
                                path: /others/{{ other }}
                                auth: none
                                expect: [200]
                                capture: { never: [never] }
            \(tail.yaml)
              - id: poll
                title: A wait
                explain: Waits for the thing.
                requests:
                  - id: until_ready
                    method: GET
                    path: /things/{{ thing_id }}
                    auth: none
                    expect: [200]
                    wait: { until: { field: status, equals: READY }, interval: 1s, timeout: 5s }
                    quirks:
                      - id: Q-NO-AUTO-VERIFY
                        when: { field: status, equals: SLOW }
                        explain: Slow.
                        remedies:
                          - label: Keep waiting
                            wait: true
            """
        return try FlowLoader.load(text, file: "machine.yaml")
    }

    /// Remedy positions in `machineFlow`'s quirk.
    enum Pick: Int {
        case promptPerson = 0, promptEnvironment, operatorNext, operatorRetry, request, restart, proceed, search, stop, promptValidated
    }

    /// A scripted server for `machineFlow`: `create` answers 409 `conflicts` times first.
    static func server(conflicts: Int = 1, pollStatuses: [String] = ["READY"], minimumCents: Int? = nil) -> (RenderedRequest, Int) ->
        ResponseSummary
    {
        var creates = 0
        var polls = 0
        return { request, _ in
            switch request.requestID {
            case "create":
                if let minimumCents {
                    let cents = Amount.cents(request.body?["amount"]?.stringValue ?? "") ?? 0
                    return cents >= minimumCents ? response(201, ["id": "t-1"]) : response(409, ["message": "too small"])
                }
                creates += 1
                return creates <= conflicts
                    ? response(409, ["code": "resource_conflict", "message": "taken"]) : response(201, ["id": "t-1"])
            case "lookup": return response(200, [["id": "t-1"]])
            case "check_other": return response(200, ["ok": true])
            case "tail": return response(200, ["ok": true])
            case "until_ready":
                polls += 1
                return response(200, ["id": "t-1", "status": .string(pollStatuses[min(polls - 1, pollStatuses.count - 1)])])
            default: return response(500, ["message": .string("unscripted \(request.requestID)")])
            }
        }
    }

    static func harness(_ flow: Flow, environment: [String: String] = [:], server: @escaping (RenderedRequest, Int) -> ResponseSummary)
        -> EngineHarness
    {
        EngineHarness(flow: flow, environment: environment, answer: server)
    }

    /// Runs until the current step of `harness` is `main` in `state`, or the run stops.
    static func run(_ harness: inout EngineHarness, untilMainIs state: StepState) -> EngineAction {
        harness.run(until: { $0.currentIndex == 1 && $0.session.steps[1].state == state })
    }

    // MARK: Every legal transition

    /// Scenarios that, together, make every change in `StepMachine.transitions`, and none other.
    static func scenarios() throws -> [(name: String, transitions: [StepTransition], violations: [StepTransition])] {
        var results: [(String, [StepTransition], [StepTransition])] = []
        func record(_ name: String, _ harness: EngineHarness) {
            results.append((name, harness.engine.transitions, harness.engine.violations))
        }

        // Success, a webhook, and each remedy that goes on, each followed by every kind of tail.
        for tail in Tail.allCases {
            var plain = harness(try machineFlow(tail: tail), server: server(conflicts: 0))
            _ = plain.run(until: { $0.currentIndex == 2 })
            record("success then \(tail)", plain)

            var hook = harness(try machineFlow(tail: tail, webhook: true), server: server(conflicts: 0))
            _ = hook.run(until: { $0.currentIndex == 2 })
            record("webhook then \(tail)", hook)

            for pick in [Pick.promptPerson, .promptEnvironment, .operatorNext] {
                var remedy = harness(try machineFlow(tail: tail), environment: ["M_FALLBACK": "from-env"], server: server())
                remedy.remedyFor["Q-ONE-VA"] = pick.rawValue
                let blocked = run(&remedy, untilMainIs: .blocked)
                // The environment answers a prompt only with a value other than the one refused:
                // here the person had typed another one earlier.
                remedy.engine.session.inputs["fallback"] = "typed-earlier"
                _ = remedy.run(from: blocked, until: { $0.currentIndex == 2 })
                record("\(pick) then \(tail)", remedy)
            }
        }
        // The other remedies.
        for pick in [Pick.operatorRetry, .request, .restart, .proceed, .promptValidated] {
            var remedy = harness(try machineFlow(), server: server())
            remedy.remedyFor["Q-ONE-VA"] = pick.rawValue
            _ = remedy.run()
            record("\(pick)", remedy)
        }
        var search = harness(try machineFlow(), server: server(minimumCents: 250))
        search.remedyFor["Q-ONE-VA"] = Pick.search.rawValue
        _ = search.run()
        record("search", search)

        // A search whose amount cannot be read fails from blocked.
        var badSearch = harness(try machineFlow(), server: server())
        _ = run(&badSearch, untilMainIs: .blocked)
        badSearch.engine.session.inputs["amount"] = "not an amount"
        _ = badSearch.engine.choose(remedy: Pick.search.rawValue, now: badSearch.now)
        record("search without an amount", badSearch)

        // An operator action that fails, then a retry of the failed request.
        var operatorFails = harness(try machineFlow(), server: server())
        _ = run(&operatorFails, untilMainIs: .blocked)
        _ = operatorFails.engine.choose(remedy: Pick.operatorRetry.rawValue, now: operatorFails.now)
        _ = operatorFails.engine.operatorFinished(error: "refused", now: operatorFails.now)
        _ = operatorFails.run(from: operatorFails.engine.retry(now: operatorFails.now))
        record("operator fails, retry", operatorFails)

        // A run stopped during an operator action resumes at the quirk when nothing can be checked again.
        var operatorResumed = harness(try machineFlow(), server: server())
        _ = run(&operatorResumed, untilMainIs: .blocked)
        let blocked = try #require(operatorResumed.engine.session.steps[1].blocked)
        operatorResumed.engine.session.steps[1].phase = .operating(
            PendingRemedy(quirk: "Q-ONE-VA", remedy: Pick.operatorNext.rawValue), blocked: blocked, active: nil)
        _ = operatorResumed.engine.start(now: operatorResumed.now)
        record("operator resumed without a request", operatorResumed)

        // Blocked, a new run checks again; failed, a new run checks again.
        var blockedResumed = harness(try machineFlow(), server: server())
        _ = run(&blockedResumed, untilMainIs: .blocked)
        _ = blockedResumed.run(from: blockedResumed.engine.start(now: blockedResumed.now))
        record("blocked, checked again", blockedResumed)

        // Invalid input, then valid; skipping while asked.
        var invalid = harness(try machineFlow(), server: server(conflicts: 0))
        guard case .needInput = invalid.run(stopWhen: { if case .needInput = $0 { true } else { false } }) else {
            throw MachineError.unexpected("no input asked")
        }
        _ = invalid.engine.provide(input: "name", value: "", now: invalid.now)
        _ = invalid.engine.skip(now: invalid.now)
        record("invalid input, skipped", invalid)

        // A ready request edited, then skipped.
        var edited = harness(try machineFlow(), server: server(conflicts: 0))
        _ = run(&edited, untilMainIs: .ready)
        _ = edited.engine.replaceBody(["name": "edited"], now: edited.now)
        _ = edited.engine.skip(now: edited.now)
        record("edited, skipped", edited)

        // Blocked, skipped.
        var blockedSkipped = harness(try machineFlow(), server: server())
        _ = run(&blockedSkipped, untilMainIs: .blocked)
        _ = blockedSkipped.engine.skip(now: blockedSkipped.now)
        record("blocked, skipped", blockedSkipped)

        // A transport failure, retried (failed → sending); a remedy request's failure, retried
        // (failed → pending); failed, skipped.
        var failedSkipped = harness(try machineFlow(), server: server(conflicts: 0))
        _ = run(&failedSkipped, untilMainIs: .sending)
        _ = failedSkipped.engine.transportFailed("connection refused", now: failedSkipped.now)
        _ = failedSkipped.engine.skip(now: failedSkipped.now)
        record("transport failure, skipped", failedSkipped)

        var transport = harness(try machineFlow(), server: server(conflicts: 0))
        _ = run(&transport, untilMainIs: .sending)
        _ = transport.engine.transportFailed("connection refused", now: transport.now)
        _ = transport.run(from: transport.engine.retry(now: transport.now))
        record("transport failure, retried", transport)

        var remedyFailed = harness(try machineFlow(), server: server())
        _ = run(&remedyFailed, untilMainIs: .blocked)
        _ = remedyFailed.engine.choose(remedy: Pick.request.rawValue, now: remedyFailed.now)
        _ = remedyFailed.engine.transportFailed("connection reset", now: remedyFailed.now)
        _ = remedyFailed.engine.retry(now: remedyFailed.now)
        _ = remedyFailed.engine.skip(now: remedyFailed.now)
        record("remedy failure, retried, skipped", remedyFailed)

        // Polling: a poll, a quirk kept waiting past, a wait cancelled, a wait skipped, a wait timed out.
        var waits = harness(try machineFlow(), server: server(conflicts: 0, pollStatuses: ["PENDING", "SLOW", "PENDING", "READY"]))
        _ = waits.run()
        record("polls past a quirk", waits)

        var cancelled = harness(try machineFlow(), server: server(conflicts: 0, pollStatuses: ["PENDING"]))
        _ = cancelled.run(stopWhen: { if case .poll = $0 { true } else { false } })
        _ = cancelled.engine.cancelWait(now: cancelled.now)
        record("wait cancelled", cancelled)

        var skippedWait = harness(try machineFlow(), server: server(conflicts: 0, pollStatuses: ["PENDING"]))
        _ = skippedWait.run(stopWhen: { if case .poll = $0 { true } else { false } })
        _ = skippedWait.engine.skip(now: skippedWait.now)
        record("wait skipped", skippedWait)

        var timedOut = harness(try machineFlow(), server: server(conflicts: 0, pollStatuses: ["PENDING"]))
        guard case .blocked(let timeout) = timedOut.run(stopWhen: { if case .blocked = $0 { true } else { false } }), timeout.isTimeout
        else {
            throw MachineError.unexpected("the wait did not time out")
        }
        guard case .send = timedOut.engine.choose(remedy: 0, now: timedOut.now) else { throw MachineError.unexpected("keep waiting") }
        record("timed out, kept waiting", timedOut)

        // An answer nobody documented (a 422 no rule names): sent again (blocked → sending), or
        // its body edited first (blocked → ready).
        func undocumentedFirst() -> (RenderedRequest, Int) -> ResponseSummary {
            let happy = server(conflicts: 0)
            var refused = false
            return { request, count in
                if request.requestID == "create", !refused {
                    refused = true
                    return response(422, ["code": "on_hold", "message": "held"])
                }
                return happy(request, count)
            }
        }
        for remedy in [WalkthroughEngine.UnexpectedRemedy.sendAgain, .editAndSend] {
            var undocumented = harness(try machineFlow(), server: undocumentedFirst())
            guard case .blocked(let blocked) = run(&undocumented, untilMainIs: .blocked), blocked.answer != nil else {
                throw MachineError.unexpected("an undocumented answer did not block")
            }
            guard undocumented.run(from: undocumented.engine.choose(remedy: remedy.rawValue, now: undocumented.now)) == .finished else {
                throw MachineError.unexpected("the undocumented answer's remedy \(remedy) did not go on")
            }
            record("an undocumented answer, \(remedy)", undocumented)
        }
        return results
    }

    enum MachineError: Error {
        case unexpected(String)
    }

    @Test func theScenariosMakeEveryLegalTransitionAndNoOther() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            var seen = Set<String>()
            for scenario in try Self.scenarios() {
                #expect(scenario.violations.isEmpty, "\(scenario.name): \(scenario.violations)")
                for change in scenario.transitions { seen.insert("\(change.from.rawValue) → \(change.to.rawValue)") }
            }
            var table = Set<String>()
            for (from, targets) in StepMachine.transitions {
                for to in targets { table.insert("\(from.rawValue) → \(to.rawValue)") }
            }
            #expect(table.subtracting(seen).sorted() == [], "legal transitions no scenario made")
            #expect(seen.subtracting(table).sorted() == [], "transitions outside the table")

        }
    }

    @Test func eachTailDecidesWhereASuccessGoes() throws {
        for tail in Tail.allCases {
            var harness = Self.harness(try Self.machineFlow(tail: tail), server: Self.server(conflicts: 0))
            _ = harness.run(until: { $0.transitions.contains { $0.stepID == "main" && $0.from == .sending } })
            let changes = harness.engine.transitions.filter { $0.stepID == "main" && $0.from == .sending }
            #expect(changes.last?.to == tail.expected, "\(tail)")
        }
    }

    // MARK: Every illegal event

    /// An engine whose current step (`main`) is in `phase`.
    static func engine(in phase: StepPhase) throws -> WalkthroughEngine {
        var harness = Self.harness(try machineFlow(webhook: true), server: server())
        _ = run(&harness, untilMainIs: .blocked)
        harness.engine.session.steps[1].phase = phase
        return harness.engine
    }

    /// One phase of each kind, with the data it carries.
    static func samplePhases() throws -> [StepPhase] {
        var harness = Self.harness(try machineFlow(webhook: true), server: server())
        _ = run(&harness, untilMainIs: .blocked)
        let record = harness.engine.session.steps[1]
        let active = try #require(record.active)
        let blocked = try #require(record.blocked)
        let phases: [StepPhase] = [
            .pending, .awaitingInput(InputAsk(name: "name")), .ready(active), .sending(active, wait: nil),
            .waiting(active, WaitProgress(startedAt: harness.now, attempt: 1)), .awaitingWebhook,
            .operating(PendingRemedy(quirk: "Q-ONE-VA", remedy: 2), blocked: blocked, active: active), .blocked(blocked, active: active),
            .failed(message: "it broke", active: active),
        ]
        #expect(Set(phases.map(\.state)) == Set(StepState.allCases).subtracting([.succeeded, .skipped]))
        return phases
    }

    /// Fires `event` at `engine`.
    static func fire(_ event: EngineEvent, at engine: inout WalkthroughEngine, now: Date) -> EngineAction {
        switch event {
        case .provideInput: engine.provide(input: "name", value: "grace", now: now)
        case .confirm: engine.confirm(now: now)
        case .replaceBody: engine.replaceBody(["name": "x"], now: now)
        case .resend: engine.resend(true, now: now)
        case .received: engine.received(response(201, ["id": "t-1"]), now: now)
        case .transportFailed: engine.transportFailed("refused", now: now)
        case .pollDue: engine.pollDue(now: now)
        case .chooseRemedy: engine.choose(remedy: Pick.stop.rawValue, now: now)
        case .operatorFinished: engine.operatorFinished(error: nil, now: now)
        case .retry: engine.retry(now: now)
        case .skip: engine.skip(now: now)
        case .cancelWait: engine.cancelWait(now: now)
        case .webhookArrived: engine.webhookArrived(nil, listening: false, now: now)
        }
    }

    @Test func everyEventOutsideItsPhasesIsRejectedAndChangesNothing() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            var rejections = 0
            for phase in try Self.samplePhases() {
                for event in EngineEvent.allCases where !StepMachine.accepts(event, in: phase.state) {
                    var engine = try Self.engine(in: phase)
                    let before = engine.session.steps[1]
                    let action = Self.fire(event, at: &engine, now: now)
                    guard case .rejected(let rejected, _) = action else {
                        Issue.record("\(event) in \(phase.state) was not rejected: \(action)")
                        continue
                    }
                    #expect(rejected == RejectedEvent(event: event, stepID: "main", state: phase.state))
                    // Only what resuming the phase does may follow (a new run's check sends again).
                    let after = engine.session.steps[1]
                    if case .sending = after.phase, phase.state != .sending {
                        #expect([.blocked, .failed, .operating, .waiting].contains(phase.state), "\(event) in \(phase.state)")
                    } else if phase.state != .pending, phase.state != .awaitingInput, phase.state != .operating {
                        #expect(after.phase == before.phase, "\(event) in \(phase.state) changed the phase")
                    }
                    #expect(engine.violations.isEmpty)
                    rejections += 1
                }
            }
            // 13 events × 9 phases, less the 18 (event, phase) pairs the table accepts.
            #expect(rejections == 13 * 9 - StepMachine.events.values.map(\.count).reduce(0, +))

        }
    }

    @Test func everyEventInsideItsPhasesIsAccepted() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            for phase in try Self.samplePhases() {
                for event in EngineEvent.allCases where StepMachine.accepts(event, in: phase.state) {
                    var engine = try Self.engine(in: phase)
                    let action = Self.fire(event, at: &engine, now: now)
                    if case .rejected(let rejected, _) = action { Issue.record("\(rejected)") }
                    #expect(engine.violations.isEmpty, "\(event) in \(phase.state): \(engine.violations)")
                }
            }

        }
    }

    @Test func eventsAfterTheLastStepAreRejected() throws {
        var harness = Self.harness(try Self.machineFlow(), server: Self.server(conflicts: 0))
        #expect(harness.run() == .finished)
        for event in EngineEvent.allCases {
            let action = Self.fire(event, at: &harness.engine, now: harness.now)
            #expect(action == .rejected(RejectedEvent(event: event, stepID: nil, state: nil), then: .finished))
        }
    }

    @Test func theTableNamesEveryStateAndEvent() {
        #expect(Set(StepMachine.transitions.keys) == Set(StepState.allCases))
        #expect(Set(StepMachine.events.keys) == Set(EngineEvent.allCases))
        #expect(StepMachine.transitions[.succeeded] == [] && StepMachine.transitions[.skipped] == [])
    }
}
