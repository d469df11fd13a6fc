import Foundation
import KiraJSON

/// The outcome of checking a flow file: the flow when it loads, and every problem found.
public struct FlowCheck: Sendable {
    public var flow: Flow?
    /// Every problem, the flow's in order of position, then those of the API description.
    public var issues: [FlowProblem]
    public var isValid: Bool { flow != nil && issues.isEmpty }
}

/// The one linter for flows: what `FlowLoader` refuses and what `flows validate` reports.
///
/// The API's own rules come from the flow's `APIDescription` (which requests need which
/// credentials or an idempotency key, which create something, the quirk catalogue), never from
/// code. Each rule has a scope: `.loading` rules must hold for a flow to run at all (unknown
/// references, duplicate ids, remedies that point nowhere, the API's request rules); `.validation`
/// adds what `flows validate` reports on top (captures used before they are captured, cyclic input
/// defaults, waits whose timeout is zero, unknown quirk ids, credentials not marked secret, secrets
/// written literally), each pinned to the exact line and column of what it names.
public enum FlowLinter {
    /// Which rules run.
    public enum Scope: Sendable {
        /// What a flow must satisfy to be loaded and run.
        case loading
        /// Everything: what `flows validate` checks.
        case validation
    }

    /// Loads and checks `text` with every rule, naming `file` in every location; `readFile` reads
    /// the files the flow names (see `FlowLoader.load(_:file:readFile:)`).
    public static func check(
        _ text: String, file: String, readFile: (String) -> String?, readData: @escaping (String) -> Data? = { _ in nil }
    ) -> FlowCheck {
        let source = SourceText(text, file: file)
        var loader = FlowLoader(file: file)
        loader.readData = readData
        let flow = loader.parse(text, readFile: readFile)
        var issues = loader.problems
        if let flow { issues += problems(in: flow, scope: .validation, source: source) }
        issues += literalSecrets(in: source)
        var seen = Set<String>()
        let unique = issues.filter { seen.insert("\($0.location)|\($0.message)").inserted }
        return FlowCheck(flow: flow, issues: sorted(unique, flowFile: file))
    }

    /// The problems of a parsed flow; with `source`, each is pinned to what it names.
    static func problems(in flow: Flow, scope: Scope, source: SourceText? = nil) -> [FlowProblem] {
        var found =
            references(flow, source: source) + structure(flow) + apiRules(flow) + registration(flow) + embeddedFiles(flow)
            + requiredFields(flow)
        if scope == .validation {
            found += ordering(flow, source: source) + cyclicDefaults(flow) + zeroTimeouts(flow, source: source)
            found += unknownQuirks(flow, source: source) + credentials(flow) + literalBodySecrets(flow, source: source)
        }
        return found
    }

    /// The flow file's problems first, by position, then those of other files (its API description).
    static func sorted(_ problems: [FlowProblem], flowFile: String) -> [FlowProblem] {
        problems.sorted {
            ($0.location.file != flowFile ? 1 : 0, $0.location.file, $0.location.line, $0.location.column, $0.message)
                < ($1.location.file != flowFile ? 1 : 0, $1.location.file, $1.location.line, $1.location.column, $1.message)
        }
    }

    // MARK: References

    /// Every name a template may use: inputs, captures and builtins.
    static func knownNames(_ flow: Flow) -> Set<String> {
        Set(flow.inputs.map(\.name)).union(flow.allRequests.flatMap { $0.request.captures.map(\.name) }).union(Flow.builtins)
    }

    static func templateReferences(_ text: String) -> [String] { (try? Template(parsing: text).references) ?? [] }

