import Foundation
import KiraJSON

/// A value the engine needs from the person.
public struct InputRequest: Sendable, Hashable {
    public var name: String
    public var prompt: String
    public var secret: Bool
    /// A proposal the person can accept (unattended runs take it).
    public var defaultValue: String?
    public var format: FlowInput.Format
    public var optional: Bool
    /// Why the last value was refused.
    public var error: String?
    /// The step asking.
    public var stepID: String
    /// The environment variable that could provide it.
    public var env: String?
}

/// An operator action to perform on the emulator.
public struct OperatorRequest: Sendable, Hashable {
    public var verb: OperatorAction.Verb
    public var id: String
    public var label: String
}

/// What the driver must do next. The engine never does IO: it says what is needed and waits for
/// the matching event.
public enum EngineAction: Sendable, Hashable {
    /// Ask for a value, then call `provide(input:value:now:)`.
    case needInput(InputRequest)
    /// Show the request; on the person's go-ahead call `confirm(now:)`.
    case confirm(RenderedRequest)
    /// Send it now (its `sending`/`waiting` state is already in the session), then call
    /// `received(_:now:)` or `transportFailed(_:now:)`.
    case send(RenderedRequest)
    /// A request without idempotency was interrupted mid-flight: ask whether to send it again,
    /// then call `resend(_:now:)`.
    case askResend(RenderedRequest)
    /// Wait this many seconds, then call `pollDue(now:)`.
    case poll(after: Double, RenderedRequest)
    /// A quirk stopped the step: offer the remedies, then call `choose(remedy:now:)`.
    case blocked(BlockedQuirk)
    /// Perform an operator action, then call `operatorFinished(error:now:)`.
    case performOperator(OperatorRequest)
    /// The step failed: offer retry, skip or quit.
    case failed(stepID: String, message: String)
    /// Only a person can go on (exit code 3 unattended).
    case stopped(advice: String)
    /// Wait (bounded) for a webhook from the run's listener, then call `webhookArrived(_:listening:now:)`.
    case awaitWebhook(WebhookExpectation)
    /// Every step is over.
    case finished
}

/// Where the values of `{{ references }}` come from besides the session.
public struct InputSources: Sendable {
    /// Environment variables.
    public var environment: [String: String]
    /// Credentials of the embedded emulator's demo tenant, on a local target.
    public var demoCredentials: [Credential: String]

    public init(environment: [String: String] = [:], demoCredentials: [Credential: String] = [:]) {
        self.environment = environment
        self.demoCredentials = demoCredentials
    }
}

/// The walkthrough as a pure state machine: events in, actions out, no IO.
///
/// Its whole state is a `Session` (what the file holds) plus secrets kept in memory. The driver
/// saves the session after every event, so a run killed anywhere resumes from the last transition:
/// a request's idempotency key and its `sending` state are in the session before `.send` is
/// returned (write-ahead).
public struct WalkthroughEngine: Sendable {
    public let flow: Flow
    public private(set) var session: Session
    /// Secret inputs and captures: memory only.
    public private(set) var secrets: [String: String] = [:]
    let sources: InputSources
    /// Makes idempotency keys and generated values (injected for deterministic tests).
    let makeID: @Sendable () -> String
    /// Longest wait before a wait is reported as timed out, overriding the flow's.
    public var waitTimeoutOverride: Double?
    /// A secret input of a passed step being asked again at start (memory only).
    var pendingCredential: String?
    var pendingCredentialError: String?

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
        if let input = session.inputs[name] { return input.isEmpty ? nil : input }
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
        // are asked without touching any step's state, so a step found `sending` stays so.
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

