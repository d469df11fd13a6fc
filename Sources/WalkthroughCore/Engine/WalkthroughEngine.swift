import Foundation
import KiraJSON

/// The walkthrough as a pure state machine: events in, actions out, no IO.
///
/// Its whole state is a `Session` (what the file holds) plus secrets kept in memory. Each step is
/// in one `StepPhase`, changed only through `enter(_:_:)`, which checks `StepMachine.transitions`;
/// each public event method first checks `StepMachine.events` and answers `.rejected` when the
/// event makes no sense in the current phase. The driver saves the session after every event, so a
/// run killed anywhere resumes from the last transition: a request's idempotency key and its
/// `sending` phase are in the session before `.send` is returned (write-ahead).
///
/// The concerns live in their own files: inputs (`InputResolution`), rendering requests
/// (`RequestRendering`), reading responses (`ResponseMatching`), remedies (`Remedies`) and the
/// amount search (`AmountSearch`).
public struct WalkthroughEngine: Sendable {
    public let flow: Flow
    public internal(set) var session: Session
    /// Secret inputs and captures: memory only.
    public internal(set) var secrets: [String: String] = [:]
    let sources: InputSources
    /// Makes idempotency keys and generated values (injected for deterministic tests).
    let makeID: @Sendable () -> String
    /// Longest wait before a wait is reported as timed out, overriding the flow's.
    public var waitTimeoutOverride: Double?
    /// A secret input of a passed step being asked again at start (memory only).
    var pendingCredential: String?
    var pendingCredentialError: String?
    /// This run met an answer nobody documented (memory only): its block recommends stopping,
    /// where a block found by a new run recommends sending again (if that is safe).
    var answeredThisRun = false
    /// The phase changes this engine made, oldest first (memory only, the last 1,000).
    public private(set) var transitions: [StepTransition] = []
    /// Phase changes the transition table does not allow: always empty unless the engine has a bug.
    public private(set) var violations: [StepTransition] = []

    /// How many times one remedy may be taken in one step before only stopping is offered.
    public static let remedyLimit = 3

