import Foundation
import KiraJSON

/// What a tour (`Scenario`) changes through the engine: its marks in the session, the body change
/// of a ready request, its setup requests and operator actions rendered with the flow's values.
/// The setups themselves are IO, done by the runner.
extension WalkthroughEngine {
    /// Whether the tour already did what `mark` names in this session.
    public func scenarioDone(_ mark: String) -> Bool {
        session.scenarioMarks?.contains(mark) ?? false
    }

    /// Records that the tour did what `mark` names, with what it says (a note of the step
    /// `stepID`, references filled).
    public mutating func markScenario(_ mark: String, say: String?, stepID: String, now: Date) {
        if !scenarioDone(mark) { session.scenarioMarks = (session.scenarioMarks ?? []) + [mark] }
        if let say, let index = flow.steps.firstIndex(where: { $0.id == stepID }) {
            event(index, .note, nil, renderedText(say), now)
        }
    }

    /// Applies the tour's body change to the ready request of the current step, once per
    /// session: the request stays ready (shown for confirmation), its body changed, and the
    /// moment's `say` is recorded.
    public mutating func changeReadyBody(for moment: ScenarioMoment, now: Date) -> EngineAction {
        guard let index = acceptingStep(.replaceBody) else { return reject(.replaceBody, now: now) }
        guard case .ready(var active) = session.steps[index].phase, let change = moment.body,
            active.request.stepID == moment.stepID, active.request.requestID == moment.requestID,
            !scenarioDone(moment.bodyMark)
        else { return resume(now: now) }
        let secretNames = self.secretNames
        let engine = self
        let lookup: (String) -> String? = { name in
            secretNames.contains(name) ? "{{ \(name) }}" : engine.value(of: name) ?? ""
        }
        active.request.body = change.applied(to: active.request.body) { value in
            Self.renderJSON(value, lookup: lookup, raw: { secretNames.contains($0) ? nil : engine.session.captures[$0] })
        }
        enter(index, .ready(active))
        markScenario(moment.bodyMark, say: moment.setup.isEmpty ? moment.say : nil, stepID: moment.stepID, now: now)
        return .confirm(active.request)
    }

    /// A tour's setup request, rendered with the flow's values (secrets left as references for
    /// the client) and a fresh idempotency key when it wants one; `nil` when a value it refers to
    /// is not known yet.
    public func renderSetup(_ request: FlowRequest, stepID: String) -> RenderedRequest? {
        let secretNames = self.secretNames
        var references = request.path.references
        if let body = request.body { references += (try? body.templateReferences()) ?? [] }
        for name in references where !secretNames.contains(name) && value(of: name) == nil { return nil }
        let lookup: (String) -> String? = { name in
            secretNames.contains(name) ? "{{ \(name) }}" : self.value(of: name) ?? ""
        }
        var rendered = RenderedRequest(
            stepID: stepID, requestID: request.id, label: request.label.map { renderedText($0) }, method: request.method,
            path: request.path.render(lookup) ?? request.path.source, auth: request.auth,
            idempotencyKey: request.idempotency ? makeID() : nil,
            body: request.body.map {
                Self.renderJSON($0, lookup: lookup, raw: { secretNames.contains($0) ? nil : self.session.captures[$0] })
            },
            repeatable: request.repeatable
        )
        if !request.headers.isEmpty {
            rendered.headers = request.headers.map { RenderedHeader(name: $0.name, value: $0.value.map { $0.render(lookup) ?? $0.source }) }
        }
        return rendered
    }

    /// A tour's operator action with its id filled; `nil` when the id refers to an unknown value.
    public func renderOperator(_ action: OperatorAction, label: String) -> OperatorRequest? {
        guard let id = render(action.id), !id.isEmpty else { return nil }
        return OperatorRequest(verb: action.verb, id: id, label: label)
    }

    /// Records that the client fetched a new token during the run (`reason`, in the client's
    /// words) as a note of the current step, naming the quirk the API description gives
    /// (`explained_by.token_renewal`), with its summary. Nothing when the description names none.
    public mutating func noteTokenRenewal(_ reason: String, now: Date) {
        guard let quirk = flow.api.ruleQuirks.tokenRenewal, !flow.steps.isEmpty else { return }
        let summary = flow.api.quirk(quirk)?.summary
        let text = "The access token was renewed: \(reason)." + (summary.map { " (\($0))" } ?? "")
        event(min(session.cursor, flow.steps.count - 1), .note, quirk, text, now)
    }
}