    /// Unknown references in every template of the flow.
    static func references(_ flow: Flow, source: SourceText?) -> [FlowProblem] {
        let known = knownNames(flow)
        let secretNames = Set(flow.inputs.filter(\.secret).map(\.name)).union(
            flow.allRequests.flatMap { $0.request.captures.filter(\.secret).map(\.name) })
        var problems: [FlowProblem] = []
        func check(_ names: [String], at location: SourceLocation, in what: String, alsoKnown: Set<String> = []) {
            for name in names where !known.contains(name) && !alsoKnown.contains(name) {
                problems.append(unknownReference(name, known: known.union(alsoKnown), at: location, in: what, source: source))
            }
        }
        for input in flow.inputs {
            if let defaultValue = input.defaultValue {
                check(templateReferences(defaultValue), at: input.location, in: "the default of input '\(input.name)'")
            }
        }
        for step in flow.steps {
            check(templateReferences(step.explain), at: step.location, in: "the explanation of step '\(step.id)'")
            for request in step.requestsIncludingRemedies {
                check(request.path.references, at: request.fieldLocations["path"] ?? request.location, in: "the path of '\(request.id)'")
                if let body = request.body {
                    check(body.references, at: request.fieldLocations["body"] ?? request.location, in: "the body of '\(request.id)'")
                }
                if let label = request.label { check(templateReferences(label), at: request.location, in: "the label of '\(request.id)'") }
                for header in request.headers {
                    let at = request.fieldLocations["headers"] ?? request.location
                    let names = header.value?.references ?? []
                    check(names, at: at, in: "the header \(header.name) of '\(request.id)'")
                    for name in names where secretNames.contains(name) {
                        problems.append(
                            FlowProblem(
                                location: at,
                                message:
                                    "The header \(header.name) of '\(request.id)' may not use the secret {{ \(name) }}: headers are recorded"
                            ))
                    }
                }
                if let webhook = request.webhook {
                    let at = request.fieldLocations["webhook"] ?? request.location
                    if let equals = webhook.equals { check(templateReferences(equals), at: at, in: "the webhook wait of '\(request.id)'") }
                    let texts = [
                        ("verified", webhook.explain.verified), ("unverified", webhook.explain.unverified),
                        ("missed", webhook.explain.missed), ("not_listening", webhook.explain.notListening),
                    ]
                    for (key, text) in texts {
                        // Only an event that arrived has an id.
                        let own = key == "verified" || key == "unverified" ? WebhookWait.references : ["event", "timeout"]
                        check(
                            templateReferences(text), at: at, in: "the \(key) explanation of '\(request.id)''s webhook wait", alsoKnown: own
                        )
                    }
                }
                for quirk in request.quirks {
                    for value in quirk.when.expectedValues {
                        check(value.references, at: quirk.location, in: "the condition of \(quirk.id)")
                    }
                    check(
                        templateReferences(quirk.explain), at: quirk.location, in: "the explanation of \(quirk.id)",
                        alsoKnown: quirk.required == nil ? [] : RequiredFields.references)
                    for remedy in quirk.remedies {
                        check(templateReferences(remedy.label), at: remedy.location, in: "a remedy label")
                        switch remedy.kind {
                        case .operatorAction(let action):
                            check(templateReferences(action.id), at: remedy.location, in: "an operator action")
                        case .stop(let advice): check(templateReferences(advice), at: remedy.location, in: "stop advice")
                        default: break
                        }
                    }
                }
                if let wait = request.wait {
                    for value in wait.until.expectedValues {
                        check(value.references, at: request.location, in: "the wait of '\(request.id)'")
                    }
                }
            }
        }
        return problems
    }

    static func unknownReference(_ name: String, known: Set<String>, at location: SourceLocation, in what: String, source: SourceText?)
        -> FlowProblem
    {
        let hint = suggestion(for: name, among: known, within: 3).map { " (did you mean '\($0)'?)" } ?? ""
        return FlowProblem(
            location: source?.reference(name, from: location) ?? location,
            message: "Unknown reference '{{ \(name) }}' in \(what): no input or capture is called '\(name)'\(hint)"
        )
    }

    /// The closest of `candidates` to `name`, when at most `within` edits away.
    static func suggestion(for name: String, among candidates: some Collection<String>, within: Int) -> String? {
        let best = candidates.sorted().min { distance($0, name) < distance($1, name) }
        return best.flatMap { distance($0, name) <= within ? $0 : nil }
    }

    /// Edit distance (Levenshtein), for "did you mean".
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    // MARK: Structure