    public init(
        flow: Flow, session: Session, sources: InputSources = InputSources(),
        makeID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }
    ) {
        self.flow = flow
        self.session = session
        self.sources = sources
        self.makeID = makeID
    }

    // MARK: Queries

    /// The current step's index, or `nil` when all are over.
    public var currentIndex: Int? { session.cursor < flow.steps.count ? session.cursor : nil }

    /// The value of a reference: builtins, inputs, captures and secrets.
    public func value(of name: String) -> String? {
        if name == "api_version" { return flow.apiVersion }
        if let secret = secrets[name] { return secret }
        // An optional input left empty is no value, and leaves room for a capture of the same
        // name (recipient_id: provisioned, or captured from the recipient the flow creates).
        if let input = session.inputs[name], !input.isEmpty { return input }
        if let capture = session.captures[name] { return Self.text(of: capture) }
        return nil
    }

    /// The value of a credential input, for the client.
    public func credential(_ credential: Credential) -> String? {
        flow.inputs.first { $0.credential == credential }.flatMap { value(of: $0.name) }
    }

    /// The access token captured with the `bearer_token` role, with its lifetime in seconds.
    public var bearerToken: (token: String, lifetime: Double?)? {
        for step in flow.steps {
            for request in step.requestsIncludingRemedies {
                for capture in request.captures where capture.role == .bearerToken {
                    guard let token = value(of: capture.name) else { continue }
                    let lifetimeName = request.captures.first { $0.role == .tokenLifetime }?.name
                    return (token, lifetimeName.flatMap { value(of: $0) }.flatMap(Double.init))
                }
            }
        }
        return nil
    }

    /// A captured value as a person reads it.
    public static func describe(_ value: JSONValue) -> String { text(of: value) }

    static func text(of value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .number(let lexeme): lexeme
        case .bool(let flag): flag ? "true" : "false"
        case .null: "null"
        default: value.text()
        }
    }

    /// Secret names: secret inputs and secret captures.
    public var secretNames: Set<String> {
        var names = Set(flow.inputs.filter(\.secret).map(\.name))
        for step in flow.steps {
            for request in step.requestsIncludingRemedies {
                for capture in request.captures where capture.secret { names.insert(capture.name) }
            }
        }
        return names
    }

    // MARK: The machine

    /// Moves step `index` to `phase`: the one place a phase changes. A change the table does not
    /// allow is still made (the action returned with it depends on it) but kept in `violations`,
    /// which the tests assert empty and the runner reports.
    mutating func enter(_ index: Int, _ phase: StepPhase) {
        let change = StepTransition(stepID: session.steps[index].id, from: session.steps[index].phase.state, to: phase.state)
        if !StepMachine.allows(change.from, change.to) { violations.append(change) }
        transitions.append(change)
        if transitions.count > 1000 { transitions.removeFirst(transitions.count - 1000) }
        session.steps[index].phase = phase
    }

    /// The current step, when `event` is accepted in its phase.
    func acceptingStep(_ event: EngineEvent) -> Int? {
        guard let index = currentIndex, StepMachine.accepts(event, in: session.steps[index].state) else { return nil }
        return index
    }

    /// The answer to an event the current phase does not accept: `.rejected`, then what the
    /// phase needs (or `.finished` after the last step).
    mutating func reject(_ event: EngineEvent, now: Date) -> EngineAction {
        guard let index = currentIndex else {
            return .rejected(RejectedEvent(event: event, stepID: nil, state: nil), then: finish(now: now))
        }
        let rejected = RejectedEvent(event: event, stepID: session.steps[index].id, state: session.steps[index].state)
        return .rejected(rejected, then: resume(now: now))
    }

    // MARK: Events

    /// Starts or resumes: works out what the current step needs.
    public mutating func start(now: Date) -> EngineAction {
        if session.isComplete { return .finished }
        // Values from the environment win over those kept from an earlier run (a corrected
        // KIRA_RECIPIENT_ID is used); a request already rendered keeps its own body.
        for input in flow.inputs where !input.secret {
            if let env = input.env, let value = sources.environment[env], !value.isEmpty, Self.check(value, input: input) == nil {
                session.inputs[input.name] = value
            }
        }
        // Secret inputs of steps already passed are needed again (they were never written). They
        // are asked without touching any step's phase, so a step found `sending` stays so.
        for index in 0..<min(session.cursor, flow.steps.count) {
            for name in flow.steps[index].inputs {
                guard let input = flow.input(name), input.secret, !settleQuietly(input) else { continue }
                pendingCredential = name
                var request = inputRequest(input, stepIndex: min(session.cursor, flow.steps.count - 1))
                request.error = pendingCredentialError
                return .needInput(request)
            }
        }
        return resume(now: now)
    }

    /// What the current phase needs now (a new run, or after a rejected event).
    mutating func resume(now: Date) -> EngineAction {
        guard let index = currentIndex else { return finish(now: now) }
        let record = session.steps[index]
        switch record.phase {
        case .pending:
            return enterStep(index, now: now)
        case .awaitingInput(let ask):
            guard let input = flow.input(ask.name) else { return fail(index, "The flow has no input \(ask.name)") }
            if ask.remedy == nil {
                if let action = settle(input, stepIndex: index, now: now, previousError: ask.error) { return action }
                enter(index, .pending)
                return enterStep(index, now: now, keepingRequestIndex: true)
            }
            return .needInput(inputRequest(input, stepIndex: index))
        case .ready(let active):
            return .confirm(active.request)
        case .sending(let active, _?):
            // A poll that was in flight: polling resumes with the wait's clock restarted, as
            // between two polls (the old start would time the wait out at once).
            enter(index, .sending(active, wait: WaitProgress(startedAt: now, attempt: 0)))
            return .send(active.request)
        case .sending(let active, nil):
            return active.request.repeatable ? .send(active.request) : .askResend(active.request)
        case .waiting(let active, _):
            enter(index, .sending(active, wait: WaitProgress(startedAt: now, attempt: 0)))
            return .send(active.request)
        case .awaitingWebhook:
            guard let expectation = webhookExpectation(index) else { return advance(index, now: now) }
            return .awaitWebhook(expectation)
        case .blocked(let blocked, let active) where blocked.answer != nil:
            // An answer nobody documented: nothing goes again until someone chooses to.
            return .blocked(refreshedUnexpected(blocked, active: active, stepIndex: index))
        case .blocked(_, let active?) where active.origin == .flow, .failed(_, let active?) where active.origin == .flow,
            .operating(_, _, let active?) where active.origin == .flow:
            // A new run checks again first: the operator may have verified the user overnight,
            // the failure may have been the network. The same request goes, with the same key.
            event(index, .resume, nil, "Checking \(active.request.requestID) again after the last run stopped here", now)
            enter(index, .sending(active, wait: freshWait(index, now: now)))
            return .send(active.request)
        case .operating(_, let blocked, let active):
            enter(index, .blocked(blocked, active: active))
            return .blocked(refreshed(blocked, stepIndex: index))
        case .blocked(let blocked, _):
            return .blocked(refreshed(blocked, stepIndex: index))
        case .failed(let message, _):
            return .failed(stepID: record.id, message: message)
        case .succeeded, .skipped:
            session.cursor += 1
            return resume(now: now)
        }
    }

    /// A value for the input being asked.
    public mutating func provide(input name: String, value raw: String, now: Date) -> EngineAction {
        if name == pendingCredential, let input = flow.input(name) {
            let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if let error = Self.check(value, input: input) {
                pendingCredentialError = error
                return start(now: now)
            }
            store(input, value: value)
            pendingCredential = nil
            pendingCredentialError = nil
            return start(now: now)
        }
        guard let index = acceptingStep(.provideInput) else { return reject(.provideInput, now: now) }
        guard case .awaitingInput(var ask) = session.steps[index].phase, ask.name == name, let input = flow.input(name) else {
            return reject(.provideInput, now: now)
        }
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if let error = Self.check(value, input: input) {
            ask.error = error
            enter(index, .awaitingInput(ask))
            return .needInput(inputRequest(input, stepIndex: index))
        }
        store(input, value: value)
        event(index, .input, nil, input.secret ? "\(name) given" : (value.isEmpty ? "\(name) left empty" : "\(name) = \(value)"), now)
        if let remedy = ask.remedy { return afterPrompt(index, remedy, now: now) }
        enter(index, .pending)
        return enterStep(index, now: now, keepingRequestIndex: true)
    }

    /// The person's go-ahead to send the ready request.
    public mutating func confirm(now: Date) -> EngineAction {
        guard let index = acceptingStep(.confirm) else { return reject(.confirm, now: now) }
        guard case .ready(let active) = session.steps[index].phase else { return resume(now: now) }
        enter(index, .sending(active, wait: nil))
        return .send(active.request)
    }

    /// The person edited the ready request's body (secret references may stay as `{{ name }}`).
    public mutating func replaceBody(_ body: JSONValue, now: Date) -> EngineAction {
        guard let index = acceptingStep(.replaceBody) else { return reject(.replaceBody, now: now) }
        guard case .ready(var active) = session.steps[index].phase else { return resume(now: now) }
        active.request.body = body
        enter(index, .ready(active))
        event(index, .note, nil, "Request body edited by hand", now)
        return .confirm(active.request)
    }

    /// The answer to `.askResend`.
    public mutating func resend(_ again: Bool, now: Date) -> EngineAction {
        guard let index = acceptingStep(.resend) else { return reject(.resend, now: now) }
        guard let active = session.steps[index].active else { return resume(now: now) }
        if again { return .send(active.request) }
        return fail(index, "Not sent again: check whether the interrupted request took effect, then retry or skip the step.")
    }

    /// The response to the request last sent.
    public mutating func received(_ response: ResponseSummary, now: Date) -> EngineAction {
        guard let index = acceptingStep(.received) else { return reject(.received, now: now) }
        guard let active = session.steps[index].active else { return resume(now: now) }
        switch active.origin {
        case .flow:
            let request = flow.steps[index].requests[session.steps[index].requestIndex]
            return evaluate(response, for: request, stepIndex: index, now: now) { engine in
                engine.advanceOrAwaitWebhook(index, now: now)
            }
        case .remedy(let quirk, let remedyIndex), .validation(let quirk, let remedyIndex):
            guard let (rule, remedy) = remedy(quirk, remedyIndex, stepIndex: index) else { return fail(index, "Unknown remedy") }
            let followUp: FlowRequest?
            switch remedy.kind {
            case .request(let request): followUp = request
            case .prompt(_, let request): followUp = request
            default: followUp = nil
            }
            guard let followUp else { return fail(index, "Unknown remedy request") }
            return evaluate(response, for: followUp, stepIndex: index, now: now) { engine in
                engine.event(index, .remedy, rule.id, "\(engine.render(remedy.label) ?? remedy.label): done", now)
                return engine.continueAfter(remedy, stepIndex: index, now: now)
            }
        case .probe(let quirk, let remedyIndex, let search):
            return probed(response, quirk: quirk, remedyIndex: remedyIndex, search: search, stepIndex: index, now: now)
        }
    }

    /// The request could not be completed (after the client's own retries).
    public mutating func transportFailed(_ message: String, now: Date) -> EngineAction {
        guard let index = acceptingStep(.transportFailed) else { return reject(.transportFailed, now: now) }
        return fail(index, message)
    }

    /// The poll interval passed.
    public mutating func pollDue(now: Date) -> EngineAction {
        guard let index = acceptingStep(.pollDue) else { return reject(.pollDue, now: now) }
        guard case .waiting(let active, let wait) = session.steps[index].phase else { return resume(now: now) }
        enter(index, .sending(active, wait: wait))
        return .send(active.request)
    }

    /// The person picked a remedy (by index into the blocked quirk's remedies).
    public mutating func choose(remedy remedyIndex: Int, now: Date) -> EngineAction {
        guard let index = acceptingStep(.chooseRemedy) else { return reject(.chooseRemedy, now: now) }
        return chooseRemedy(remedyIndex, stepIndex: index, now: now)
    }

    /// The operator action finished; `error` says why it did not work.
    public mutating func operatorFinished(error: String?, now: Date) -> EngineAction {
        guard let index = acceptingStep(.operatorFinished) else { return reject(.operatorFinished, now: now) }
        guard case .operating(let pending, _, _) = session.steps[index].phase,
            let (_, remedy) = remedy(pending.quirk, pending.remedy, stepIndex: index)
        else { return fail(index, "The operator action belongs to no remedy of this step") }
        if let error { return fail(index, "The operator action failed: \(error)") }
        return continueAfter(remedy, stepIndex: index, now: now)
    }

    /// Send the failed (or blocked) request again, with the same idempotency key.
    public mutating func retry(now: Date) -> EngineAction {
        guard let index = acceptingStep(.retry) else { return reject(.retry, now: now) }
        if let active = session.steps[index].active, active.origin == .flow {
            enter(index, .sending(active, wait: freshWait(index, now: now)))
            return .send(active.request)
        }
        enter(index, .pending)
        return prepare(index, now: now)
    }

    /// Give up on the current step and go on with the next.
    public mutating func skip(now: Date) -> EngineAction {
        guard let index = acceptingStep(.skip) else { return reject(.skip, now: now) }
        event(index, .note, nil, "Step skipped", now)
        return completeStep(index, .skipped, now: now)
    }

    /// Stop waiting: the step fails (retry polls again).
    public mutating func cancelWait(now: Date) -> EngineAction {
        guard let index = acceptingStep(.cancelWait) else { return reject(.cancelWait, now: now) }
        return fail(index, "Wait cancelled")
    }

    /// The awaited webhook arrived (`record`), or did not in time (`nil`); `listening` is false
    /// when the run has no listener. Either way the step goes on: the wait is optional.
    public mutating func webhookArrived(_ record: WebhookEventRecord?, listening: Bool, now: Date) -> EngineAction {
        guard let index = acceptingStep(.webhookArrived) else { return reject(.webhookArrived, now: now) }
        guard let wait = flowRequest(index)?.webhook else { return advance(index, now: now) }
        noteWebhook(record, wait: wait, listening: listening, stepIndex: index, now: now)
        return advance(index, now: now)
    }

    /// Records a webhook the listener received.
    public mutating func record(webhook: WebhookEventRecord) {
        guard !session.webhooks.contains(where: { $0.eventID == webhook.eventID }) else { return }
        session.webhooks.append(webhook)
    }

    /// Records an exchange the client made (already redacted).
    public mutating func record(_ exchange: ExchangeRecord) {
        session.record(exchange)
    }

    /// Records what the target is for this run (a local emulator's port changes).
    public mutating func setTarget(_ target: SessionTarget) {
        session.target = target
    }

    /// The next exchange's sequence number.
    public var nextExchangeSequence: Int { session.nextExchangeSequence }

    // MARK: Steps

    mutating func enterStep(_ index: Int, now: Date, keepingRequestIndex: Bool = false) -> EngineAction {
        let step = flow.steps[index]
        for name in step.inputs {
            guard let input = flow.input(name) else { continue }
            if let action = settle(input, stepIndex: index, now: now) { return action }
        }
        if !keepingRequestIndex, session.steps[index].phase == .pending {
            session.steps[index].requestIndex = min(session.steps[index].requestIndex, step.requests.count)
        }
        return prepare(index, now: now)
    }

    /// Renders the request at the step's request index (skipping those whose `when` does not
    /// hold), or completes the step when none is left.
    mutating func prepare(_ index: Int, now: Date) -> EngineAction {
        let step = flow.steps[index]
        var requestIndex = session.steps[index].requestIndex
        for condition in step.requests.compactMap(\.condition) {
            if let input = flow.input(condition.input) { settleQuietly(input) }
        }
        while requestIndex < step.requests.count, let condition = step.requests[requestIndex].condition,
            (value(of: condition.input) != nil) != condition.whenSet
        {
            requestIndex += 1
        }
        session.steps[index].requestIndex = requestIndex
        guard requestIndex < step.requests.count else { return completeStep(index, .succeeded, now: now) }
        switch render(step.requests[requestIndex], stepIndex: index, now: now) {
        case .failure(let box):
            return box.action
        case .success(let rendered):
            enter(index, .ready(ActiveRequest(origin: .flow, request: rendered)))
            return .confirm(rendered)
        }
    }

    /// After the step's request at the request index succeeded: wait for its webhook, if it has
    /// one, else go on.
    mutating func advanceOrAwaitWebhook(_ index: Int, now: Date) -> EngineAction {
        guard let expectation = webhookExpectation(index) else { return advance(index, now: now) }
        enter(index, .awaitingWebhook)
        return .awaitWebhook(expectation)
    }

    /// After the step's request at the request index succeeded: the next request, or the end
    /// of the step.
    mutating func advance(_ index: Int, now: Date) -> EngineAction {
        session.steps[index].requestIndex += 1
        return prepare(index, now: now)
    }

    mutating func completeStep(_ index: Int, _ state: StepState, now: Date) -> EngineAction {
        enter(index, state == .skipped ? .skipped : .succeeded)
        session.cursor = index + 1
        session.updatedAt = now
        return resume(now: now)
    }

    mutating func finish(now: Date) -> EngineAction {
        if session.completedAt == nil { session.completedAt = now }
        return .finished
    }

    mutating func fail(_ index: Int, _ message: String) -> EngineAction {
        enter(index, .failed(message: message, active: session.steps[index].active))
        return .failed(stepID: flow.steps[index].id, message: message)
    }

    /// A new wait's progress when the step's flow request repeats until a condition holds.
    func freshWait(_ index: Int, now: Date) -> WaitProgress? {
        flowRequest(index)?.wait == nil ? nil : WaitProgress(startedAt: now, attempt: 0)
    }

    func flowRequest(_ index: Int) -> FlowRequest? {
        let requests = flow.steps[index].requests
        let requestIndex = session.steps[index].requestIndex
        return requests.indices.contains(requestIndex) ? requests[requestIndex] : nil
    }

    func webhookExpectation(_ index: Int) -> WebhookExpectation? {
        guard let wait = flowRequest(index)?.webhook else { return nil }
        return WebhookExpectation(event: wait.event, field: wait.field, value: wait.equals.flatMap { render($0) }, timeout: wait.timeout)
    }

    mutating func event(_ index: Int, _ kind: SessionEvent.Kind, _ quirk: String?, _ text: String, _ now: Date) {
        session.events.append(SessionEvent(at: now, stepID: flow.steps[index].id, kind: kind, quirkID: quirk, text: text))
        session.updatedAt = now
    }
}
