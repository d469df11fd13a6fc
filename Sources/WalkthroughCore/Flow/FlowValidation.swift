import Foundation
import KiraJSON

extension FlowLoader {
    /// Checks what only the whole flow can tell: unknown references, duplicate ids, remedies that
    /// point nowhere, creating requests without the idempotency key the API requires.
    mutating func validate(_ flow: Flow) {
        problems += Self.problems(in: flow)
    }

    static func problems(in flow: Flow) -> [FlowProblem] {
        var problems: [FlowProblem] = []
        let inputNames = Set(flow.inputs.map(\.name))
        var captureNames = Set<String>()
        var stepIDs = Set<String>()
        for step in flow.steps {
            for request in step.requestsIncludingRemedies {
                for capture in request.captures { captureNames.insert(capture.name) }
            }
        }
        let known = inputNames.union(captureNames).union(Flow.builtins)

        func checkReferences(_ names: [String], at location: SourceLocation, _ what: String) {
            for name in names where !known.contains(name) {
                problems.append(unknownReference(name, known: known, at: location, in: what))
            }
        }
        func references(_ text: String) -> [String] { (try? Template(parsing: text).references) ?? [] }

        for input in flow.inputs {
            if let defaultValue = input.defaultValue, !defaultValue.contains("{{"),
                let problem = WalkthroughEngine.check(defaultValue, input: input)
            {
                problems.append(FlowProblem(location: input.location, message: "The default of '\(input.name)' is not valid: \(problem)"))
            }
            if let defaultValue = input.defaultValue {
                checkReferences(references(defaultValue), at: input.location, "the default of input '\(input.name)'")
            }
            if input.secret, input.defaultValue != nil {
                problems.append(
                    FlowProblem(
                        location: input.location, message: "Secret input '\(input.name)' must not have a default written in the file"))
            }
        }
        for step in flow.steps {
            if !stepIDs.insert(step.id).inserted {
                problems.append(FlowProblem(location: step.location, message: "Step id '\(step.id)' is used twice"))
            }
            checkReferences(references(step.explain), at: step.location, "the explanation of step '\(step.id)'")
            for name in step.inputs where !inputNames.contains(name) {
                problems.append(FlowProblem(location: step.location, message: "Step '\(step.id)' lists unknown input '\(name)'"))
            }
            var requestIDs = Set<String>()
            for request in step.requests where !requestIDs.insert(request.id).inserted {
                problems.append(
                    FlowProblem(location: request.location, message: "Request id '\(request.id)' is used twice in step '\(step.id)'"))
            }
            for request in step.requestsIncludingRemedies {
                problems += Self.problems(in: request, inputNames: inputNames, known: known)
            }
            for request in step.requestsIncludingRemedies {
                if let label = request.label { checkReferences(references(label), at: request.location, "the label of '\(request.id)'") }
                for quirk in request.quirks {
                    checkReferences(references(quirk.explain), at: quirk.location, "the explanation of \(quirk.id)")
                    if !Self.isQuirkID(quirk.id) {
                        problems.append(FlowProblem(location: quirk.location, message: "Quirk id '\(quirk.id)' is not of the form Q-NAME"))
                    }
                    for remedy in quirk.remedies {
                        checkReferences(references(remedy.label), at: remedy.location, "a remedy label")
                        switch remedy.kind {
                        case .restart(let from) where !requestIDs.contains(from):
                            problems.append(
                                FlowProblem(
                                    location: remedy.location, message: "restart names '\(from)', which is no request of step '\(step.id)'")
                            )
                        case .prompt(let input, _) where !inputNames.contains(input):
                            problems.append(FlowProblem(location: remedy.location, message: "prompt asks for unknown input '\(input)'"))
                        case .search(let input, _, _):
                            if flow.input(input)?.format != .amount {
                                problems.append(
                                    FlowProblem(
                                        location: remedy.location, message: "search needs an input of format amount; '\(input)' is not one")
                                )
                            }
                        case .operatorAction(let action):
                            checkReferences(references(action.id), at: remedy.location, "an operator action")
                        case .stop(let advice):
                            checkReferences(references(advice), at: remedy.location, "stop advice")
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

    static func problems(in request: FlowRequest, inputNames: Set<String>, known: Set<String>) -> [FlowProblem] {
        var problems: [FlowProblem] = []
        func check(_ names: [String], _ location: SourceLocation, _ what: String) {
            for name in names where !known.contains(name) {
                problems.append(unknownReference(name, known: known, at: location, in: what))
            }
        }
        check(request.path.references, request.fieldLocations["path"] ?? request.location, "the path of '\(request.id)'")
        if let body = request.body {
            check((try? body.templateReferences()) ?? [], request.fieldLocations["body"] ?? request.location, "the body of '\(request.id)'")
        }
        if let equals = request.webhook?.equals {
            check((try? Template(parsing: equals).references) ?? [], request.location, "the webhook wait of '\(request.id)'")
        }
        if let condition = request.condition, !inputNames.contains(condition.input) {
            problems.append(FlowProblem(location: request.location, message: "when refers to unknown input '\(condition.input)'"))
        }
        for quirk in request.quirks {
            for value in (quirk.when.equals ?? []) + (quirk.when.notIn ?? []) {
                check((try? value.templateReferences()) ?? [], quirk.location, "the condition of \(quirk.id)")
            }
        }
        if let wait = request.wait {
            for value in (wait.until.equals ?? []) + (wait.until.notIn ?? []) {
                check((try? value.templateReferences()) ?? [], request.location, "the wait of '\(request.id)'")
            }
            if let quirk = wait.quirk, !Self.isQuirkID(quirk) {
                problems.append(FlowProblem(location: request.location, message: "Quirk id '\(quirk)' is not of the form Q-NAME"))
            }
        }
        if request.method == "POST", !request.idempotency, Self.requiresIdempotencyKey(request.path.source) {
            problems.append(
                FlowProblem(
                    location: request.location,
                    message:
                        "POST \(request.path.source) needs 'idempotency: true': the API rejects it without an Idempotency-Key (Q-IDEMPOTENCY)"
                )
            )
        }
        if request.auth != .bearer, request.path.source.hasPrefix("/v1/") {
            problems.append(FlowProblem(location: request.location, message: "Calls under /v1 need auth: bearer (Q-AUTH-HEADERS)"))
        }
        return problems
    }

    static func unknownReference(_ name: String, known: Set<String>, at location: SourceLocation, in what: String) -> FlowProblem {
        let suggestion = known.min { distance($0, name) < distance($1, name) }
        let hint = suggestion.map { distance($0, name) <= 3 ? " (did you mean '\($0)'?)" : "" } ?? ""
        return FlowProblem(
            location: location, message: "Unknown reference '{{ \(name) }}' in \(what): no input or capture is called '\(name)'\(hint)"
        )
    }

    /// The creating calls that the API refuses without an `Idempotency-Key`.
    static func requiresIdempotencyKey(_ path: String) -> Bool {
        let bare = path.split(separator: "?").first.map(String.init) ?? path
        let segments = bare.split(separator: "/").map(String.init)
        switch segments.count {
        case 2: return segments[0] == "v1" && ["users", "virtual-accounts", "recipients"].contains(segments[1])
        case 4: return segments[0] == "v1" && segments[1] == "virtual-accounts" && segments[3] == "payout"
        default: return false
        }
    }

    static func isQuirkID(_ id: String) -> Bool {
        id.hasPrefix("Q-") && id.count > 2 && id.dropFirst(2).allSatisfy { ($0.isUppercase && $0.isASCII) || $0.isNumber || $0 == "-" }
    }

    /// Edit distance, for "did you mean".
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
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
}

extension FlowStep {
    /// The step's requests and those its remedies send.
    public var requestsIncludingRemedies: [FlowRequest] {
        var all: [FlowRequest] = []
        for request in requests {
            all.append(request)
            for quirk in request.quirks {
                for remedy in quirk.remedies {
                    switch remedy.kind {
                    case .request(let followUp): all.append(followUp)
                    case .prompt(_, let validation?): all.append(validation)
                    default: break
                    }
                }
            }
        }
        return all
    }
}