    mutating func resume(now: Date) -> EngineAction {
        guard let index = currentIndex else { return finish(now: now) }
        let record = session.steps[index]
        switch record.state {
        case .pending:
            return enterStep(index, now: now)
        case .awaitingInput:
            guard let name = record.pendingInput, let input = flow.input(name) else { return enterStep(index, now: now) }
            if record.pendingRemedy == nil, let action = settle(input, stepIndex: index, now: now) { return action }
            return .needInput(inputRequest(input, stepIndex: index))
        case .ready:
            guard let active = record.active else { return prepare(index, now: now) }
            return .confirm(active.request)
        case .sending:
            guard let active = record.active else { return prepare(index, now: now) }
            return active.request.repeatable ? .send(active.request) : .askResend(active.request)
        case .waiting where record.awaitingWebhook == true:
            guard let expectation = webhookExpectation(index) else { return advance(index, now: now) }
            return .awaitWebhook(expectation)
        case .waiting:
            guard let active = record.active else { return prepare(index, now: now) }
            update(index) {
                $0.waitStartedAt = now
                $0.waitAttempt = 0
            }
            return .send(active.request)
        case .blocked, .failed:
            // A new run checks again first: the operator may have verified the user overnight,
            // the failure may have been the network. The same request goes, with the same key.
            if let active = record.active, case .flow = active.origin {
                let waits = flowRequest(index)?.wait != nil
                update(index) {
                    $0.state = waits ? .waiting : .sending
                    $0.blocked = nil
                    $0.failure = nil
                    $0.search = nil
                    $0.pendingOperator = nil
                    $0.waitStartedAt = now
                    $0.waitAttempt = 0
                }
                event(index, .resume, nil, "Checking \(active.request.requestID) again after the last run stopped here", now)
                return .send(active.request)
            }
            if record.state == .blocked, let blocked = record.blocked { return .blocked(refreshed(blocked, stepIndex: index)) }
            return .failed(stepID: record.id, message: record.failure ?? "The step failed")
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
        guard let index = currentIndex, session.steps[index].state == .awaitingInput, session.steps[index].pendingInput == name,
            let input = flow.input(name)
        else { return resume(now: now) }
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if let error = Self.check(value, input: input) {
            update(index) { $0.inputError = error }
            return .needInput(inputRequest(input, stepIndex: index))
        }
        store(input, value: value)
        event(index, .input, nil, input.secret ? "\(name) given" : (value.isEmpty ? "\(name) left empty" : "\(name) = \(value)"), now)
        update(index) {
            $0.pendingInput = nil
            $0.inputError = nil
        }
        if let pending = session.steps[index].pendingRemedy {
            update(index) { $0.pendingRemedy = nil }
            return afterPrompt(index, pending, now: now)
        }
        update(index) { $0.state = .pending }
        return enterStep(index, now: now, keepingRequestIndex: true)
    }

    /// The person's go-ahead to send the ready request.
    public mutating func confirm(now: Date) -> EngineAction {
        guard let index = currentIndex, session.steps[index].state == .ready, let active = session.steps[index].active else {
            return resume(now: now)
        }
        update(index) { $0.state = .sending }
        return .send(active.request)
    }

    /// The person edited the ready request's body (secret references may stay as `{{ name }}`).
    public mutating func replaceBody(_ body: JSONValue, now: Date) -> EngineAction {
        guard let index = currentIndex, session.steps[index].state == .ready, var active = session.steps[index].active else {
            return resume(now: now)
        }
        active.request.body = body
        update(index) { $0.active = active }
        event(index, .note, nil, "Request body edited by hand", now)
        return .confirm(active.request)
    }

    /// The answer to `.askResend`.
    public mutating func resend(_ again: Bool, now: Date) -> EngineAction {
        guard let index = currentIndex, session.steps[index].state == .sending, let active = session.steps[index].active else {
            return resume(now: now)
        }
        if again { return .send(active.request) }
        return fail(index, "Not sent again: check whether the interrupted request took effect, then retry or skip the step.")
    }

    /// The response to the request last sent.
    public mutating func received(_ response: ResponseSummary, now: Date) -> EngineAction {
        guard let index = currentIndex, let active = session.steps[index].active,
            [.sending, .waiting].contains(session.steps[index].state)
        else { return resume(now: now) }
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
                engine.event(index, .remedy, rule.id, "\(remedy.label): done", now)
                return engine.continueAfter(remedy, stepIndex: index, now: now)
            }
        case .probe(let quirk, let remedyIndex):
            return probed(response, quirk: quirk, remedyIndex: remedyIndex, stepIndex: index, now: now)
        }
    }

    /// The request could not be completed (after the client's own retries).
    public mutating func transportFailed(_ message: String, now: Date) -> EngineAction {
        guard let index = currentIndex, [.sending, .waiting].contains(session.steps[index].state) else { return resume(now: now) }
        return fail(index, message)
    }

    /// The poll interval passed.
    public mutating func pollDue(now: Date) -> EngineAction {
        guard let index = currentIndex, session.steps[index].state == .waiting, let active = session.steps[index].active else {
            return resume(now: now)
        }
        return .send(active.request)
    }

    /// The person picked a remedy (by index into the blocked quirk's remedies).
    public mutating func choose(remedy remedyIndex: Int, now: Date) -> EngineAction {
        guard let index = currentIndex, session.steps[index].state == .blocked, let blocked = session.steps[index].blocked else {
            return resume(now: now)
        }
        let offered = refreshed(blocked, stepIndex: index)
        guard offered.remedies.indices.contains(remedyIndex), offered.remedies[remedyIndex].available else {
            return .blocked(offered)
        }
        if blocked.isTimeout {
            return chooseTimeoutRemedy(remedyIndex, blocked: blocked, stepIndex: index, now: now)
        }
        guard let (rule, remedy) = remedy(blocked.quirkID, remedyIndex, stepIndex: index) else {
            return fail(index, "Unknown remedy \(remedyIndex + 1) for \(blocked.quirkID)")
        }
        let useKey = "\(rule.id)#\(remedyIndex)"
        update(index) { $0.remedyUses[useKey, default: 0] += 1 }
        event(index, .remedy, rule.id, "Chose: \(render(remedy.label) ?? remedy.label)", now)
        switch remedy.kind {
        case .request(let request):
            return sendRemedyRequest(request, origin: .remedy(quirk: rule.id, remedy: remedyIndex), stepIndex: index, now: now)
        case .wait:
            update(index) {
                if !$0.suppressedQuirks.contains(rule.id) { $0.suppressedQuirks.append(rule.id) }
                $0.blocked = nil
                $0.state = .waiting
                $0.waitStartedAt = now
                $0.waitAttempt = 0
            }
            guard let active = session.steps[index].active else { return prepare(index, now: now) }
            return .poll(after: currentWait(index)?.interval ?? 2, active.request)
        case .prompt(let input, _):
            guard let flowInput = flow.input(input) else { return fail(index, "Unknown input \(input)") }
            let asked = session.steps[index].remedyUses["\(rule.id)#\(remedyIndex)", default: 0] > 1
            let refused = value(of: input)
            session.inputs[input] = nil
            secrets[input] = nil
            // The environment answers the first time (KIRA_USER_ID), unless it holds the value just
            // refused; a second ask goes to the person.
            if !asked, settleQuietly(flowInput), value(of: input) != refused {
                update(index) { $0.blocked = nil }
                return afterPrompt(index, PendingRemedy(quirk: rule.id, remedy: remedyIndex), now: now)
            }
            session.inputs[input] = nil
            secrets[input] = nil
            update(index) {
                $0.state = .awaitingInput
                $0.pendingInput = input
                $0.pendingRemedy = PendingRemedy(quirk: rule.id, remedy: remedyIndex)
                $0.blocked = nil
            }
            return .needInput(inputRequest(flowInput, stepIndex: index))
        case .search(let input, let span, let maxCalls):
            guard let current = value(of: input).flatMap(Amount.cents) else { return fail(index, "No amount in \(input) to search from") }
            let search = SearchProgress(
                input: input, failingCents: current, passingCents: nil, probeCents: current + span, calls: 0, maxCalls: maxCalls,
                spanCents: span
            )
            update(index) { $0.search = search }
            return sendProbe(stepIndex: index, quirk: rule.id, remedyIndex: remedyIndex, now: now)
        case .operatorAction(let action):
            guard let id = render(action.id) else { return fail(index, "The operator action needs a value that is not known yet") }
            update(index) { $0.pendingOperator = PendingRemedy(quirk: rule.id, remedy: remedyIndex) }
            event(index, .operator, rule.id, "Operator (standing in for your Kira contact): \(action.verb.rawValue) \(id)", now)
            return .performOperator(OperatorRequest(verb: action.verb, id: id, label: render(remedy.label) ?? remedy.label))
        case .restart(let from):
            guard let target = flow.steps[index].requests.firstIndex(where: { $0.id == from }) else {
                return fail(index, "Unknown request \(from)")
            }
            session.idempotencyKeys["\(flow.steps[index].id)/\(from)"] = nil
            // A new resource, not a replay: values generated for the old one (a unique email) go too.
            let restarted = flow.steps[index].requests[target]
            for name in restarted.path.references + ((try? restarted.body?.templateReferences()) ?? []) ?? []
            where flow.input(name)?.generate != nil {
                session.inputs[name] = nil
            }
            update(index) {
                $0.requestIndex = target
                $0.blocked = nil
                $0.active = nil
                $0.suppressedQuirks = []
                $0.state = .pending
            }
            return prepare(index, now: now)
        case .proceed:
            event(index, .note, rule.id, render(rule.explain) ?? rule.explain, now)
            return completeStep(index, .succeeded, now: now)
        case .stop(let advice):
            return .stopped(advice: render(advice) ?? advice)
        }
    }

    /// The operator action finished; `error` says why it did not work.
    public mutating func operatorFinished(error: String?, now: Date) -> EngineAction {
        guard let index = currentIndex, let pending = session.steps[index].pendingOperator,
            let (_, remedy) = remedy(pending.quirk, pending.remedy, stepIndex: index)
        else { return resume(now: now) }
        update(index) { $0.pendingOperator = nil }
        if let error { return fail(index, "The operator action failed: \(error)") }
        return continueAfter(remedy, stepIndex: index, now: now)
    }

    /// Send the failed (or blocked) request again, with the same idempotency key.
    public mutating func retry(now: Date) -> EngineAction {
        guard let index = currentIndex, [.failed, .blocked].contains(session.steps[index].state) else { return resume(now: now) }
        update(index) {
            $0.failure = nil
            $0.blocked = nil
            $0.search = nil
            $0.pendingOperator = nil
        }
        if let active = session.steps[index].active, case .flow = active.origin {
            let waits = flowRequest(index)?.wait != nil
            update(index) { $0.state = waits ? .waiting : .sending }
            if waits {
                update(index) {
                    $0.waitStartedAt = now
                    $0.waitAttempt = 0
                }
            }
            return .send(active.request)
        }
        update(index) {
            $0.state = .pending
            $0.active = nil
        }
        return prepare(index, now: now)
    }

    /// Give up on the current step and go on with the next.
    public mutating func skip(now: Date) -> EngineAction {
        guard let index = currentIndex else { return finish(now: now) }
        event(index, .note, nil, "Step skipped", now)
        return completeStep(index, .skipped, now: now)
    }

    /// Stop waiting: the step fails (retry polls again).
    public mutating func cancelWait(now: Date) -> EngineAction {
        guard let index = currentIndex, session.steps[index].state == .waiting else { return resume(now: now) }
        return fail(index, "Wait cancelled")
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
        if !keepingRequestIndex, session.steps[index].state == .pending, session.steps[index].active == nil {
            update(index) { $0.requestIndex = min($0.requestIndex, step.requests.count) }
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
        update(index) { $0.requestIndex = requestIndex }
        guard requestIndex < step.requests.count else { return completeStep(index, .succeeded, now: now) }
        let request = step.requests[requestIndex]
        switch render(request, stepIndex: index, now: now) {
        case .failure(let box):
            return box.action
        case .success(let rendered):
            update(index) {
                $0.active = ActiveRequest(origin: .flow, request: rendered)
                $0.state = .ready
                $0.blocked = nil
                $0.failure = nil
            }
            return .confirm(rendered)
        }
    }

    /// After the step's request at the request index succeeded: wait for its webhook, if it has
    /// one, else go on.
    mutating func advanceOrAwaitWebhook(_ index: Int, now: Date) -> EngineAction {
        guard session.steps[index].awaitingWebhook != true, let expectation = webhookExpectation(index) else {
            return advance(index, now: now)
        }
        update(index) {
            $0.state = .waiting
            $0.awaitingWebhook = true
        }
        return .awaitWebhook(expectation)
    }

    func webhookExpectation(_ index: Int) -> WebhookExpectation? {
        guard let wait = flowRequest(index)?.webhook else { return nil }
        return WebhookExpectation(event: wait.event, field: wait.field, value: wait.equals.flatMap { render($0) }, timeout: wait.timeout)
    }

    /// The awaited webhook arrived (`record`), or did not in time (`nil`); `listening` is false
    /// when the run has no listener. Either way the step goes on: the wait is optional.
    public mutating func webhookArrived(_ record: WebhookEventRecord?, listening: Bool, now: Date) -> EngineAction {
        guard let index = currentIndex, session.steps[index].awaitingWebhook == true, let expectation = webhookExpectation(index) else {
            return resume(now: now)
        }
        let text: String
        if let record {
            text =
                record.verified
                ? "The \(record.event) webhook arrived (\(record.eventID)), its x-signature-sha256 verified: the deposit is confirmed."
                : "The \(record.event) webhook arrived (\(record.eventID)), but its signature did NOT verify with the registered secret."
        } else if listening {
            text =
                "No \(expectation.event) webhook within \(Int(expectation.timeout)) s. Webhooks are delivered once, without retry; the 201 already confirmed the deposit."
        } else {
            text =
                "The \(expectation.event) webhook confirms this in a real integration; run with --webhook-listen HOST:PORT to receive it here."
        }
        event(index, .note, "Q-DEPOSIT-INVISIBLE", text, now)
        update(index) {
            $0.awaitingWebhook = nil
            $0.state = .sending
        }
        return advance(index, now: now)
    }

    /// Records a webhook the listener received.
    public mutating func record(webhook: WebhookEventRecord) {
        guard !session.webhooks.contains(where: { $0.eventID == webhook.eventID }) else { return }
        session.webhooks.append(webhook)
    }

    /// After the step's request at the request index succeeded.
    mutating func advance(_ index: Int, now: Date) -> EngineAction {
        update(index) {
            $0.requestIndex += 1
            $0.active = nil
            $0.waitStartedAt = nil
            $0.waitAttempt = 0
            $0.search = nil
        }
        return prepare(index, now: now)
    }

    mutating func completeStep(_ index: Int, _ state: StepState, now: Date) -> EngineAction {
        update(index) {
            $0.state = state
            $0.active = nil
            $0.blocked = nil
            $0.failure = nil
            $0.pendingInput = nil
            $0.pendingRemedy = nil
            $0.pendingOperator = nil
            $0.search = nil
        }
        session.cursor = index + 1
        session.updatedAt = now
        return resume(now: now)
    }

    mutating func finish(now: Date) -> EngineAction {
        if session.completedAt == nil { session.completedAt = now }
        return .finished
    }

    mutating func fail(_ index: Int, _ message: String) -> EngineAction {
        update(index) {
            $0.state = .failed
            $0.failure = message
        }
        return .failed(stepID: flow.steps[index].id, message: message)
    }

    func flowRequest(_ index: Int) -> FlowRequest? {
        let requests = flow.steps[index].requests
        let requestIndex = session.steps[index].requestIndex
        return requests.indices.contains(requestIndex) ? requests[requestIndex] : nil
    }

    func currentWait(_ index: Int) -> WaitSpec? { flowRequest(index)?.wait }

    mutating func update(_ index: Int, _ change: (inout StepRecord) -> Void) {
        change(&session.steps[index])
    }

    mutating func event(_ index: Int, _ kind: SessionEvent.Kind, _ quirk: String?, _ text: String, _ now: Date) {
        session.events.append(SessionEvent(at: now, stepID: flow.steps[index].id, kind: kind, quirkID: quirk, text: text))
        session.updatedAt = now
    }

    // MARK: Inputs

    func isSettled(_ input: FlowInput) -> Bool {
        input.secret ? secrets[input.name] != nil : session.inputs[input.name] != nil
    }

    mutating func store(_ input: FlowInput, value: String) {
        if input.secret { secrets[input.name] = value } else { session.inputs[input.name] = value }
    }

    /// Fills an input from the environment, the demo credentials or a generator; returns the
    /// `.needInput` action when only a person can.
    /// Fills an input from what needs no person (environment, demo credentials, generator).
    @discardableResult
    mutating func settleQuietly(_ input: FlowInput) -> Bool {
        if isSettled(input) { return true }
        if let env = input.env, let value = sources.environment[env], !value.isEmpty, Self.check(value, input: input) == nil {
            store(input, value: value)
            return true
        }
        if let credential = input.credential, let value = sources.demoCredentials[credential] {
            store(input, value: value)
            return true
        }
        return false
    }

    mutating func settle(_ input: FlowInput, stepIndex: Int, now: Date) -> EngineAction? {
        if settleQuietly(input) { return nil }
        if let env = input.env, let value = sources.environment[env], !value.isEmpty, let problem = Self.check(value, input: input) {
            update(stepIndex) { $0.inputError = "\(env)=\(input.secret ? "…" : value) is not usable: \(problem)" }
        }
        if let generator = input.generate {
            let id = makeID()
            store(input, value: generator == .uuid ? id : String(id.replacingOccurrences(of: "-", with: "").suffix(8)))
            return nil
        }
        update(stepIndex) {
            $0.state = .awaitingInput
            $0.pendingInput = input.name
        }
        return .needInput(inputRequest(input, stepIndex: stepIndex))
    }

    func inputRequest(_ input: FlowInput, stepIndex: Int) -> InputRequest {
        InputRequest(
            name: input.name, prompt: input.prompt, secret: input.secret, defaultValue: input.defaultValue.flatMap { render($0) },
            format: input.format, optional: input.optional, error: session.steps[stepIndex].inputError, stepID: flow.steps[stepIndex].id,
            env: input.env
        )
    }

    /// Why `value` is not acceptable for `input`, or `nil`.
    static func check(_ value: String, input: FlowInput) -> String? {
        if value.isEmpty { return input.optional ? nil : "\(input.name) is required" }
        switch input.format {
        case .text: return nil
        case .uuid: return UUID(uuidString: value) == nil ? "\(input.name) must be a UUID" : nil
        case .amount:
            guard let cents = Amount.cents(value) else { return "\(input.name) must be an amount such as 100.00 (at most two decimals)" }
            return cents > 0 ? nil : "\(input.name) must be more than zero"
        }
    }

    // MARK: Rendering

    /// Fills references in a text (an explanation) as far as they are known.
    public func renderedText(_ text: String) -> String { render(text) ?? text }

    /// Fills references in a text; `nil` when one has no value.
    func render(_ text: String) -> String? {
        guard let template = try? Template(parsing: text) else { return text }
        return template.render { value(of: $0) }
    }

    /// Renders a flow request. Secret references stay as `{{ name }}` for the client to fill.
    mutating func render(
        _ request: FlowRequest, stepIndex: Int, now: Date, overrides: [String: String] = [:]
    ) -> Result<RenderedRequest, ActionBox> {
        let secretNames = self.secretNames
        var references = request.path.references
        if let body = request.body { references += (try? body.templateReferences()) ?? [] }
        for name in references where overrides[name] == nil && value(of: name) == nil {
            if let input = flow.input(name) {
                if input.optional, session.inputs[name] == "" { continue }
                if let action = settle(input, stepIndex: stepIndex, now: now) { return .failure(ActionBox(action)) }
                continue
            }
            if secretNames.contains(name) { continue }
            return .failure(
                ActionBox(
                    fail(stepIndex, "'\(request.id)' needs {{ \(name) }}, which no earlier step captured. Run the steps before it first.")
                )
            )
        }
        let lookup: (String) -> String? = { name in
            if let override = overrides[name] { return override }
            if secretNames.contains(name) { return "{{ \(name) }}" }
            return self.value(of: name) ?? ""
        }
        let path = request.path.render(lookup) ?? request.path.source
        var body: JSONValue?
        if let template = request.body {
            body = Self.renderJSON(
                template, lookup: lookup, raw: { overrides[$0] == nil && !secretNames.contains($0) ? self.session.captures[$0] : nil })
        }
        var key: String?
        if request.idempotency {
            let keyName = "\(flow.steps[stepIndex].id)/\(request.id)"
            if let existing = session.idempotencyKeys[keyName] {
                key = existing
            } else {
                key = makeID()
                session.idempotencyKeys[keyName] = key
            }
        }
        return .success(
            RenderedRequest(
                stepID: flow.steps[stepIndex].id, requestID: request.id, label: request.label.flatMap { render($0) },
                method: request.method,
                path: path, auth: request.auth, idempotencyKey: key, body: body, repeatable: request.repeatable
            )
        )
    }

    /// A `.failure` wrapper (an enum with associated values cannot be an `Error` directly).
    public struct ActionBox: Error, Sendable {
        public var action: EngineAction
        init(_ action: EngineAction) { self.action = action }
    }

    /// Renders templates in a JSON value. A string that is one reference to a captured JSON
    /// value takes that value as is (a number stays a number).
    static func renderJSON(_ value: JSONValue, lookup: (String) -> String?, raw: (String) -> JSONValue?) -> JSONValue {
        switch value {
        case .string(let text):
            guard let template = try? Template(parsing: text) else { return value }
            if let name = template.soleReference, let json = raw(name) { return json }
            return .string(template.render(lookup) ?? text)
        case .array(let items): return .array(items.map { renderJSON($0, lookup: lookup, raw: raw) })
        case .object(let object):
            return .object(JSONObject(object.entries.map { ($0.key, renderJSON($0.value, lookup: lookup, raw: raw)) }))
        default: return value
        }
    }

    // MARK: Responses

    /// Decides what a response means for `request`: success (captures), a quirk, a poll, or a failure.
    mutating func evaluate(
        _ response: ResponseSummary, for request: FlowRequest, stepIndex index: Int, now: Date,
        onSuccess: (inout WalkthroughEngine) -> EngineAction
    ) -> EngineAction {
        let statusOK = request.expect.contains(response.status)
        let record = session.steps[index]
        var isWaitingRequest = false
        if case .flow = record.active?.origin, request.wait != nil { isWaitingRequest = true }

        if statusOK, isWaitingRequest, let wait = request.wait, matches(wait.until, response) {
            if let action = applyCaptures(request, response, stepIndex: index) { return action }
            noteQuirks(request, response, stepIndex: index, now: now)
            return onSuccess(&self)
        }
        for rule in request.quirks where rule.effect == .block && !record.suppressedQuirks.contains(rule.id) && matches(rule.when, response)
        {
            if statusOK { _ = applyCaptures(request, response, stepIndex: index, lenient: true) }
            noteQuirks(request, response, stepIndex: index, now: now)
            return block(on: rule, request: request, stepIndex: index, now: now)
        }
        guard statusOK else {
            noteQuirks(request, response, stepIndex: index, now: now)
            return fail(index, Self.failureMessage(response, expected: request.expect))
        }
        if isWaitingRequest, let wait = request.wait {
            _ = applyCaptures(request, response, stepIndex: index, lenient: true)
            noteQuirks(request, response, stepIndex: index, now: now)
            let started = record.waitStartedAt ?? now
            let attempt = record.waitAttempt
            let interval = min(wait.maxInterval, wait.interval * pow(wait.backoff, Double(attempt)))
            let timeout = waitTimeoutOverride ?? wait.timeout
            if now.timeIntervalSince(started) + interval > timeout {
                return blockOnTimeout(wait, request: request, stepIndex: index, waited: now.timeIntervalSince(started), now: now)
            }
            update(index) {
                $0.state = .waiting
                $0.waitStartedAt = started
                $0.waitAttempt = attempt + 1
            }
            return .poll(after: interval, record.active!.request)
        }
        if let action = applyCaptures(request, response, stepIndex: index) { return action }
        noteQuirks(request, response, stepIndex: index, now: now)
        return onSuccess(&self)
    }

    static func failureMessage(_ response: ResponseSummary, expected: [Int]) -> String {
        let wanted = expected.map(String.init).joined(separator: " or ")
        if let json = response.json {
            let code = json["code"]?.stringValue.map { " (\($0))" } ?? ""
            let message = json["message"]?.stringValue ?? json.text()
            return "HTTP \(response.status)\(code), expected \(wanted): \(message)"
        }
        let snippet = response.text.prefix(200).replacingOccurrences(of: "\n", with: " ")
        return "HTTP \(response.status), expected \(wanted). The body is not JSON (an error page from a gateway?): \(snippet)"
    }

    /// Applies captures; a missing one fails the step (unless `lenient`).
    mutating func applyCaptures(_ request: FlowRequest, _ response: ResponseSummary, stepIndex: Int, lenient: Bool = false) -> EngineAction?
    {
        for capture in request.captures {
            let found = response.json.flatMap { json in capture.paths.lazy.compactMap { $0.resolve(in: json) }.first }
            guard let found, found != .null || lenient else {
                if lenient { continue }
                let paths = capture.paths.map(\.description).joined(separator: " or ")
                return fail(stepIndex, "The response has no \(paths) to capture as \(capture.name)")
            }
            if capture.secret {
                secrets[capture.name] = Self.text(of: found)
            } else {
                session.captures[capture.name] = found
            }
            if capture.role == .pinnedVersion { session.pinnedVersion = Self.text(of: found) }
        }
        return nil
    }

    mutating func noteQuirks(_ request: FlowRequest, _ response: ResponseSummary, stepIndex index: Int, now: Date) {
        for rule in request.quirks where rule.effect == .note && matches(rule.when, response) {
            guard !session.steps[index].notedQuirks.contains(rule.id) else { continue }
            update(index) { $0.notedQuirks.append(rule.id) }
            event(index, .note, rule.id, render(rule.explain) ?? rule.explain, now)
        }
    }

    mutating func block(on rule: QuirkRule, request: FlowRequest, stepIndex index: Int, now: Date) -> EngineAction {
        let blocked = BlockedQuirk(
            quirkID: rule.id, requestID: request.id, explanation: render(rule.explain) ?? rule.explain,
            remedies: options(for: rule, stepIndex: index), isTimeout: false
        )
        update(index) {
            $0.state = .blocked
            $0.blocked = blocked
        }
        event(index, .quirk, rule.id, blocked.explanation, now)
        return .blocked(blocked)
    }

    /// A wait that ran out of time: keep waiting, or stop (only a person can go on).
    mutating func blockOnTimeout(_ wait: WaitSpec, request: FlowRequest, stepIndex index: Int, waited: Double, now: Date) -> EngineAction {
        let quirk = wait.quirk ?? "Q-WAIT-TIMEOUT"
        let blocked = BlockedQuirk(
            quirkID: quirk, requestID: request.id,
            explanation: "Waited \(Int(waited)) s and '\(request.id)' still does not satisfy its wait. "
                + (wait.explain.flatMap { render($0) } ?? ""),
            remedies: [
                RemedyOption(label: "Keep waiting", available: true, recommended: false, unavailableReason: nil),
                RemedyOption(label: "Stop here and resume later", available: true, recommended: true, unavailableReason: nil),
            ],
            isTimeout: true
        )
        update(index) {
            $0.state = .blocked
            $0.blocked = blocked
        }
        event(index, .quirk, quirk, blocked.explanation, now)
        return .blocked(blocked)
    }

    mutating func chooseTimeoutRemedy(_ remedyIndex: Int, blocked: BlockedQuirk, stepIndex index: Int, now: Date) -> EngineAction {
        if remedyIndex == 0, let active = session.steps[index].active {
            update(index) {
                $0.state = .waiting
                $0.blocked = nil
                $0.waitStartedAt = now
                $0.waitAttempt = 0
            }
            return .send(active.request)
        }
        return .stopped(advice: "\(blocked.explanation) Run the same command again later to resume.")
    }

    /// The remedies of `rule` as offered now: operator actions need an emulator; a remedy taken
    /// too often is withdrawn; the first available one is recommended.
    func options(for rule: QuirkRule, stepIndex index: Int) -> [RemedyOption] {
        var options: [RemedyOption] = []
        for (position, remedy) in rule.remedies.enumerated() {
            var available = true
            var reason: String?
            if case .operatorAction = remedy.kind, !session.target.isEmulator {
                available = false
                reason = "only on this project's emulator"
            }
            if case .stop = remedy.kind {
            } else if session.steps[index].remedyUses["\(rule.id)#\(position)", default: 0] >= Self.remedyLimit {
                available = false
                reason = "already tried \(Self.remedyLimit) times"
            }
            options.append(
                RemedyOption(
                    label: render(remedy.label) ?? remedy.label, available: available, recommended: false, unavailableReason: reason)
            )
        }
        if let first = options.firstIndex(where: \.available) { options[first].recommended = true }
        return options
    }

    func refreshed(_ blocked: BlockedQuirk, stepIndex index: Int) -> BlockedQuirk {
        guard !blocked.isTimeout, let rule = rule(blocked.quirkID, stepIndex: index) else { return blocked }
        var copy = blocked
        copy.remedies = options(for: rule, stepIndex: index)
        return copy
    }

    func rule(_ quirkID: String, stepIndex index: Int) -> QuirkRule? {
        guard let blockedRequest = session.steps[index].blocked?.requestID ?? session.steps[index].active?.request.requestID else {
            return nil
        }
        for request in flow.steps[index].requestsIncludingRemedies where request.id == blockedRequest {
            if let rule = request.quirks.first(where: { $0.id == quirkID }) { return rule }
        }
        return flow.steps[index].requestsIncludingRemedies.lazy.flatMap(\.quirks).first { $0.id == quirkID }
    }

    func remedy(_ quirkID: String, _ remedyIndex: Int, stepIndex index: Int) -> (QuirkRule, Remedy)? {
        for request in flow.steps[index].requestsIncludingRemedies {
            if let rule = request.quirks.first(where: { $0.id == quirkID }), rule.remedies.indices.contains(remedyIndex) {
                return (rule, rule.remedies[remedyIndex])
            }
        }
        return nil
    }

    // MARK: Remedies

    mutating func sendRemedyRequest(_ request: FlowRequest, origin: ActiveRequest.Origin, stepIndex index: Int, now: Date) -> EngineAction {
        switch render(request, stepIndex: index, now: now) {
        case .failure(let box): return box.action
        case .success(let rendered):
            update(index) {
                $0.active = ActiveRequest(origin: origin, request: rendered)
                $0.state = .sending
                $0.blocked = nil
            }
            return .send(rendered)
        }
    }

    mutating func afterPrompt(_ index: Int, _ pending: PendingRemedy, now: Date) -> EngineAction {
        guard let (_, remedy) = remedy(pending.quirk, pending.remedy, stepIndex: index) else { return resume(now: now) }
        if case .prompt(_, let validation?) = remedy.kind {
            return sendRemedyRequest(
                validation, origin: .validation(quirk: pending.quirk, remedy: pending.remedy), stepIndex: index, now: now)
        }
        return continueAfter(remedy, stepIndex: index, now: now)
    }

    /// Where the flow goes once a remedy worked.
    mutating func continueAfter(_ remedy: Remedy, stepIndex index: Int, now: Date) -> EngineAction {
        update(index) {
            $0.blocked = nil
            $0.search = nil
        }
        switch remedy.then {
        case .next:
            return advance(index, now: now)
        case .retry:
            guard let request = flowRequest(index) else { return advance(index, now: now) }
            switch render(request, stepIndex: index, now: now) {
            case .failure(let box): return box.action
            case .success(let rendered):
                let waits = request.wait != nil
                update(index) {
                    $0.active = ActiveRequest(origin: .flow, request: rendered)
                    $0.state = waits ? .waiting : .sending
                    if waits {
                        $0.waitStartedAt = now
                        $0.waitAttempt = 0
                    }
                }
                return .send(rendered)
            }
        }
    }

    mutating func sendProbe(stepIndex index: Int, quirk: String, remedyIndex: Int, now: Date) -> EngineAction {
        guard let search = session.steps[index].search, let request = flowRequest(index) else {
            return fail(index, "No search in progress")
        }
        switch render(request, stepIndex: index, now: now, overrides: [search.input: Amount.format(search.probeCents)]) {
        case .failure(let box): return box.action
        case .success(var rendered):
            rendered.label = "Search probe \(search.calls + 1) of at most \(search.maxCalls): \(Amount.format(search.probeCents))"
            update(index) {
                $0.active = ActiveRequest(origin: .probe(quirk: quirk, remedy: remedyIndex), request: rendered)
                $0.state = .sending
                $0.blocked = nil
            }
            return .send(rendered)
        }
    }

    /// One bisection step: the probe passed (2xx) or failed on the same quirk.
    mutating func probed(_ response: ResponseSummary, quirk: String, remedyIndex: Int, stepIndex index: Int, now: Date) -> EngineAction {
        guard var search = session.steps[index].search, let request = flowRequest(index),
            let rule = request.quirks.first(where: { $0.id == quirk }), let (_, remedy) = remedy(quirk, remedyIndex, stepIndex: index)
        else { return fail(index, "No search in progress") }
        search.calls += 1
        if request.expect.contains(response.status) {
            search.passingCents = search.probeCents
        } else if matches(rule.when, response) {
            search.failingCents = search.probeCents
        } else {
            return fail(index, "The search stopped on an unexpected answer: " + Self.failureMessage(response, expected: request.expect))
        }
        if let passing = search.passingCents {
            if passing - search.failingCents <= 1 || search.calls >= search.maxCalls {
                session.inputs[search.input] = Amount.format(passing)
                let precision =
                    passing - search.failingCents <= 1 ? "to the cent" : "within \(Amount.format(passing - search.failingCents))"
                event(
                    index, .search, quirk,
                    "The smallest amount the preview accepts is \(Amount.format(passing)) (\(precision), \(search.calls) preview calls); \(search.input) is now \(Amount.format(passing)).",
                    now
                )
                update(index) { $0.search = nil }
                return continueAfter(remedy, stepIndex: index, now: now)
            }
            search.probeCents = (search.failingCents + passing) / 2
        } else {
            guard search.calls < search.maxCalls else {
                update(index) { $0.search = nil }
                return fail(index, "Every probe up to \(Amount.format(search.probeCents)) was refused: the minimum is higher than that.")
            }
            search.probeCents = search.failingCents + search.spanCents
        }
        update(index) { $0.search = search }
        return sendProbe(stepIndex: index, quirk: quirk, remedyIndex: remedyIndex, now: now)
    }

    // MARK: Conditions

    /// Whether a response satisfies a condition (text compared case-insensitively by default).
    public func matches(_ condition: ResponseCondition, _ response: ResponseSummary) -> Bool {
        if let statuses = condition.status, !statuses.contains(response.status) { return false }
        func same(_ a: String, _ b: String) -> Bool { condition.caseSensitive ? a == b : a.lowercased() == b.lowercased() }
        if let code = condition.code {
            guard let actual = response.json?["code"]?.stringValue, same(actual, code) else { return false }
        }
        if let fragment = condition.messageContains {
            let message = response.json?["message"]?.stringValue ?? response.text
            let haystack = condition.caseSensitive ? message : message.lowercased()
            guard haystack.contains(condition.caseSensitive ? fragment : fragment.lowercased()) else { return false }
        }
        if let path = condition.field {
            let actual = response.json.flatMap { path.resolve(in: $0) } ?? .null
            func equal(_ expected: JSONValue) -> Bool {
                if case .string(let text) = expected {
                    guard actual != .null else { return false }
                    return same(Self.text(of: actual), render(text) ?? text)
                }
                return actual == expected
            }
            if let values = condition.equals, !values.contains(where: equal) { return false }
            if let values = condition.notIn, values.contains(where: equal) { return false }
        }
        return true
    }
}
