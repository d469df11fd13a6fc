import DurableFiles
import Foundation
import KiraClient
import KiraJSON
import SessionStore
import WalkthroughCore
import WalkthroughPresentation
import WebhookInbox

/// The target a run talks to, once resolved.
public struct ResolvedTarget: Sendable {
    public var kind: String
    public var baseURL: String
    public var isEmulator: Bool

    public init(kind: String, baseURL: String, isEmulator: Bool) {
        self.kind = kind
        self.baseURL = baseURL
        self.isEmulator = isEmulator
    }
}

/// One run of a walkthrough: the engine, the client, the session store and a presenter.
///
/// The session is saved after every transition, before any request leaves.
public struct WalkthroughRun: Sendable {
    public var flow: Flow
    public var store: SessionStore
    public var sessionName: String
    public var target: ResolvedTarget
    public var sources: InputSources
    public var presenter: any WalkthroughPresenter
    /// Overrides every wait's timeout (seconds).
    public var waitTimeout: Double?
    public var clientConfiguration: KiraClientConfiguration
    public var adminToken: String?
    /// Where to listen for webhooks (`--webhook-listen HOST:PORT`), if at all.
    public var webhookListen: (host: String, port: Int)?
    /// The tour to apply (`run --tour`), if any: its inputs win over the environment's, and its
    /// setups and body changes happen at their requests, once per session.
    public var scenario: Scenario?
    /// Where the tour's setups happen; by default the target's emulator controls.
    public var stage: (any ScenarioStage)?
    /// Whether the emulator's clock moves with the walkthrough's waits: each wait between polls
    /// moves it on by the time waited (through `stage`). For an emulator whose clock stands
    /// still otherwise (the tour's): what it does in time then depends on the waits the learner
    /// sees, never on how fast the machine is.
    public var clockFollowsWaits = false

    /// Where the tour's setups and the clock's moves happen: `stage`, else the target's controls.
    var emulatorStage: any ScenarioStage {
        stage ?? EmulatorStage(baseURL: target.baseURL, adminToken: adminToken)
    }

    public init(
        flow: Flow, store: SessionStore, sessionName: String, target: ResolvedTarget, sources: InputSources,
        presenter: any WalkthroughPresenter, waitTimeout: Double? = nil,
        clientConfiguration: KiraClientConfiguration = KiraClientConfiguration(),
        adminToken: String? = nil
    ) {
        self.flow = flow
        self.store = store
        self.sessionName = sessionName
        self.target = target
        self.sources = sources
        self.presenter = presenter
        self.waitTimeout = waitTimeout
        self.clientConfiguration = clientConfiguration
        self.adminToken = adminToken
    }

    /// Runs until the walkthrough is complete, blocked, failed or stopped.
    public func run() async -> RunOutcome {
        let lock: FileLock
        do {
            lock = try store.lock(sessionName)
        } catch {
            return .failed("\(error)")
        }
        defer { lock.release() }
        let sessionTarget = SessionTarget(kind: target.kind, baseURL: target.baseURL, isEmulator: target.isEmulator)
        var sources = self.sources
        // The tour's values win over the environment's, in this run and when it resumes.
        for name in (scenario?.inputs ?? [:]).keys {
            if let variable = flow.input(name)?.env { sources.environment[variable] = nil }
        }
        var session: Session
        do {
            if let existing = try store.load(sessionName) {
                guard existing.flowID == flow.id, existing.steps.map(\.id) == flow.steps.map(\.id) else {
                    return .failed(
                        "Session '\(sessionName)' belongs to flow '\(existing.flowID)', not '\(flow.id)'. Use another --session NAME or reset it."
                    )
                }
                session = existing
                session.target = sessionTarget
            } else {
                session = Session(name: sessionName, flow: flow, target: sessionTarget, now: Date())
                for (name, value) in scenario?.inputs ?? [:] { session.inputs[name] = value }
            }
            try store.save(session)
        } catch {
            return .failed("\(error)")
        }
        var driver = Driver(run: self, engine: WalkthroughEngine(flow: flow, session: session, sources: sources))
        driver.engine.waitTimeoutOverride = waitTimeout
        if let listen = webhookListen {
            let presenter = self.presenter
            let inbox = WebhookInbox { record in await presenter.webhookReceived(record) }
            do {
                driver.webhookURL = try await inbox.start(host: listen.host, port: listen.port)
                driver.inbox = inbox
            } catch {
                return .failed("Cannot listen for webhooks on \(listen.host):\(listen.port): \(error)")
            }
        }
        if let scenario, !session.isComplete {
            await presenter.notice("Tour: \(scenario.title). \(scenario.explain)")
        }
        let outcome = await driver.loop()
        // Webhooks that arrived after the last transition (payout.created) are kept too.
        if driver.inbox != nil {
            await driver.collectWebhooks()
            try? driver.save()
        }
        await driver.inbox?.stop()
        await driver.client?.shutdown()
        return outcome
    }
}

