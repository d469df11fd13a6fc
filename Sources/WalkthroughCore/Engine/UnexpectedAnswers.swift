import Foundation
import KiraJSON

/// Answers nobody documented: any status outside a request's `expect` that no quirk rule matches
/// stops the step for a person (the `blocked` phase) instead of failing it, a 5xx too once the
/// client has retried it where that is safe.
///
/// The block is the engine's own, named `unexpected-answer`, with generic remedies: send the
/// request again, edit the body and send it (a new idempotency key: it is a new request), or stop.
/// Sending again keeps the idempotency key after a 5xx (the server may have done the work, and the
/// key makes a second attempt safe) but takes a new one after a 4xx: the server refused, created
/// nothing, and keys replay refused answers too, so the old key would only bring the same refusal
/// back. What stays a failure: a transport error after the client's retries, a capture missing
/// from a success.
///
/// Nothing is sent twice by merely resuming: a run that meets such an answer recommends stopping
/// (an unattended run exits 3). A later run shows the same block again without sending anything;
/// it recommends sending again only when the request is safe to repeat (a keyed POST, a GET, or
/// one the API description marks safe), so that `--yes` can carry on without duplicating anything,
/// while a request that could duplicate (a deposit without a key) waits for a person's choice.
extension WalkthroughEngine {
    /// The id of the block an undocumented answer causes (outside any API's quirk namespace).
    public static let unexpectedAnswerID = "unexpected-answer"

    /// The generic remedies, by index.
    enum UnexpectedRemedy: Int, CaseIterable {
        case sendAgain = 0
        case editAndSend = 1
        case stop = 2
    }

    /// Blocks step `index` on `response`, an answer `request` does not expect and no rule explains.
    mutating func blockOnUnexpected(_ response: ResponseSummary, request: FlowRequest, stepIndex index: Int, now: Date) -> EngineAction {
        let answer = UnexpectedAnswer(response, expected: request.expect, redactor: Redactor(values: Array(secrets.values)))
        let active = session.steps[index].active
        answeredThisRun = true
        let blocked = BlockedQuirk(
            quirkID: Self.unexpectedAnswerID, requestID: request.id, explanation: Self.explain(answer, requestID: request.id),
            remedies: unexpectedOptions(active: active, status: response.status, stepIndex: index, resumed: false), answer: answer
        )
        enter(index, .blocked(blocked, active: active))
        event(index, .quirk, Self.unexpectedAnswerID, blocked.explanation, now)
        return .blocked(blocked)
    }

    /// The whole answer in words: status, code, message and body.
    static func explain(_ answer: UnexpectedAnswer, requestID: String) -> String {
        let wanted = answer.expected.map(String.init).joined(separator: " or ")
        let reason = HTTPReason.text(answer.status)
        var text =
            "'\(requestID)' got HTTP \(answer.status)\(reason.isEmpty ? "" : " \(reason)"), an answer the flow does not know: it expects "
            + "\(wanted), and no known quirk explains this one. The docs do not describe it, so a person has to decide. "
        text +=
            answer.status >= 500
            ? "It is the server's own failure, and the client already retried it where that is safe. Nothing was sent again."
            : "Nothing was sent again."
        text += "\nstatus: \(answer.status)"
        text += "\ncode: \(answer.code ?? "(none)")"
        text += "\nmessage: \(answer.message ?? "(none)")"
        text += "\nbody:\n" + (answer.body.isEmpty ? "(empty)" : answer.body)
        return text
    }

    /// Whether sending again after an answer of `status` takes a new idempotency key: after a
    /// refusal (below 500), whose answer the old key would replay.
    static func sendsAgainWithNewKey(afterStatus status: Int?) -> Bool {
        (status ?? 500) < 500
    }

