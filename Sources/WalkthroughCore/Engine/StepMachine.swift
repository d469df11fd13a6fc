import Foundation

/// The step state machine's two tables: which phase changes are legal, and in which phases each
/// event is accepted. `WalkthroughEngine` changes a phase only through `enter(_:_:)`, which checks
/// the first; each event method checks the second and answers `.rejected` otherwise.
public enum StepMachine {
    /// What the engine may do after a step's request (or remedy) succeeded: render the next
    /// request, ask for a value it needs, fail on a missing capture, or finish the step.
    static let afterSuccess: Set<StepState> = [.ready, .awaitingInput, .failed, .succeeded]

    /// Every legal phase change, by the phase left. Final phases change no more.
    public static let transitions: [StepState: Set<StepState>] = [
        // enterStep: a value is needed, the first request is rendered, no request applies, or a
        // request needs a capture no earlier step made.
        .pending: [.awaitingInput, .ready, .succeeded, .failed],
        // An invalid value asks again; a value goes back to pending (the step starts over with
        // it); a prompt remedy's value validates (sending) or continues.
        .awaitingInput: afterSuccess.union([.awaitingInput, .pending, .sending, .skipped]),
        // Send it; edit its body; skip it.
        .ready: [.sending, .ready, .skipped],
        // The answer: success (afterSuccess), another request of the step in flight (a probe, a
        // retry after a remedy), a poll, a webhook, a quirk, a failure.
        .sending: afterSuccess.union([.sending, .waiting, .awaitingWebhook, .blocked]),
        // The poll is due; the person stopped waiting; skip.
        .waiting: [.sending, .failed, .skipped],
        // The webhook arrived or did not: the step goes on.
        .awaitingWebhook: afterSuccess,
        // The action worked (retry the request, or go on), failed, or a new run checks again.
        .operating: afterSuccess.union([.sending, .blocked]),
        // Remedies: a request, a probe or a new check (sending), keep waiting, a prompt, an
        // operator action, restart (pending), proceed (succeeded), skip, or a remedy that cannot run.
        .blocked: afterSuccess.union([.sending, .waiting, .pending, .operating, .skipped]),
        // Retry the flow request (sending) or the step from its request (pending), or skip.
        .failed: [.sending, .pending, .skipped],
        .succeeded: [],
        .skipped: [],
    ]

    /// The phases in which each event is accepted.
    public static let events: [EngineEvent: Set<StepState>] = [
        .provideInput: [.awaitingInput],
        .confirm: [.ready],
        .replaceBody: [.ready],
        .resend: [.sending],
        .received: [.sending],
        .transportFailed: [.sending],
        .pollDue: [.waiting],
        .chooseRemedy: [.blocked],
        .operatorFinished: [.operating],
        .retry: [.failed, .blocked],
        .skip: [.failed, .blocked, .ready, .awaitingInput, .waiting],
        .cancelWait: [.waiting],
        .webhookArrived: [.awaitingWebhook],
    ]

    /// Whether a step may go from `from` to `to`.
    public static func allows(_ from: StepState, _ to: StepState) -> Bool {
        transitions[from, default: []].contains(to)
    }

    /// Whether `event` is accepted while the current step is `state`.
    public static func accepts(_ event: EngineEvent, in state: StepState) -> Bool {
        events[event, default: []].contains(state)
    }
}

/// One phase change, as the engine made it.
public struct StepTransition: Sendable, Hashable, CustomStringConvertible {
    public var stepID: String
    public var from: StepState
    public var to: StepState

    public var description: String { "\(stepID): \(from.rawValue) → \(to.rawValue)" }
}