/// The loop that feeds the engine's actions to IO and the results back as events.
struct Driver {
    let run: WalkthroughRun
    var engine: WalkthroughEngine
    var client: KiraAPIClient?
    var shownEvents = 0
    var shownStep = -1
    /// The request last shown, so polls are not shown again and again.
    var lastPreviewed: RenderedRequest?
    var inbox: WebhookInbox?
    var webhookURL: String?
    var webhookRegistered = false
    var recordedWebhooks = 0
    var reportedViolations = 0
    /// The captured bearer token last handed to the client.
    var handedToken: String?
    /// How each step stood when the run began: a step that had started before is "resumed".
    let initialStates: [StepState]

    init(run: WalkthroughRun, engine: WalkthroughEngine) {
        self.run = run
        self.engine = engine
        shownEvents = engine.session.events.count
        initialStates = engine.session.steps.map(\.state)
        // Steps finished in earlier runs are not announced again.
        shownStep = (engine.session.steps.firstIndex { !$0.state.isFinal } ?? engine.session.steps.count) - 1
    }

    var presenter: any WalkthroughPresenter { run.presenter }

    mutating func save() throws {
        try run.store.save(engine.session)
    }

    mutating func loop() async -> RunOutcome {
        if engine.session.exchanges.count > 0, !engine.session.isComplete {
            await presenter.notice("Resuming session '\(run.sessionName)' where it stopped.")
        }
        var action = engine.start(now: Date())
        while true {
            do {
                try save()
            } catch {
                return .failed("Cannot save the session: \(error)")
            }
            await collectWebhooks()
            // A phase change outside the transition table is an engine bug: never silent.
            while reportedViolations < engine.violations.count {
                await presenter.notice(
                    "Engine: a phase change the transition table does not allow: \(engine.violations[reportedViolations])")
                reportedViolations += 1
            }
            // The steps' states first, so a resumed run never shows its current step beside
            // finished steps still drawn as pending.
            await presenter.sessionChanged(engine.session, tokenExpiresAt: await client?.tokenExpiresAt)
            await showProgress()
            switch action {
            case .finished:
                return .completed
            case .rejected(let rejected, let next):
                // An event the current phase does not accept changed nothing; say so, and go on
                // with what the phase needs.
                await presenter.notice("Engine: \(rejected)")
                action = next
                continue
            case .stopped(let advice):
                return .blocked(advice)
            case .needInput(let request):
                guard let value = await presenter.ask(request) else { return .quit }
                action = engine.provide(input: request.name, value: value, now: Date())
            case .confirm(let request):
                // A tour arranges its moment before the request is shown: setups, then the body.
                if let failure = await arrangeSetups(before: request) { return .failed(failure) }
                if let moment = run.scenario?.moment(stepID: request.stepID, requestID: request.requestID), moment.body != nil,
                    !engine.scenarioDone(moment.bodyMark)
                {
                    action = engine.changeReadyBody(for: moment, now: Date())
                    continue
                }
                await preview(request)
                switch await presenter.sendDecision() {
                case .send: action = engine.confirm(now: Date())
                case .edit(let body): action = engine.replaceBody(body, now: Date())
                case .quit: return .quit
                }
            case .send(let request):
                // Write-ahead: the session saved at the top of the loop already holds the sending state
                // and the idempotency key.
                if let failure = await arrangeSetups(before: request) { return .failed(failure) }
                if request != lastPreviewed { await preview(request) }
                action = await send(request)
            case .askResend(let request):
                await preview(request)
                guard let again = await presenter.askResend(request) else { return .quit }
                action = engine.resend(again, now: Date())
            case .poll(let seconds, _):
                let index = engine.session.cursor
                let wait = engine.flow.steps[index].requests[safe: engine.session.steps[index].requestIndex]?.wait
                let waited = await presenter.wait(
                    seconds: seconds, attempt: engine.session.steps[index].waitAttempt, quirk: wait?.quirk, explain: wait?.explain
                )
                switch waited {
                case .elapsed:
                    if run.clockFollowsWaits {
                        if let error = await run.emulatorStage.advanceClock(by: seconds) {
                            return .failed("Could not move the emulator's clock after a wait: \(error)")
                        }
                    }
                    action = engine.pollDue(now: Date())
                case .cancelled: action = engine.cancelWait(now: Date())
                case .quit: return .quit
                }
            case .blocked(let blocked):
                guard let choice = await presenter.choose(blocked) else { return .quit }
                action = engine.choose(remedy: choice, now: Date())
            case .awaitWebhook(let expectation):
                action = await awaitWebhook(expectation)
            case .performOperator(let request):
                await presenter.operatorAction(request)
                let error = await EmulatorControls.perform(request, baseURL: run.target.baseURL, adminToken: run.adminToken)
                action = engine.operatorFinished(error: error, now: Date())
            case .failed(let stepID, let message):
                switch await presenter.failed(stepID: stepID, message: message) {
                case .retry: action = engine.retry(now: Date())
                case .skip: action = engine.skip(now: Date())
                case .quit: return .failed(message)
                }
            }
        }
    }

