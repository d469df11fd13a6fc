import Foundation
import KiraJSON

/// Where an input's value comes from: the session, the environment, the demo credentials, a
/// generator, or, last, the person.
extension WalkthroughEngine {
    func isSettled(_ input: FlowInput) -> Bool {
        input.secret ? secrets[input.name] != nil : session.inputs[input.name] != nil
    }

    mutating func store(_ input: FlowInput, value: String) {
        if input.secret { secrets[input.name] = value } else { session.inputs[input.name] = value }
    }

    /// Fills an input from what needs no person (environment, demo credentials); whether it is set.
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

    /// Fills an input from the environment, the demo credentials or a generator; else the step
    /// asks the person, and the `.needInput` action is returned, with `previousError` (why the
    /// value given before was refused) unless the environment's value is the problem now.
    mutating func settle(_ input: FlowInput, stepIndex: Int, now: Date, previousError: String? = nil) -> EngineAction? {
        if settleQuietly(input) { return nil }
        var error = previousError
        if let env = input.env, let value = sources.environment[env], !value.isEmpty, let problem = Self.check(value, input: input) {
            error = "\(env)=\(input.secret ? "…" : value) is not usable: \(problem)"
        }
        if let generator = input.generate {
            let id = makeID()
            store(input, value: generator == .uuid ? id : String(id.replacingOccurrences(of: "-", with: "").suffix(8)))
            return nil
        }
        // Only a real tenant has it (an id provisioned there): on the emulator, left empty.
        if !input.askOnEmulator, input.optional, session.target.isEmulator, error == nil {
            store(input, value: "")
            return nil
        }
        enter(stepIndex, .awaitingInput(InputAsk(name: input.name, error: error)))
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
}