    /// Duplicate ids, unknown inputs, remedies that point nowhere, invalid defaults, quirk id forms.
    static func structure(_ flow: Flow) -> [FlowProblem] {
        var problems: [FlowProblem] = []
        let inputNames = Set(flow.inputs.map(\.name))
        for input in flow.inputs {
            if let defaultValue = input.defaultValue, !defaultValue.contains("{{"),
                let problem = WalkthroughEngine.check(defaultValue, input: input)
            {
                problems.append(FlowProblem(location: input.location, message: "The default of '\(input.name)' is not valid: \(problem)"))
            }
            if input.secret, input.defaultValue != nil {
                problems.append(
                    FlowProblem(
                        location: input.location, message: "Secret input '\(input.name)' must not have a default written in the file"))
            }
        }
        var stepIDs = Set<String>()
        for step in flow.steps {
            if !stepIDs.insert(step.id).inserted {
                problems.append(FlowProblem(location: step.location, message: "Step id '\(step.id)' is used twice"))
            }
            for name in step.inputs where !inputNames.contains(name) {
                problems.append(FlowProblem(location: step.location, message: "Step '\(step.id)' lists unknown input '\(name)'"))
            }
            var requestIDs = Set<String>()
            for request in step.requests where !requestIDs.insert(request.id).inserted {
                problems.append(
                    FlowProblem(location: request.location, message: "Request id '\(request.id)' is used twice in step '\(step.id)'"))
            }
            for request in step.requestsIncludingRemedies {
                if let condition = request.condition, !inputNames.contains(condition.input) {
                    problems.append(FlowProblem(location: request.location, message: "when refers to unknown input '\(condition.input)'"))
                }
                if let quirk = request.wait?.quirk, !FlowLoader.isQuirkID(quirk) {
                    problems.append(
                        FlowProblem(
                            location: request.location, message: "'\(quirk)' is not a quirk id: Q- followed by capitals, digits and dashes")
                    )
                }
                if let quirk = request.webhook?.quirk, !FlowLoader.isQuirkID(quirk) {
                    problems.append(
                        FlowProblem(
                            location: request.fieldLocations["webhook"] ?? request.location,
                            message: "'\(quirk)' is not a quirk id: Q- followed by capitals, digits and dashes"))
                }
                for quirk in request.quirks {
                    if !FlowLoader.isQuirkID(quirk.id) {
                        problems.append(
                            FlowProblem(
                                location: quirk.location,
                                message: "'\(quirk.id)' is not a quirk id: Q- followed by capitals, digits and dashes"))
                    }
                    for remedy in quirk.remedies {
                        switch remedy.kind {
                        case .restart(let from) where !requestIDs.contains(from):
                            problems.append(
                                FlowProblem(
                                    location: remedy.location, message: "restart names '\(from)', which is no request of step '\(step.id)'")
                            )
                        case .prompt(let input, _) where !inputNames.contains(input):
                            problems.append(FlowProblem(location: remedy.location, message: "prompt asks for unknown input '\(input)'"))
                        case .search(let input, _, _) where flow.input(input)?.format != .amount:
                            problems.append(
                                FlowProblem(
                                    location: remedy.location, message: "search needs an input of format amount; '\(input)' is not one"))
                        case .wait where request.wait == nil:
                            problems.append(FlowProblem(location: remedy.location, message: "A wait remedy needs a request with a wait"))
                        default:
                            break
                        }
                    }
                }
            }
        }
        return problems
    }

    // MARK: The API's request rules