    /// The tour's setups at `request`, once per session, before it is first shown or sent: the
    /// emulator's clock, operator actions, faults, and requests to the API (recorded like the
    /// flow's). Returns why one failed, which ends the run.
    mutating func arrangeSetups(before request: RenderedRequest) async -> String? {
        guard let moment = run.scenario?.moment(stepID: request.stepID, requestID: request.requestID), !moment.setup.isEmpty,
            !engine.scenarioDone(moment.setupMark)
        else { return nil }
        let stage = run.emulatorStage
        let place = "The tour's setup before \(request.stepID)/\(request.requestID)"
        for setup in moment.setup {
            switch setup {
            case .clock(let seconds):
                if let error = await stage.advanceClock(by: seconds) { return "\(place) could not move the emulator's clock: \(error)" }
            case .fault(let fault):
                if let error = await stage.injectFault(fault) { return "\(place) could not add a fault: \(error)" }
            case .operatorAction(let action):
                guard let operatorRequest = engine.renderOperator(action, label: "Tour: \(action.verb.rawValue)") else {
                    return "\(place) needs {{ … }} values no earlier step captured (\(action.id))"
                }
                if let error = await stage.perform(operatorRequest) { return "\(place) failed (\(action.verb.rawValue)): \(error)" }
            case .request(let flowRequest):
                guard let rendered = engine.renderSetup(flowRequest, stepID: request.stepID) else {
                    return "\(place) needs values no earlier step captured (request \(flowRequest.id))"
                }
                if let problem = ensureClient() { return "\(place): \(problem)" }
                await syncClient()
                guard let client else { return "\(place): no client" }
                let secrets = engine.secrets
                let outcome = await client.send(rendered) { secrets[$0] }
                for var exchange in outcome.exchanges {
                    exchange.sequence = engine.nextExchangeSequence
                    engine.record(exchange)
                    await presenter.exchange(exchange)
                }
                for reason in outcome.renewals { engine.noteTokenRenewal(reason, now: Date()) }
                switch outcome.result {
                case .failure(let message): return "\(place) (request \(flowRequest.id)) failed: \(message)"
                case .response(let response) where !flowRequest.expect.contains(response.status):
                    let said = response.json?["message"]?.stringValue ?? response.text.prefix(200).description
                    return "\(place) (request \(flowRequest.id)) answered HTTP \(response.status): \(said)"
                case .response: break
                }
            }
        }
        engine.markScenario(moment.setupMark, say: moment.say, stepID: moment.stepID, now: Date())
        do { try save() } catch { return "Cannot save the session: \(error)" }
        await showProgress()
        return nil
    }