    /// The generic remedies as offered now. `resumed` is true when the block was met by an earlier
    /// run: sending again is then recommended if the request is safe to repeat.
    func unexpectedOptions(active: ActiveRequest?, status: Int?, stepIndex index: Int, resumed: Bool) -> [RemedyOption] {
        func used(_ remedy: UnexpectedRemedy) -> Bool {
            session.steps[index].remedyUses["\(Self.unexpectedAnswerID)#\(remedy.rawValue)", default: 0] >= Self.remedyLimit
        }
        let key = active?.request.idempotencyKey != nil
        let sendAgain =
            !key
            ? "Send the same request again"
            : Self.sendsAgainWithNewKey(afterStatus: status)
                ? "Send the same request again, with a new idempotency key (the old one would replay this refusal)"
                : "Send the same request again (same idempotency key: the server may have done the work)"
        var options = [
            RemedyOption(label: sendAgain, available: true, recommended: false, unavailableReason: nil),
            RemedyOption(
                label: "Edit the body and send it" + (key ? " (with a new idempotency key)" : ""), available: true, recommended: false,
                unavailableReason: nil),
            RemedyOption(label: "Stop here", available: true, recommended: false, unavailableReason: nil),
        ]
        for remedy in [UnexpectedRemedy.sendAgain, .editAndSend] {
            if active == nil {
                options[remedy.rawValue].available = false
                options[remedy.rawValue].unavailableReason = "no request to send"
            } else if used(remedy) {
                options[remedy.rawValue].available = false
                options[remedy.rawValue].unavailableReason = "already tried \(Self.remedyLimit) times"
            }
        }
        if active?.request.body == nil, options[1].available {
            options[1].available = false
            options[1].unavailableReason = "the request has no body"
        }
        let retry = resumed && options[0].available && active?.request.repeatable == true
        options[retry ? 0 : 2].recommended = true
        return options
    }

    /// Carries out generic remedy `remedyIndex` of an unexpected-answer block.
    mutating func chooseOnUnexpected(_ remedyIndex: Int, blocked: BlockedQuirk, active: ActiveRequest?, stepIndex index: Int, now: Date)
        -> EngineAction
    {
        guard let remedy = UnexpectedRemedy(rawValue: remedyIndex) else { return .blocked(blocked) }
        let label = blocked.remedies[remedyIndex].label
        if remedy != .stop { session.steps[index].remedyUses["\(Self.unexpectedAnswerID)#\(remedyIndex)", default: 0] += 1 }
        event(index, .remedy, Self.unexpectedAnswerID, "Chose: \(label)", now)
        switch remedy {
        case .sendAgain:
            guard var active else { return .blocked(blocked) }
            if active.request.idempotencyKey != nil, Self.sendsAgainWithNewKey(afterStatus: blocked.answer?.status) {
                let key = makeID()
                active.request.idempotencyKey = key
                session.idempotencyKeys["\(active.request.stepID)/\(active.request.requestID)"] = key
            }
            enter(index, .sending(active, wait: active.origin == .flow ? freshWait(index, now: now) : nil))
            return .send(active.request)
        case .editAndSend:
            guard var active else { return .blocked(blocked) }
            // An edited body is a new request: the old key may hold the refused answer (keys replay
            // non-2xx answers too), and a reused key with another body answers 409.
            if active.request.idempotencyKey != nil {
                let key = makeID()
                active.request.idempotencyKey = key
                session.idempotencyKeys["\(active.request.stepID)/\(active.request.requestID)"] = key
            }
            enter(index, .ready(active))
            return .confirm(active.request)
        case .stop:
            let status = blocked.answer.map { "HTTP \($0.status)" } ?? "an answer"
            return .stopped(
                advice:
                    "'\(blocked.requestID)' got \(status), which the flow does not know (the whole answer is above). Nothing is sent again "
                    + "until someone chooses to: run the same command again to send it again, edit its body, or stop. "
                    + "Unattended (--yes), a request that is safe to repeat is sent again once; any other waits for a person."
            )
        }
    }

    /// An unexpected-answer block as offered now (remedy uses and, for a block an earlier run met,
    /// the recommendation to send again).
    func refreshedUnexpected(_ blocked: BlockedQuirk, active: ActiveRequest?, stepIndex index: Int) -> BlockedQuirk {
        var copy = blocked
        copy.remedies = unexpectedOptions(active: active, status: blocked.answer?.status, stepIndex: index, resumed: !answeredThisRun)
        return copy
    }
}