    /// Each request against the rules of the flow's API description: the idempotency key, the
    /// credentials, and a resend that would duplicate what it creates.
    static func apiRules(_ flow: Flow) -> [FlowProblem] {
        var problems: [FlowProblem] = []
        func cite(_ quirk: String?) -> String { quirk.map { " (\($0))" } ?? "" }
        for entry in flow.allRequests {
            let request = entry.request
            let traits = flow.api.traits(method: request.method, path: request.path.source)
            let call = "\(request.method) \(request.path.source)"
            if traits.idempotencyKey == true, !request.idempotency {
                problems.append(
                    FlowProblem(
                        location: request.location,
                        message: "\(call) needs 'idempotency: true': the API rejects it without an Idempotency-Key"
                            + cite(flow.api.ruleQuirks.idempotencyKey)
                    )
                )
            }
            if let needed = traits.auth, request.auth != needed {
                problems.append(
                    FlowProblem(
                        location: request.fieldLocations["auth"] ?? request.location,
                        message: "\(call) needs auth: \(needed.rawValue), not \(request.auth.rawValue)" + cite(flow.api.ruleQuirks.auth)
                    )
                )
            }
            // Only a rule's word counts here: the REST reading of an undescribed path is a guess.
            if request.safeToRepeat, !request.idempotency, traits.safeToRepeat != true,
                let creates = traits.matched.lazy.compactMap(\.creates).first
            {
                problems.append(
                    FlowProblem(
                        location: request.fieldLocations["safe_to_repeat"] ?? request.location,
                        message: "\(call) creates \(creates): resending it after an interruption would create another, so it is not "
                            + "safe_to_repeat without an idempotency key"
                    )
                )
            }
        }
        return problems
    }

    /// The API's webhook registration body may use the flow's values, the credentials by role and
    /// the registration's own references.
    static func registration(_ flow: Flow) -> [FlowProblem] {
        guard let registration = flow.api.webhookRegistration, let body = registration.body else { return [] }
        let known = knownNames(flow).union(WebhookRegistration.ownReferences).union(Credential.allCases.map(\.rawValue))
        return body.references.filter { !known.contains($0) }.map { name in
            FlowProblem(
                location: registration.location,
                message: "Unknown reference '{{ \(name) }}' in the webhook registration's body: it may use "
                    + "\(WebhookRegistration.ownReferences.sorted().joined(separator: ", ")), the credentials by role "
                    + "(\(Credential.allCases.map(\.rawValue).joined(separator: ", "))) and the inputs and captures of flow '\(flow.id)'"
            )
        }
    }

    // MARK: Order of captures

    /// A capture must be captured by a request that runs before the one that uses it.
    static func ordering(_ flow: Flow, source: SourceText?) -> [FlowProblem] {
        let inputNames = Set(flow.inputs.map(\.name)).union(Flow.builtins)
        var firstDefinition: [String: (step: FlowStep, request: FlowRequest, capture: Capture)] = [:]
        for entry in flow.allRequests {
            for capture in entry.request.captures where firstDefinition[capture.name] == nil && !inputNames.contains(capture.name) {
                firstDefinition[capture.name] = (entry.step, entry.request, capture)
            }
        }
        var problems: [FlowProblem] = []
        var defined = Set<String>()

        func check(_ request: FlowRequest, step: FlowStep, available: Set<String>) {
            // What is sent must be known before sending; what is only shown (explanations, labels of
            // remedies) may also use what this very request captures.
            var sent: [(name: String, from: SourceLocation)] = request.path.references.map {
                ($0, request.fieldLocations["path"] ?? request.location)
            }
            sent += (request.body?.references ?? []).map { ($0, request.fieldLocations["body"] ?? request.location) }
            sent += (request.label.map { templateReferences($0) } ?? []).map { ($0, request.location) }
            let conditions =
                request.quirks.flatMap(\.when.references) + (request.wait?.until.references ?? [])
            sent += conditions.map { ($0, request.location) }
            var reported = Set<String>()
            for use in sent where !inputNames.contains(use.name) && !available.contains(use.name) && reported.insert(use.name).inserted {
                guard let definition = firstDefinition[use.name] else { continue }  // unknown: reported as such
                let location = source?.reference(use.name, from: use.from) ?? use.from
                let definedAt = "line \(definition.capture.location.line)"
                let message: String
                if definition.request.id == request.id && definition.step.id == step.id {
                    message =
                        "'{{ \(use.name) }}' is used by request '\(request.id)', the request that captures it (\(definedAt)): "
                        + "nothing has captured it yet when the request is sent. Capture it in an earlier request."
                } else {
                    message =
                        "'{{ \(use.name) }}' is used by request '\(request.id)' before it is captured: the first request to capture it is "
                        + "'\(definition.request.id)' in step '\(definition.step.id)' (\(definedAt)), which runs later."
                }
                problems.append(FlowProblem(location: location, message: message))
            }
            for followUp in request.remedyRequests {
                check(followUp, step: step, available: available.union(request.captures.map(\.name)))
            }
        }
        func define(_ request: FlowRequest) {
            defined.formUnion(request.captures.map(\.name))
            request.remedyRequests.forEach(define)
        }
        for step in flow.steps {
            for request in step.requests {
                check(request, step: step, available: defined)
                define(request)
            }
        }
        return problems
    }