    /// Shows a step header when the cursor moved, and events not shown yet.
    mutating func showProgress() async {
        // Every step the cursor passed, even one that finished within a single event (the
        // credentials step, settled from the environment).
        let last = min(engine.session.cursor, engine.flow.steps.count - 1)
        while shownStep < last {
            // A step's own events (a note its last response raised) print under it, before the
            // next step's header.
            await showEvents(throughStep: shownStep)
            shownStep += 1
            let initial = initialStates[shownStep]
            var step = engine.flow.steps[shownStep]
            step.explain = engine.renderedText(step.explain)
            await presenter.stepStarted(
                index: shownStep, of: engine.flow.steps.count, step: step,
                state: initial == .pending || initial.isFinal ? .pending : initial
            )
            if shownStep < engine.session.cursor {
                await presenter.stepFinished(index: shownStep, state: engine.session.steps[shownStep].state)
            }
        }
        await showEvents(throughStep: nil)
    }

    /// Shows the events not shown yet, in order, stopping before the first one of a step after
    /// `throughStep` (all of them when `nil`).
    mutating func showEvents(throughStep limit: Int?) async {
        let events = engine.session.events
        var end = shownEvents
        while end < events.count {
            if let limit, let index = engine.flow.steps.firstIndex(where: { $0.id == events[end].stepID }), index > limit { break }
            end += 1
        }
        if end > shownEvents {
            await presenter.events(Array(events[shownEvents..<end]))
            shownEvents = end
        }
    }

