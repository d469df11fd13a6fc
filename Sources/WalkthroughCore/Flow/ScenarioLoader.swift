import Foundation
import KiraJSON
import Yams

extension Scenario {
    /// Parses a tour's YAML against the flow it tours, naming `file` in problems. Pure: the caller
    /// reads the file.
    ///
    /// Every problem is reported at once, each with its line and column: unknown keys, a `tour:`
    /// that is not the flow's id, a moment `at` a request the flow does not have, a body change on
    /// a request without a body or removing a key the body does not have, an input the flow does
    /// not have (or a secret one, or a value its format refuses), a setup of an unknown kind, a
    /// reference no input or capture of the flow provides.
    public static func load(_ text: String, file: String, flow: Flow) throws(FlowLoadError) -> Scenario {
        var loader = FlowLoader(file: file)
        loader.api = flow.api
        let scenario = loader.parseScenario(text, flow: flow)
        guard let scenario, loader.problems.isEmpty else {
            throw FlowLoadError(problems: FlowLinter.sorted(loader.problems, flowFile: file))
        }
        return scenario
    }
}

extension FlowLoader {
    static let scenarioKeys: Set<String> = ["tour", "title", "explain", "inputs", "moments"]
    static let momentKeys: Set<String> = ["at", "say", "setup", "body"]
    static let setupKinds = ["clock", "operator", "fault", "request"]

    mutating func parseScenario(_ text: String, flow: Flow) -> Scenario? {
        guard
            let (root, mapping) = rootMapping(
                text, expected: "A tour is a mapping with tour, title, explain, inputs and moments")
        else { return nil }
        checkKeys(mapping, allowed: Self.scenarioKeys, in: "a tour")
        let flowID = requiredString(mapping, "tour", in: root) ?? flow.id
        if flowID != flow.id { problem(mapping["tour"], "This tour is for the flow '\(flowID)', not '\(flow.id)'") }
        let title = requiredString(mapping, "title", in: root) ?? flow.title
        let explain = requiredString(mapping, "explain", in: root) ?? ""
        let known = FlowLinter.knownNames(flow)
        var inputs: [String: String] = [:]
        if let inputsNode = mapping["inputs"] {
            if let inputMapping = inputsNode.mapping {
                for (key, value) in inputMapping {
                    guard let name = key.string else { continue }
                    guard let input = flow.input(name) else {
                        problem(key, "The flow has no input '\(name)'")
                        continue
                    }
                    if input.secret { problem(key, "A tour cannot give the secret input '\(name)': it would be written in the file") }
                    guard let text = string(value, name) else { continue }
                    if let refusal = WalkthroughEngine.check(text, input: input) { problem(value, refusal) }
                    inputs[name] = text
                }
            } else {
                problem(inputsNode, "inputs is a mapping of the flow's input names to values")
            }
        }
        var moments: [ScenarioMoment] = []
        if let momentsNode = mapping["moments"] {
            if let sequence = momentsNode.sequence {
                var seen = Set<String>()
                for node in sequence {
                    guard let moment = parseMoment(node, flow: flow, known: known) else { continue }
                    if !seen.insert("\(moment.stepID)/\(moment.requestID)").inserted {
                        problem(node, "Two moments are at \(moment.stepID)/\(moment.requestID); say everything in one")
                    }
                    moments.append(moment)
                }
            } else {
                problem(momentsNode, "moments is a list of {at: STEP/REQUEST, say, setup, body}")
            }
        }
        return Scenario(flowID: flowID, title: title, explain: explain, inputs: inputs, moments: moments, file: file)
    }

    /// Each name no input, capture or builtin of the flow provides is a problem at `node`.
    mutating func checkReferences(_ names: [String], _ node: Node?, _ what: String, known: Set<String>) {
        for name in names where !known.contains(name) {
            problems.append(FlowLinter.unknownReference(name, known: known, at: location(node), in: what, source: nil))
        }
    }