    /// Input defaults that refer to each other in a circle can never be filled.
    static func cyclicDefaults(_ flow: Flow) -> [FlowProblem] {
        var edges: [String: [String]] = [:]
        for input in flow.inputs {
            edges[input.name] = input.defaultValue.map { templateReferences($0) }?.filter { flow.input($0) != nil } ?? []
        }
        var problems: [FlowProblem] = []
        var reported = Set<String>()
        for input in flow.inputs {
            // Depth-first from each input, bounded by the number of inputs.
            var stack: [(name: String, path: [String])] = [(input.name, [input.name])]
            while let (name, path) = stack.popLast() {
                for next in edges[name] ?? [] {
                    if next == input.name {
                        let cycle = (path + [next]).joined(separator: " → ")
                        if reported.insert(Set(path).sorted().joined(separator: ",")).inserted {
                            problems.append(
                                FlowProblem(
                                    location: input.location, message: "The defaults of inputs refer to each other in a circle: \(cycle)"))
                        }
                    } else if !path.contains(next), path.count <= flow.inputs.count {
                        stack.append((next, path + [next]))
                    }
                }
            }
        }
        return problems
    }

    // MARK: Waits, quirks, credentials

    static func zeroTimeouts(_ flow: Flow, source: SourceText?) -> [FlowProblem] {
        flow.allRequests.compactMap { entry in
            guard let wait = entry.request.wait, !(wait.timeout > 0) else { return nil }
            let location = source?.find("timeout", from: entry.request.location) ?? entry.request.location
            return FlowProblem(
                location: location, message: "The wait of '\(entry.request.id)' has no overall timeout (it is 0): give it one, such as 10m")
        }
    }

    /// Quirk ids the API description's catalogue does not list.
    static func unknownQuirks(_ flow: Flow, source: SourceText?) -> [FlowProblem] {
        // A description the flow names but that could not be read is a problem of its own already.
        if flow.apiFile != nil, flow.api.file.isEmpty { return [] }
        let known = flow.api.quirkIDs
        var problems: [FlowProblem] = []
        func unknown(_ id: String, at location: SourceLocation) {
            guard !known.contains(id) else { return }
            let hint = suggestion(for: id, among: known, within: 4).map { " (did you mean '\($0)'?)" } ?? ""
            let catalogue =
                flow.apiFile == nil
                ? "the flow names no API description (api:), so it has no quirk catalogue"
                : "quirk ids come from the catalogue of \(flow.api.file), which lists \(flow.api.quirks.count)"
            problems.append(
                FlowProblem(
                    location: source?.find(id, from: location) ?? location, message: "Unknown quirk id '\(id)'\(hint): \(catalogue)"))
        }
        for entry in flow.allRequests {
            for rule in entry.request.quirks { unknown(rule.id, at: rule.location) }
            if let quirk = entry.request.wait?.quirk { unknown(quirk, at: entry.request.location) }
            if let quirk = entry.request.webhook?.quirk {
                unknown(quirk, at: entry.request.fieldLocations["webhook"] ?? entry.request.location)
            }
        }
        return problems
    }

    /// Credential inputs that are not secret would be written to the session file.
    static func credentials(_ flow: Flow) -> [FlowProblem] {
        flow.inputs.compactMap { input in
            guard let credential = input.credential, credential != .clientID, !input.secret else { return nil }
            return FlowProblem(
                location: input.location,
                message:
                    "Input '\(input.name)' holds the \(credential.rawValue) credential but is not 'secret: true': it would be written to the session file"
            )
        }
    }

