import Foundation
import KiraJSON

/// Filling a flow request's templates: what the wire will carry, secrets still as references.
extension WalkthroughEngine {
    /// Fills references in a text (an explanation) as far as they are known.
    public func renderedText(_ text: String) -> String { render(text) ?? text }

    /// Fills references in a text; `nil` when one has no value.
    func render(_ text: String) -> String? {
        guard let template = try? Template(parsing: text) else { return text }
        return template.render { value(of: $0) }
    }

    /// Renders a flow request. Secret references stay as `{{ name }}` for the client to fill. A
    /// reference nobody can fill yet asks the person (`.needInput`) or fails the step.
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
        var headers: [RenderedHeader]?
        for header in request.headers {
            var value: String?
            if let template = header.value { value = template.render(lookup) ?? template.source }
            headers = (headers ?? []) + [RenderedHeader(name: header.name, value: value)]
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
        var rendered = RenderedRequest(
            stepID: flow.steps[stepIndex].id, requestID: request.id, label: request.label.flatMap { render($0) },
            method: request.method, path: path, auth: request.auth, idempotencyKey: key, body: body, repeatable: request.repeatable
        )
        rendered.headers = headers
        return .success(rendered)
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
}
