import Foundation
import KiraJSON
import WalkthroughCore

/// What a flow will do, in words: every request it sends in order, which are conditional, which
/// remedies may send more, and what each one creates.
public enum FlowPlan {
    /// The plan of `flow`, as `flows validate` prints it.
    public static func describe(_ flow: Flow) -> String {
        var out: [String] = []
        let requestCount = flow.steps.reduce(0) { $0 + $1.requests.count }
        out.append(
            "\(flow.file) is valid: flow '\(flow.id)' (\(flow.title)), \(flow.steps.count) steps, \(requestCount) requests, "
                + "\(flow.inputs.count) inputs, API version \(flow.apiVersion)."
        )
        out.append("")
        out.append("The requests it will send, in order:")
        var number = 0
        var creates: [String] = []
        for (index, step) in flow.steps.enumerated() {
            out.append("")
            out.append("Step \(index + 1) · \(step.title) (\(step.id))")
            if !step.inputs.isEmpty {
                out.append("   settles " + step.inputs.map { describeInput($0, flow: flow) }.joined(separator: ", "))
            }
            if step.requests.isEmpty { out.append("   sends nothing") }
            for request in step.requests {
                number += 1
                let traits = flow.api.traits(method: request.method, path: request.path.source)
                var line = " \(String(number).leftPadded(to: 2)). \(request.method) \(request.path.source) — \(traits.effect)"
                if request.idempotency { line += " [Idempotency-Key]" }
                if let condition = request.condition {
                    line += " (only when \(condition.input) is \(condition.whenSet ? "set" : "not set"))"
                }
                out.append(line)
                if let what = traits.creates {
                    creates.append(what + (request.condition.map { " (when \($0.input) is \($0.whenSet ? "set" : "not set"))" } ?? ""))
                }
                out += details(request, step: step, flow: flow, indent: "       ")
            }
        }
        if !creates.isEmpty {
            out.append("")
            out.append("When every step goes as planned it creates: " + creates.joined(separator: ", ") + ".")
        }
        return out.joined(separator: "\n")
    }

    static func describeInput(_ name: String, flow: Flow) -> String {
        guard let input = flow.input(name) else { return name }
        var sources: [String] = []
        if let env = input.env { sources.append("from \(env)") }
        if input.generate != nil { sources.append("generated") }
        if input.defaultValue != nil { sources.append("default \(input.defaultValue!)") }
        if input.secret { sources.append("secret") }
        return sources.isEmpty ? name : "\(name) (\(sources.joined(separator: ", ")))"
    }

    /// Auth, captures, the wait, and what each blocking quirk's remedies may send.
    static func details(_ request: FlowRequest, step: FlowStep, flow: Flow, indent: String) -> [String] {
        var out: [String] = []
        switch request.auth {
        case .none: out.append(indent + "no credentials")
        case .apiKey: out.append(indent + "x-api-key only (no bearer token yet)")
        case .bearer: break
        }
        if let wait = request.wait {
            out.append(
                indent + "repeats until \(describe(wait.until)): every \(duration(wait.interval))"
                    + (wait.backoff > 1 ? ", ×\(number(wait.backoff)) each time up to \(duration(wait.maxInterval))" : "")
                    + ", for at most \(duration(wait.timeout))" + (wait.quirk.map { " (\($0))" } ?? "")
            )
        }
        if let webhook = request.webhook {
            out.append(
                indent
                    + "then waits at most \(duration(webhook.timeout)) for the webhook \(webhook.event) (optional: the step succeeds either way)"
            )
        }
        if !request.captures.isEmpty {
            out.append(indent + "captures " + request.captures.map { $0.secret ? "\($0.name) (secret)" : $0.name }.joined(separator: ", "))
        }
        let notes = request.quirks.filter { $0.effect == .note }.map(\.id)
        if !notes.isEmpty { out.append(indent + "notes " + notes.joined(separator: ", ")) }
        for rule in request.quirks where rule.effect == .block {
            out.append(indent + "on \(rule.id) (\(describe(rule.when))):")
            for (position, remedy) in rule.remedies.enumerated() {
                let letter = String(UnicodeScalar(UInt8(97 + position % 26)))
                out += remedyLines(remedy, blocked: request, step: step, flow: flow, indent: indent + "  ", bullet: "\(letter).")
            }
        }
        return out
    }

