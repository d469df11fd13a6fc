import Foundation
import KiraJSON

/// Stopping on a quirk, offering its remedies, and carrying each one out.
extension WalkthroughEngine {
    mutating func block(on rule: QuirkRule, request: FlowRequest, stepIndex index: Int, now: Date) -> EngineAction {
        let blocked = BlockedQuirk(
            quirkID: rule.id, requestID: request.id, explanation: explanation(of: rule, stepIndex: index),
            remedies: options(for: rule, stepIndex: index), isTimeout: false
        )
        enter(index, .blocked(blocked, active: session.steps[index].active))
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
        enter(index, .blocked(blocked, active: session.steps[index].active))
        event(index, .quirk, quirk, blocked.explanation, now)
        return .blocked(blocked)
    }

    /// Carries out remedy `remedyIndex` of the quirk that blocks step `index`.
    mutating func chooseRemedy(_ remedyIndex: Int, stepIndex index: Int, now: Date) -> EngineAction {
        guard case .blocked(let blocked, let active) = session.steps[index].phase else { return resume(now: now) }
        let offered = refreshed(blocked, stepIndex: index)
        guard offered.remedies.indices.contains(remedyIndex), offered.remedies[remedyIndex].available else {
            return .blocked(offered)
        }
        if blocked.answer != nil {
            return chooseOnUnexpected(remedyIndex, blocked: offered, active: active, stepIndex: index, now: now)
        }
        if blocked.isTimeout {
            guard remedyIndex == 0, let active else {
                return .stopped(advice: "\(blocked.explanation) Run the same command again later to resume.")
            }
            enter(index, .sending(active, wait: WaitProgress(startedAt: now, attempt: 0)))
            return .send(active.request)
        }
        guard let (rule, remedy) = remedy(blocked.quirkID, remedyIndex, stepIndex: index) else {
            return fail(index, "Unknown remedy \(remedyIndex + 1) for \(blocked.quirkID)")
        }
        let useKey = "\(rule.id)#\(remedyIndex)"
        session.steps[index].remedyUses[useKey, default: 0] += 1
        event(index, .remedy, rule.id, "Chose: \(render(remedy.label) ?? remedy.label)", now)
        switch remedy.kind {
        case .request(let request):
            return sendRemedyRequest(request, origin: .remedy(quirk: rule.id, remedy: remedyIndex), stepIndex: index, now: now)
        case .wait:
            if !session.steps[index].suppressedQuirks.contains(rule.id) { session.steps[index].suppressedQuirks.append(rule.id) }
            guard let active else { return prepare(index, now: now) }
            enter(index, .waiting(active, WaitProgress(startedAt: now, attempt: 0)))
            return .poll(after: flowRequest(index)?.wait?.interval ?? 2, active.request)
        case .prompt(let input, _):
            guard let flowInput = flow.input(input) else { return fail(index, "Unknown input \(input)") }
            let asked = session.steps[index].remedyUses[useKey, default: 0] > 1
            let refused = value(of: input)
            session.inputs[input] = nil
            secrets[input] = nil
            // The environment answers the first time (KIRA_USER_ID), unless it holds the value just
            // refused; a second ask goes to the person.
            if !asked, settleQuietly(flowInput), value(of: input) != refused {
                return afterPrompt(index, PendingRemedy(quirk: rule.id, remedy: remedyIndex), now: now)
            }
            session.inputs[input] = nil
            secrets[input] = nil
            enter(index, .awaitingInput(InputAsk(name: input, remedy: PendingRemedy(quirk: rule.id, remedy: remedyIndex))))
            return .needInput(inputRequest(flowInput, stepIndex: index))
        case .search(let input, let span, let maxCalls):
            guard let current = value(of: input).flatMap(Amount.cents) else { return fail(index, "No amount in \(input) to search from") }
            let search = AmountSearch(input: input, refusedCents: current, spanCents: span, maxCalls: maxCalls)
            return sendProbe(search, quirk: rule.id, remedyIndex: remedyIndex, stepIndex: index, now: now)
        case .operatorAction(let action):
            guard let id = render(action.id) else { return fail(index, "The operator action needs a value that is not known yet") }
            enter(index, .operating(PendingRemedy(quirk: rule.id, remedy: remedyIndex), blocked: blocked, active: active))
            event(index, .operator, rule.id, "Operator (standing in for your Kira contact): \(action.verb.rawValue) \(id)", now)
            return .performOperator(OperatorRequest(verb: action.verb, id: id, label: render(remedy.label) ?? remedy.label))
        case .restart(let from):
            guard let target = flow.steps[index].requests.firstIndex(where: { $0.id == from }) else {
                return fail(index, "Unknown request \(from)")
            }
            session.idempotencyKeys["\(flow.steps[index].id)/\(from)"] = nil
            // A new resource, not a replay: values generated for the old one (a unique email) go too.
            let restarted = flow.steps[index].requests[target]
            for name in restarted.path.references + ((try? restarted.body?.templateReferences()) ?? [])
            where flow.input(name)?.generate != nil {
                session.inputs[name] = nil
            }
            session.steps[index].requestIndex = target
            session.steps[index].suppressedQuirks = []
            enter(index, .pending)
            return prepare(index, now: now)
        case .proceed:
            event(index, .note, rule.id, render(rule.explain) ?? rule.explain, now)
            return completeStep(index, .succeeded, now: now)
        case .stop(let advice):
            return .stopped(advice: render(advice) ?? advice)
        }
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
        if blocked.answer != nil { return refreshedUnexpected(blocked, active: session.steps[index].active, stepIndex: index) }
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

    mutating func sendRemedyRequest(_ request: FlowRequest, origin: ActiveRequest.Origin, stepIndex index: Int, now: Date) -> EngineAction {
        switch render(request, stepIndex: index, now: now) {
        case .failure(let box): return box.action
        case .success(let rendered):
            enter(index, .sending(ActiveRequest(origin: origin, request: rendered), wait: nil))
            return .send(rendered)
        }
    }

    /// A prompt remedy's value is in: validate it with the remedy's request, or go on.
    mutating func afterPrompt(_ index: Int, _ pending: PendingRemedy, now: Date) -> EngineAction {
        guard let (_, remedy) = remedy(pending.quirk, pending.remedy, stepIndex: index) else {
            return fail(index, "Unknown remedy \(pending.remedy + 1) for \(pending.quirk)")
        }
        if case .prompt(_, let validation?) = remedy.kind {
            return sendRemedyRequest(
                validation, origin: .validation(quirk: pending.quirk, remedy: pending.remedy), stepIndex: index, now: now)
        }
        return continueAfter(remedy, stepIndex: index, now: now)
    }

    /// Where the flow goes once a remedy worked.
    mutating func continueAfter(_ remedy: Remedy, stepIndex index: Int, now: Date) -> EngineAction {
        switch remedy.then {
        case .next:
            return advance(index, now: now)
        case .retry:
            guard let request = flowRequest(index) else { return advance(index, now: now) }
            switch render(request, stepIndex: index, now: now) {
            case .failure(let box): return box.action
            case .success(let rendered):
                enter(index, .sending(ActiveRequest(origin: .flow, request: rendered), wait: freshWait(index, now: now)))
                return .send(rendered)
            }
        }
    }

    /// Sends the search's probe: the step's request with the input at the probed amount.
    mutating func sendProbe(_ search: AmountSearch, quirk: String, remedyIndex: Int, stepIndex index: Int, now: Date) -> EngineAction {
        guard let request = flowRequest(index) else { return fail(index, "No request to search over") }
        switch render(request, stepIndex: index, now: now, overrides: [search.input: Amount.format(search.probeCents)]) {
        case .failure(let box): return box.action
        case .success(var rendered):
            rendered.label = "Search probe \(search.calls + 1) of at most \(search.maxCalls): \(Amount.format(search.probeCents))"
            enter(
                index,
                .sending(ActiveRequest(origin: .probe(quirk: quirk, remedy: remedyIndex, search: search), request: rendered), wait: nil))
            return .send(rendered)
        }
    }

    /// One answer of the search: the probe passed (2xx) or failed on the same quirk.
    mutating func probed(
        _ response: ResponseSummary, quirk: String, remedyIndex: Int, search: AmountSearch, stepIndex index: Int, now: Date
    ) -> EngineAction {
        guard let request = flowRequest(index), let rule = request.quirks.first(where: { $0.id == quirk }),
            let (_, remedy) = remedy(quirk, remedyIndex, stepIndex: index)
        else { return fail(index, "No search in progress") }
        let accepted = request.expect.contains(response.status)
        guard accepted || matches(rule.when, response) else {
            return fail(index, "The search stopped on an unexpected answer: " + Self.failureMessage(response, expected: request.expect))
        }
        var search = search
        switch search.record(accepted: accepted) {
        case .probe:
            return sendProbe(search, quirk: quirk, remedyIndex: remedyIndex, stepIndex: index, now: now)
        case .found(let cents, let exact):
            session.inputs[search.input] = Amount.format(cents)
            let precision = exact ? "to the cent" : "within \(Amount.format(cents - search.failingCents))"
            event(
                index, .search, quirk,
                "The smallest amount the preview accepts is \(Amount.format(cents)) (\(precision), \(search.calls) preview calls); \(search.input) is now \(Amount.format(cents)).",
                now
            )
            return continueAfter(remedy, stepIndex: index, now: now)
        case .exhausted(let last):
            return fail(index, "Every probe up to \(Amount.format(last)) was refused: the minimum is higher than that.")
        }
    }
}