    mutating func parseMoment(_ node: Node, flow: Flow, known: Set<String>) -> ScenarioMoment? {
        guard let mapping = node.mapping else {
            problem(node, "A moment is a mapping: at, say, setup, body")
            return nil
        }
        checkKeys(mapping, allowed: Self.momentKeys, in: "a moment")
        guard let at = requiredString(mapping, "at", in: node) else { return nil }
        let parts = at.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, let step = flow.steps.first(where: { $0.id == parts[0] }) else {
            problem(mapping["at"], "at names a step and one of its requests: STEP/REQUEST (the flow has no step '\(parts[0])')")
            return nil
        }
        guard let request = step.requestsIncludingRemedies.first(where: { $0.id == parts[1] }) else {
            problem(
                mapping["at"],
                "Step '\(step.id)' has no request '\(parts[1])'; it has: \(step.requestsIncludingRemedies.map(\.id).joined(separator: ", "))"
            )
            return nil
        }
        let say = optionalString(mapping, "say")
        if let say, let sayNode = mapping["say"] {
            _ = template(sayNode, say)
            checkReferences(FlowLinter.templateReferences(say), sayNode, "what the tour says at \(at)", known: known)
        }
        var setup: [ScenarioSetup] = []
        if let setupNode = mapping["setup"] {
            if let sequence = setupNode.sequence {
                setup = sequence.compactMap { parseSetup($0, known: known) }
            } else {
                problem(setupNode, "setup is a list of {clock}, {operator}, {fault} or {request}")
            }
        }
        var body: BodyChange?
        if let bodyNode = mapping["body"] {
            body = parseBodyChange(bodyNode, request: request, isOwn: step.requests.contains { $0.id == request.id }, at: at)
            if let body { checkReferences(JSONValue.object(body.set).references, bodyNode, "the body change at \(at)", known: known) }
        }
        return ScenarioMoment(
            stepID: step.id, requestID: request.id, say: say, setup: setup, body: body, location: location(node))
    }

    mutating func parseBodyChange(_ node: Node, request: FlowRequest, isOwn: Bool, at: String) -> BodyChange? {
        guard let mapping = node.mapping else {
            problem(node, "body is {remove: [KEY, …], set: {KEY: VALUE}}")
            return nil
        }
        checkKeys(mapping, allowed: ["remove", "set"], in: "a body change")
        guard isOwn else {
            problem(node, "A body change applies to a step's own request; '\(request.id)' is a remedy's, sent without being shown")
            return nil
        }
        guard case .object(let object)? = request.body else {
            problem(node, "'\(request.id)' has no JSON object body to change")
            return nil
        }
        var remove: [String] = []
        if let removeNode = mapping["remove"] {
            for item in removeNode.sequence.map(Array.init) ?? [removeNode] {
                guard let key = string(item, "remove") else { continue }
                if object[key] == nil { problem(item, "The body of '\(request.id)' has no key '\(key)' to remove") }
                remove.append(key)
            }
        }
        var set = JSONObject()
        if let setNode = mapping["set"] {
            if setNode.mapping != nil, case .object(let value)? = json(setNode) {
                set = value
            } else {
                problem(setNode, "set is a mapping of body keys to values")
            }
        }
        return BodyChange(remove: remove, set: set)
    }

    mutating func parseSetup(_ node: Node, known: Set<String>) -> ScenarioSetup? {
        guard let mapping = node.mapping else {
            problem(node, "A setup is one of: \(Self.setupKinds.joined(separator: ", "))")
            return nil
        }
        checkKeys(mapping, allowed: Set(Self.setupKinds), in: "a setup")
        let kinds = Self.setupKinds.filter { mapping[$0] != nil }
        guard kinds.count == 1, let kind = kinds.first, let kindNode = mapping[kind] else {
            problem(node, "A setup has exactly one of: \(Self.setupKinds.joined(separator: ", "))")
            return nil
        }
        switch kind {
        case "clock":
            guard let seconds = seconds(mapping, "clock") else { return nil }
            guard seconds > 0 else {
                problem(kindNode, "clock moves the emulator's clock forward: a duration more than zero")
                return nil
            }
            return .clock(seconds: seconds)
        case "operator":
            guard let operatorMapping = kindNode.mapping, let action = optionalString(operatorMapping, "action"),
                let verb = OperatorAction.Verb(rawValue: action), let id = optionalString(operatorMapping, "id")
            else {
                problem(kindNode, "operator is {action: verify_user|reject_user, id: \"{{ user_id }}\"}")
                return nil
            }
            checkKeys(operatorMapping, allowed: ["action", "id"], in: "an operator setup")
            if let idNode = operatorMapping["id"], template(idNode, id) != nil {
                checkReferences(FlowLinter.templateReferences(id), idNode, "an operator setup", known: known)
            }
            return .operatorAction(OperatorAction(verb: verb, id: id))
        case "fault":
            guard kindNode.mapping != nil, let fault = json(kindNode), fault["path"]?.stringValue != nil,
                fault["kind"]?.stringValue != nil
            else {
                problem(kindNode, "fault is the emulator's fault control: {path, kind, method?, status?, body?, count?, …}")
                return nil
            }
            return .fault(fault)
        default:
            guard let request = parseRequest(kindNode) else { return nil }
            checkReferences(
                request.path.references + (request.body?.references ?? []), kindNode, "the setup request '\(request.id)'", known: known)
            if request.wait != nil || !request.quirks.isEmpty || request.webhook != nil || request.condition != nil {
                problem(kindNode, "A setup request is sent once: it takes no wait, quirks, webhook or when")
            }
            return .request(request)
        }
    }
}