    static func remedyLines(_ remedy: Remedy, blocked: FlowRequest, step: FlowStep, flow: Flow, indent: String, bullet: String) -> [String]
    {
        let then = remedy.then == .next ? "then goes on with the next request" : "then sends \(blocked.id) again"
        switch remedy.kind {
        case .request(let followUp):
            return [
                indent
                    + "\(bullet) may send \(followUp.method) \(followUp.path.source) — \(effect(of: followUp, in: flow)); \(then)"
            ]
                + details(followUp, step: step, flow: flow, indent: indent + "     ")
        case .wait:
            return [indent + "\(bullet) keeps polling until the wait's timeout"]
        case .prompt(let input, let validation?):
            return [
                indent
                    + "\(bullet) asks for \(input), then may send \(validation.method) \(validation.path.source) — \(effect(of: validation, in: flow)); \(then)"
            ] + details(validation, step: step, flow: flow, indent: indent + "     ")
        case .prompt(let input, nil):
            return [indent + "\(bullet) asks for \(input); \(then)"]
        case .search(let input, let span, let maxCalls):
            return [
                indent
                    + "\(bullet) may send up to \(maxCalls) more \(blocked.method) \(blocked.path.source), bisecting \(input) over \(Amount.format(span)) to the cent; \(then)"
            ]
        case .operatorAction(let action):
            let control = action.verb.control
            return [
                indent
                    + "\(bullet) operator \(action.verb.rawValue) \(action.id): POST /__emulator/\(control.collection)/{id}/\(control.action) (this project's emulator only); \(then)"
            ]
        case .restart(let from):
            let target = step.requests.first { $0.id == from }
            let again =
                target.map {
                    " — sends \($0.method) \($0.path.source) again\($0.idempotency ? " with a new Idempotency-Key: \(effect(of: $0, in: flow)) anew" : "")"
                } ?? ""
            return [indent + "\(bullet) restarts the step from \(from)\(again)"]
        case .proceed:
            return [indent + "\(bullet) treats the step as done"]
        case .stop:
            return [indent + "\(bullet) stops (\(remedy.label)): only a person can go on"]
        }
    }

    /// What `request` does, in words, as the flow's API description says.
    static func effect(of request: FlowRequest, in flow: Flow) -> String {
        flow.api.traits(method: request.method, path: request.path.source).effect
    }

    /// A condition in words: `status = VERIFIED`, `status 409 and code resource_conflict`.
    static func describe(_ condition: ResponseCondition) -> String {
        var parts: [String] = []
        if let statuses = condition.status { parts.append("status " + statuses.map(String.init).joined(separator: " or ")) }
        if let code = condition.code { parts.append("code \(code)") }
        if let fragment = condition.messageContains { parts.append("message contains '\(fragment)'") }
        if let field = condition.field {
            func text(_ value: JSONValue) -> String { value.stringValue ?? value.text() }
            if let values = condition.equals { parts.append("\(field) = " + values.map(text).joined(separator: " or ")) }
            if let values = condition.notIn { parts.append("\(field) not in [" + values.map(text).joined(separator: ", ") + "]") }
        }
        for part in condition.all ?? [] { parts.append("(\(describe(part)))") }
        return parts.isEmpty ? "always" : parts.joined(separator: " and ")
    }

    static func duration(_ seconds: Double) -> String {
        if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600)) h" }
        if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60)) min" }
        return "\(number(seconds)) s"
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