    // MARK: Secrets

    /// Keys whose values are credentials, in a body or a query.
    static let secretFields: Set<String> = Redactor.secretKeys.union(["authorization", "x-api-key", "api-key", "apikey", "bearer"])

    /// Body fields and query parameters that carry a credential written as a literal instead of a
    /// `{{ reference }}`.
    static func literalBodySecrets(_ flow: Flow, source: SourceText?) -> [FlowProblem] {
        var problems: [FlowProblem] = []
        for entry in flow.allRequests {
            let request = entry.request
            var literals: [(field: String, where: String)] = []
            func walk(_ value: JSONValue) {
                switch value {
                case .object(let object):
                    for (key, item) in object {
                        if secretFields.contains(key.lowercased()), case .string(let text) = item, isLiteral(text) {
                            literals.append((key, "the body"))
                        }
                        walk(item)
                    }
                case .array(let items): items.forEach(walk)
                default: break
                }
            }
            if let body = request.body { walk(body) }
            for (name, value) in query(of: request.path.source) where secretFields.contains(name.lowercased()) && isLiteral(value) {
                literals.append((name, "the query"))
            }
            for literal in literals {
                let start =
                    literal.where == "the body"
                    ? (request.fieldLocations["body"] ?? request.location) : (request.fieldLocations["path"] ?? request.location)
                problems.append(
                    FlowProblem(
                        location: source?.find(literal.field, from: start) ?? start,
                        message:
                            "'\(literal.field)' in \(literal.where) of '\(request.id)' is written literally: a secret never goes in a flow file; "
                            + "use a secret input, such as \"{{ password }}\", read from the environment"
                    )
                )
            }
        }
        return problems
    }

    /// The query parameters of a path as written.
    static func query(of path: String) -> [(String, String)] {
        guard let items = URLComponents(string: "http://flow" + path)?.queryItems else { return [] }
        return items.map { ($0.name, $0.value ?? "") }
    }

    /// A non-empty value with no reference in it.
    static func isLiteral(_ text: String) -> Bool {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty, text != Redactor.mask else { return false }
        return templateReferences(text).isEmpty
    }

    /// Tokens, api keys, bearer values and JSON Web Tokens anywhere in the text, comments included.
    static func literalSecrets(in source: SourceText) -> [FlowProblem] {
        SecretScrubber().findings(in: source.text).map { finding in
            FlowProblem(
                location: source.location(ofOffset: finding.offset),
                message: "This looks like a literal \(finding.kind.rawValue) written in the flow file: secrets come from the environment "
                    + "through a secret input, referenced as {{ name }}"
            )
        }
    }
}

extension Flow {
    /// Every request the flow may send, remedies' requests included (depth first), with its step,
    /// the step's index and the request whose remedy sends it.
    public var allRequests: [(step: FlowStep, stepIndex: Int, request: FlowRequest, parent: FlowRequest?)] {
        var all: [(FlowStep, Int, FlowRequest, FlowRequest?)] = []
        func visit(_ request: FlowRequest, step: FlowStep, index: Int, parent: FlowRequest?) {
            all.append((step, index, request, parent))
            for followUp in request.remedyRequests { visit(followUp, step: step, index: index, parent: request) }
        }
        for (index, step) in steps.enumerated() {
            for request in step.requests { visit(request, step: step, index: index, parent: nil) }
        }
        return all
    }
}

extension FlowRequest {
    /// The requests this request's quirks' remedies may send.
    public var remedyRequests: [FlowRequest] {
        quirks.flatMap(\.remedies).compactMap { remedy in
            switch remedy.kind {
            case .request(let request): request
            case .prompt(_, let request?): request
            default: nil
            }
        }
    }
}

extension JSONValue {
    /// The template references in this value's strings (malformed templates count as none).
    public var references: [String] {
        switch self {
        case .string(let text): return (try? Template(parsing: text).references) ?? []
        case .array(let items): return items.flatMap(\.references)
        case .object(let object): return object.entries.flatMap { $0.value.references }
        default: return []
        }
    }
}