    mutating func ensureClient() -> String? {
        if client != nil { return nil }
        guard let apiKey = engine.credential(.apiKey), let clientID = engine.credential(.clientID),
            let password = engine.credential(.password)
        else { return "The credentials (api_key, client_id, password) are not known yet" }
        do {
            client = try KiraAPIClient(
                baseURL: run.target.baseURL, apiVersion: engine.flow.apiVersion, apiKey: apiKey, clientID: clientID, password: password,
                configuration: run.clientConfiguration, embeddedFiles: engine.flow.embeddedDataURLs
            )
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Moves webhooks the listener received into the session.
    mutating func collectWebhooks() async {
        guard let inbox else { return }
        for record in await inbox.events(after: recordedWebhooks) {
            engine.record(webhook: record)
            recordedWebhooks += 1
        }
    }

    /// Waits (bounded) for the awaited webhook; the wait is optional, so the step goes on anyway.
    mutating func awaitWebhook(_ expectation: WebhookExpectation) async -> EngineAction {
        guard inbox != nil, webhookRegistered else {
            return engine.webhookArrived(nil, listening: false, now: Date())
        }
        await presenter.notice("Waiting up to \(Int(expectation.timeout)) s for the \(expectation.event) webhook…")
        let deadline = Date().addingTimeInterval(expectation.timeout)
        while Date() < deadline {
            await collectWebhooks()
            if let match = engine.session.webhooks.first(where: expectation.matches) {
                return engine.webhookArrived(match, listening: true, now: Date())
            }
            try? await Task.sleep(for: .milliseconds(100))
            if Task.isCancelled { break }
        }
        return engine.webhookArrived(nil, listening: true, now: Date())
    }

    /// Registers the listener once a client exists, as the flow's API description says
    /// (`webhooks.register`): by itself on this project's emulator; on another target only a public
    /// URL can receive webhooks, so it explains and registers the URL given in the description's
    /// `public_url_env` variable, if any. An API without a registration leaves the listener as it is.
    mutating func registerWebhookIfNeeded() async {
        guard let inbox, let client, !webhookRegistered, let localURL = webhookURL else { return }
        guard let registration = engine.flow.api.webhookRegistration else {
            webhookRegistered = true
            return
        }
        func notice(_ text: String, url: String) async {
            await presenter.notice(
                WebhookRegistration.notice(
                    text, webhookURL: url, listenerURL: localURL, publicURLEnvironment: registration.publicURLEnvironment))
        }
        var url = localURL
        if !run.target.isEmulator {
            guard let variable = registration.publicURLEnvironment, let publicURL = run.sources.environment[variable], !publicURL.isEmpty
            else {
                await notice(registration.notices.needsPublicURL, url: localURL)
                webhookRegistered = true
                return
            }
            url = publicURL
        }
        let secret = await inbox.secret
        let engine = self.engine
        let secretNames = engine.secretNames
        // What is not secret goes into the recorded body as is; secrets stay references the client
        // fills when it sends, so they are never recorded.
        let known: (String) -> String? = { name in
            if name == "webhook_url" { return url }
            if name == "webhook_secret" || secretNames.contains(name) || Credential(rawValue: name) != nil { return nil }
            return engine.value(of: name)
        }
        let secretValue: @Sendable (String) -> String? = { name in
            if name == "webhook_secret" { return secret }
            if let credential = Credential(rawValue: name), let value = engine.credential(credential) { return value }
            return engine.value(of: name)
        }
        let request = RenderedRequest(
            stepID: engine.flow.steps[min(engine.session.cursor, engine.flow.steps.count - 1)].id, requestID: "register_webhook",
            label: registration.label, method: registration.method, path: registration.path, auth: registration.auth, idempotencyKey: nil,
            body: registration.renderedBody(known), repeatable: true
        )
        let outcome = await client.send(request, secret: secretValue)
        for var exchange in outcome.exchanges {
            exchange.sequence = self.engine.nextExchangeSequence
            exchange.requestBody = exchange.requestBody.map { Redactor(values: [secret]).redact($0) }
            self.engine.record(exchange)
            await presenter.exchange(exchange)
        }
        webhookRegistered = true
        if case .response(let response) = outcome.result, registration.expect.contains(response.status) {
            await notice(registration.notices.registered, url: url)
        } else {
            await notice(registration.notices.failed, url: url)
        }
    }

    /// Whether `request` is the one that obtains the bearer token (a capture with the
    /// `bearer_token` role): the webhook registration waits until it has.
    func obtainsBearerToken(_ request: RenderedRequest) -> Bool {
        guard let step = engine.flow.steps.first(where: { $0.id == request.stepID }) else { return false }
        return step.requestsIncludingRemedies.contains { $0.id == request.requestID && $0.captures.contains { $0.role == .bearerToken } }
    }

    /// Hands the client what the engine learnt: a token the flow captured (only a new one: the
    /// client's own renewal since then must not be replaced by the older captured token, or every
    /// later call would meet a 401 first) and the pinned version.
    mutating func syncClient() async {
        guard let client else { return }
        if let bearer = engine.bearerToken, bearer.token != handedToken {
            await client.setToken(bearer.token, lifetime: bearer.lifetime)
            handedToken = bearer.token
            // The token's lifetime shows from now on, not from the next transition: the request
            // about to be shown already carries it.
            await presenter.sessionChanged(engine.session, tokenExpiresAt: await client.tokenExpiresAt)
        }
        await client.setPinnedVersion(engine.session.pinnedVersion)
    }

    mutating func preview(_ request: RenderedRequest) async {
        lastPreviewed = request
        if let problem = ensureClient() {
            await presenter.notice(problem)
            return
        }
        await syncClient()
        guard let client else { return }
        let secrets = engine.secrets
        await presenter.requestPreview(await client.preview(request) { secrets[$0] })
    }

    mutating func send(_ request: RenderedRequest) async -> EngineAction {
        if let problem = ensureClient() { return engine.transportFailed(problem, now: Date()) }
        await syncClient()
        if !obtainsBearerToken(request) || engine.bearerToken != nil { await registerWebhookIfNeeded() }
        guard let client else { return engine.transportFailed("No client", now: Date()) }
        let secrets = engine.secrets
        let outcome = await client.send(request) { secrets[$0] }
        for var exchange in outcome.exchanges {
            exchange.sequence = engine.nextExchangeSequence
            engine.record(exchange)
            await presenter.exchange(exchange)
        }
        // A token renewed on the way is a quirk met (the API description names it), not silence.
        for reason in outcome.renewals { engine.noteTokenRenewal(reason, now: Date()) }
        let before = engine.session.captures
        let action: EngineAction
        switch outcome.result {
        case .response(let response): action = engine.received(response, now: Date())
        case .failure(let message): action = engine.transportFailed(message, now: Date())
        }
        var captured: [(String, String)] = []
        for (name, value) in engine.session.captures where before[name] != value {
            captured.append((name, WalkthroughEngine.describe(value)))
        }
        for name in engine.secretNames where engine.secrets[name] != nil && secrets[name] != engine.secrets[name] {
            captured.append((name, "•••• (kept in memory only)"))
        }
        if !captured.isEmpty { await presenter.captured(captured.sorted { $0.0 < $1.0 }) }
        return action
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
