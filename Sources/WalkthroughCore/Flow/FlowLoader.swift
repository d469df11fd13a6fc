import Foundation
import KiraJSON
import Yams

/// One problem found in a flow file (or in the API description it names).
public struct FlowProblem: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    /// A problem at `location`.
    public init(location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }

    /// `file:line:column: error: message`, as compilers write it (what `flows validate` prints).
    public var diagnostic: String { "\(location): error: \(message)" }
}

/// A flow file that cannot be used, with every problem found in it.
public struct FlowLoadError: Error, Sendable, CustomStringConvertible {
    public var problems: [FlowProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Turns flow YAML into a validated `Flow`.
///
/// Pure: it reads text, not files. A flow that names its API description (`api: kira-api.yaml`)
/// gets that file's text from the caller through `readFile`, which receives the reference as
/// written (relative to the flow file); problems in it name `resolve(_:relativeTo:)`'s path. The
/// whole file is checked before anything is returned (`FlowLinter` at `.loading` scope), so one
/// run reports every problem, each with its file, line and column. A reference to an unknown input
/// or capture is one of them: it fails here, never at send time.
public struct FlowLoader {
    let file: String
    var problems: [FlowProblem] = []
    /// The description the flow names, once read: request rules give defaults while parsing.
    var api = APIDescription.empty
    /// Reads the bytes of a file a body embeds (the reference as written), at the caller's IO boundary.
    var readData: (String) -> Data? = { _ in nil }
    /// The files embedded so far, by reference.
    var embeddedFiles: [EmbeddedFile] = []

    /// Loads `text`, naming `file` in problems; `readFile` returns the text of a file the flow
    /// names (its API description), or `nil` when it cannot be read; `readData` returns the bytes of
    /// a file a body embeds (`{ file_as_data_url: PATH }`), both given the reference as written.
    public static func load(
        _ text: String, file: String, readFile: (String) -> String?, readData: @escaping (String) -> Data? = { _ in nil }
    ) throws(FlowLoadError) -> Flow {
        var loader = FlowLoader(file: file)
        loader.readData = readData
        let flow = loader.parse(text, readFile: readFile)
        if let flow {
            loader.problems += FlowLinter.problems(in: flow, scope: .loading)
        }
        guard let flow, loader.problems.isEmpty else {
            throw FlowLoadError(problems: FlowLinter.sorted(loader.problems, flowFile: file))
        }
        return flow
    }

    /// Loads a flow that names no other file: one that does (`api:`) is refused, since its API
    /// description cannot be read.
    public static func load(_ text: String, file: String) throws(FlowLoadError) -> Flow {
        try load(text, file: file) { _ in nil }
    }

    /// The path of `reference` (as written in `file`), relative to `file`'s directory unless absolute.
    public static func resolve(_ reference: String, relativeTo file: String) -> String {
        guard !reference.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return reference }
        return String(file[...slash]) + reference
    }

    init(file: String) { self.file = file }

    // MARK: Problems

    func location(_ node: Node?) -> SourceLocation {
        SourceLocation(file: file, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1)
    }

    mutating func problem(_ node: Node?, _ message: String) {
        problems.append(FlowProblem(location: location(node), message: message))
    }

    // MARK: Parsing

    /// The YAML text's top-level mapping; a syntax error, or anything but a mapping (`expected`
    /// says what it should hold), is a problem.
    mutating func rootMapping(_ text: String, expected: String) -> (root: Node, mapping: Node.Mapping)? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            problems.append(Self.problem(from: error, file: file))
            return nil
        } catch {
            problems.append(FlowProblem(location: SourceLocation(file: file, line: 1, column: 1), message: "\(error)"))
            return nil
        }
        guard let root, let mapping = root.mapping else {
            problem(root, expected)
            return nil
        }
        return (root, mapping)
    }

    mutating func parse(_ text: String, readFile: (String) -> String?) -> Flow? {
        guard let (root, mapping) = rootMapping(text, expected: "A flow is a mapping with flow, title, api_version, inputs and steps")
        else { return nil }
        checkKeys(mapping, allowed: ["flow", "title", "api", "api_version", "inputs", "steps"], in: "a flow")
        var apiFile: String?
        if let apiNode = mapping["api"], let reference = string(apiNode, "api") {
            apiFile = reference
            let path = Self.resolve(reference, relativeTo: file)
            if let apiText = readFile(reference) {
                // A description with problems still lends what it could read (its catalogue, its
                // sound rules), so its problems are not echoed by every quirk id of the flow.
                var apiLoader = FlowLoader(file: path)
                if let parsed = apiLoader.parseAPI(apiText) { api = parsed }
                problems += apiLoader.problems
            } else {
                problem(apiNode, "Cannot read the API description '\(reference)' (\(path)) that the flow names")
            }
        }
        let id = requiredString(mapping, "flow", in: root) ?? "flow"
        let title = requiredString(mapping, "title", in: root) ?? id
        let apiVersion = requiredString(mapping, "api_version", in: root) ?? ""
        var inputs: [FlowInput] = []
        if let inputsNode = mapping["inputs"] {
            if let inputMapping = inputsNode.mapping {
                for (key, value) in inputMapping {
                    if let input = parseInput(name: key, value) { inputs.append(input) }
                }
            } else {
                problem(inputsNode, "inputs must be a mapping of input names to their settings")
            }
        }
        var steps: [FlowStep] = []
        if let stepsNode = mapping["steps"] {
            if let sequence = stepsNode.sequence {
                for stepNode in sequence {
                    if let step = parseStep(stepNode) { steps.append(step) }
                }
            } else {
                problem(stepsNode, "steps must be a list")
            }
        } else {
            problem(root, "A flow needs steps")
        }
        return Flow(
            id: id, title: title, apiVersion: apiVersion, inputs: inputs, steps: steps, file: file, api: api, apiFile: apiFile,
            embeddedFiles: embeddedFiles)
    }

    static func problem(from error: YamlError, file: String) -> FlowProblem {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { "\($0.text); " } ?? ""
            return FlowProblem(
                location: SourceLocation(file: file, line: mark.line, column: mark.column), message: "YAML: \(detail)\(problem)"
            )
        case .reader(let problem, let offset, _, _):
            return FlowProblem(location: SourceLocation(file: file, line: 1, column: (offset ?? 0) + 1), message: "YAML: \(problem)")
        default:
            return FlowProblem(location: SourceLocation(file: file, line: 1, column: 1), message: "YAML: \(error)")
        }
    }

    mutating func checkKeys(_ mapping: Node.Mapping, allowed: Set<String>, in what: String) {
        for key in mapping.keys {
            guard let name = key.string else {
                problem(key, "Keys of \(what) must be strings")
                continue
            }
            if !allowed.contains(name) {
                problem(key, "Unknown key '\(name)' in \(what); expected one of: \(allowed.sorted().joined(separator: ", "))")
            }
        }
    }

    mutating func requiredString(_ mapping: Node.Mapping, _ key: String, in parent: Node?) -> String? {
        guard let node = mapping[key] else {
            problem(parent, "Missing '\(key)'")
            return nil
        }
        return string(node, key)
    }

    mutating func string(_ node: Node, _ what: String) -> String? {
        guard let scalar = node.scalar else {
            problem(node, "'\(what)' must be a text value")
            return nil
        }
        return scalar.string
    }

    mutating func optionalString(_ mapping: Node.Mapping, _ key: String) -> String? {
        guard let node = mapping[key] else { return nil }
        return string(node, key)
    }

    mutating func bool(_ mapping: Node.Mapping, _ key: String) -> Bool {
        guard let node = mapping[key] else { return false }
        guard let value = node.bool else {
            problem(node, "'\(key)' must be true or false")
            return false
        }
        return value
    }

    /// Seconds from a number (`2`, `0.5`) or a string with a unit (`500ms`, `2s`, `10m`, `1h`).
    mutating func seconds(_ mapping: Node.Mapping, _ key: String) -> Double? {
        guard let node = mapping[key] else { return nil }
        guard let text = node.scalar?.string else {
            problem(node, "'\(key)' must be a duration such as 2s, 500ms or 10m")
            return nil
        }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), value >= 0 { return value * factor }
        }
        if let value = Double(text), value >= 0 { return value }
        problem(node, "'\(key)' must be a duration such as 2s, 500ms or 10m, not '\(text)'")
        return nil
    }

    mutating func template(_ node: Node, _ text: String) -> Template? {
        do {
            return try Template(parsing: text)
        } catch {
            problem(node, "In '\(text)': \(error.message)")
            return nil
        }
    }

    mutating func parseInput(name keyNode: Node, _ node: Node) -> FlowInput? {
        guard let name = keyNode.string, Self.isName(name) else {
            problem(keyNode, "Input names use letters, digits and '_'")
            return nil
        }
        guard let mapping = node.mapping else {
            problem(
                node, "Input '\(name)' must be a mapping (env, prompt, secret, default, format, optional, generate, credential, ask_on_emulator)")
            return nil
        }
        checkKeys(
            mapping, allowed: ["env", "prompt", "secret", "default", "format", "optional", "generate", "credential", "ask_on_emulator"],
            in: "input '\(name)'")
        var format = FlowInput.Format.text
        if let node = mapping["format"], let text = string(node, "format") {
            if let value = FlowInput.Format(rawValue: text) { format = value } else { problem(node, "format must be text, uuid or amount") }
        }
        var generator: FlowInput.Generator?
        if let node = mapping["generate"], let text = string(node, "generate") {
            generator = FlowInput.Generator(rawValue: text)
            if generator == nil { problem(node, "generate must be uuid or short_id") }
        }
        var credential: Credential?
        if let node = mapping["credential"], let text = string(node, "credential") {
            if let value = Credential(rawValue: text) {
                credential = value
            } else {
                problem(node, "credential must be api_key, client_id or password")
            }
        }
        let defaultValue = optionalString(mapping, "default")
        if let defaultValue, let node = mapping["default"] { _ = template(node, defaultValue) }
        let optional = bool(mapping, "optional")
        let askOnEmulator = mapping["ask_on_emulator"] == nil || bool(mapping, "ask_on_emulator")
        if !askOnEmulator, !optional, let node = mapping["ask_on_emulator"] {
            problem(node, "ask_on_emulator: false needs optional: true (on the emulator the input stays empty)")
        }
        return FlowInput(
            name: name, env: optionalString(mapping, "env"), prompt: optionalString(mapping, "prompt") ?? name,
            secret: bool(mapping, "secret"), defaultValue: defaultValue, format: format, optional: optional,
            generate: generator, credential: credential, location: location(keyNode), askOnEmulator: askOnEmulator
        )
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    mutating func parseStep(_ node: Node) -> FlowStep? {
        guard let mapping = node.mapping else {
            problem(node, "A step is a mapping with id, title, explain and requests")
            return nil
        }
        checkKeys(mapping, allowed: ["id", "title", "explain", "inputs", "requests"], in: "a step")
        let id = requiredString(mapping, "id", in: node) ?? ""
        if !Self.isName(id) { problem(mapping["id"] ?? node, "A step id uses letters, digits and '_'") }
        let title = requiredString(mapping, "title", in: node) ?? id
        let explain = requiredString(mapping, "explain", in: node) ?? ""
        if let explainNode = mapping["explain"] { _ = template(explainNode, explain) }
        var inputs: [String] = []
        if let inputsNode = mapping["inputs"] {
            if let sequence = inputsNode.sequence {
                inputs = sequence.compactMap { string($0, "inputs") }
            } else {
                problem(inputsNode, "A step's inputs are a list of input names")
            }
        }
        var requests: [FlowRequest] = []
        if let requestsNode = mapping["requests"] {
            if let sequence = requestsNode.sequence {
                requests = sequence.compactMap { parseRequest($0) }
            } else {
                problem(requestsNode, "requests must be a list")
            }
        }
        return FlowStep(id: id, title: title, explain: explain, inputs: inputs, requests: requests, location: location(node))
    }

    static let requestKeys: Set<String> = [
        "id", "label", "method", "path", "auth", "idempotency", "safe_to_repeat", "body", "expect", "capture", "wait", "quirks", "when",
        "webhook", "headers",
    ]

    mutating func parseRequest(_ node: Node) -> FlowRequest? {
        guard let mapping = node.mapping else {
            problem(node, "A request is a mapping with id, method, path, …")
            return nil
        }
        checkKeys(mapping, allowed: Self.requestKeys, in: "a request")
        let id = requiredString(mapping, "id", in: node) ?? ""
        if !Self.isName(id) { problem(mapping["id"] ?? node, "A request id uses letters, digits and '_'") }
        let method = (requiredString(mapping, "method", in: node) ?? "GET").uppercased()
        if !["GET", "POST", "PUT", "DELETE"].contains(method) { problem(mapping["method"], "method must be GET, POST, PUT or DELETE") }
        let pathText = requiredString(mapping, "path", in: node) ?? "/"
        if !pathText.hasPrefix("/") { problem(mapping["path"], "A path starts with '/' (it is appended to the target's base URL)") }
        let path = mapping["path"].flatMap { template($0, pathText) } ?? (try? Template(parsing: "/"))!
        // Unwritten, the credentials and whether a resend is safe come from the API's rules.
        let traits = api.traits(method: method, path: pathText)
        let (auth, body, expect) = authBodyExpect(
            mapping, in: node, defaultAuth: traits.auth ?? AuthMode.bearer, expectMeans: "the statuses that mean success")
        var captures: [Capture] = []
        if let captureNode = mapping["capture"] {
            if let captureMapping = captureNode.mapping {
                for (key, value) in captureMapping {
                    if let capture = parseCapture(key, value) { captures.append(capture) }
                }
            } else {
                problem(captureNode, "capture is a mapping of names to JSON paths")
            }
        }
        var condition: RequestCondition?
        if let whenNode = mapping["when"] {
            if let whenMapping = whenNode.mapping, whenMapping.count == 1, let key = whenMapping.keys.first?.string,
                key == "set" || key == "unset", let name = whenMapping[key]?.string
            {
                condition = RequestCondition(input: name, whenSet: key == "set")
            } else {
                problem(whenNode, "when is {set: INPUT} or {unset: INPUT}")
            }
        }
        var wait: WaitSpec?
        if let waitNode = mapping["wait"] { wait = parseWait(waitNode) }
        var webhook: WebhookWait?
        if let webhookNode = mapping["webhook"] { webhook = parseWebhookWait(webhookNode) }
        var quirks: [QuirkRule] = []
        if let quirksNode = mapping["quirks"] {
            if let sequence = quirksNode.sequence {
                quirks = sequence.compactMap { parseQuirk($0) }
            } else {
                problem(quirksNode, "quirks must be a list")
            }
        }
        let headers = mapping["headers"].map { parseHeaders($0) } ?? []
        var fieldLocations: [String: SourceLocation] = [:]
        for field in ["path", "body", "auth", "safe_to_repeat", "webhook", "headers"] {
            if let fieldNode = mapping[field] { fieldLocations[field] = location(fieldNode) }
        }
        return FlowRequest(
            id: id, label: optionalString(mapping, "label"), method: method, path: path, auth: auth,
            idempotency: bool(mapping, "idempotency"),
            safeToRepeat: mapping["safe_to_repeat"] == nil ? traits.safeToRepeat ?? false : bool(mapping, "safe_to_repeat"), body: body,
            expect: expect,
            captures: captures, wait: wait, quirks: quirks, condition: condition, webhook: webhook, location: location(node),
            fieldLocations: fieldLocations, headers: headers
        )
    }

    /// `headers: {NAME: VALUE, NAME: null}`: headers a request sets (a template) or leaves out
    /// (`null`), over those the client sends by itself.
    mutating func parseHeaders(_ node: Node) -> [HeaderOverride] {
        guard let mapping = node.mapping else {
            problem(node, "headers is a mapping of header names to a value, or to null to leave the header out")
            return []
        }
        var headers: [HeaderOverride] = []
        var seen = Set<String>()
        for (key, value) in mapping {
            guard let name = key.string, Self.isHeaderName(name) else {
                problem(key, "A header name uses letters, digits and '-' ('x-api-version')")
                continue
            }
            if !seen.insert(name.lowercased()).inserted { problem(key, "Header '\(name)' is listed twice (names ignore case)") }
            if let why = Self.managedHeaders[name.lowercased()] {
                problem(key, "Header '\(name)' is the walkthrough's own: \(why)")
                continue
            }
            if value.null != nil, value.scalar?.style == .plain {
                headers.append(HeaderOverride(name: name, value: nil))
            } else if let text = string(value, name) {
                if let parsed = template(value, text) { headers.append(HeaderOverride(name: name, value: parsed)) }
            }
        }
        return headers
    }

    /// Headers a flow may not set: the credentials and the keys come from `auth` and `idempotency`.
    static let managedHeaders: [String: String] = [
        "authorization": "auth: bearer sends it",
        "x-api-key": "auth: api_key or bearer sends it",
        "idempotency-key": "idempotency: true sends it",
        "content-type": "a request with a body sends application/json",
    ]

    static func isHeaderName(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }
    }

    /// `webhook: {event, field?, equals?, timeout, quirk?, explain?: {verified, unverified, missed, not_listening}}`.
    mutating func parseWebhookWait(_ node: Node) -> WebhookWait? {
        guard let mapping = node.mapping, let event = optionalString(mapping, "event") else {
            problem(node, "webhook is {event, field?, equals?, timeout, quirk?, explain?}")
            return nil
        }
        checkKeys(mapping, allowed: ["event", "field", "equals", "timeout", "quirk", "explain"], in: "a webhook wait")
        let field = optionalString(mapping, "field").flatMap { JSONPath($0) }
        let equals = optionalString(mapping, "equals")
        if let equals, let equalsNode = mapping["equals"] { _ = template(equalsNode, equals) }
        var explain = WebhookWait.Explanations.standard
        if let explainNode = mapping["explain"] {
            if let explainMapping = explainNode.mapping {
                checkKeys(explainMapping, allowed: ["verified", "unverified", "missed", "not_listening"], in: "a webhook wait's explain")
                func text(_ key: String, _ fallback: String) -> String {
                    guard let node = explainMapping[key], let value = string(node, key) else { return fallback }
                    _ = template(node, value)
                    return value
                }
                explain = WebhookWait.Explanations(
                    verified: text("verified", explain.verified), unverified: text("unverified", explain.unverified),
                    missed: text("missed", explain.missed), notListening: text("not_listening", explain.notListening)
                )
            } else {
                problem(explainNode, "A webhook wait's explain is a mapping: verified, unverified, missed, not_listening")
            }
        }
        guard let timeout = seconds(mapping, "timeout") else {
            if mapping["timeout"] == nil { problem(node, "A webhook wait needs a 'timeout'") }
            return nil
        }
        return WebhookWait(
            event: event, field: field, equals: equals, timeout: timeout, quirk: optionalString(mapping, "quirk"), explain: explain)
    }

    /// The `auth` (else `defaultAuth`), `body` and required `expect` of a request: a flow's, or
    /// the API description's webhook registration.
    mutating func authBodyExpect(
        _ mapping: Node.Mapping, in node: Node, defaultAuth: AuthMode, expectMeans: String
    ) -> (auth: AuthMode, body: JSONValue?, expect: [Int]) {
        var auth = defaultAuth
        if let authNode = mapping["auth"], let text = string(authNode, "auth") {
            if let value = AuthMode(rawValue: text) { auth = value } else { problem(authNode, "auth must be none, api_key or bearer") }
        }
        var body: JSONValue?
        if let bodyNode = mapping["body"] {
            body = json(bodyNode)
            if let body {
                do { _ = try body.templateReferences() } catch { problem(bodyNode, "In the body: \(error.message)") }
            }
        }
        var expect: [Int] = []
        if let expectNode = mapping["expect"] {
            expect = integers(expectNode, "expect")
        } else {
            problem(node, "Missing 'expect': \(expectMeans)")
        }
        return (auth, body, expect)
    }

    mutating func integers(_ node: Node, _ what: String) -> [Int] {
        let nodes = node.sequence.map(Array.init) ?? [node]
        var values: [Int] = []
        for item in nodes {
            if let value = item.int, (100...599).contains(value) {
                values.append(value)
            } else {
                problem(item, "'\(what)' holds HTTP statuses (100-599)")
            }
        }
        return values
    }

    mutating func json(_ node: Node) -> JSONValue? {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                if node.null != nil { return .null }
                if let bool = node.bool { return .bool(bool) }
                if node.int != nil || node.float != nil, JSONValue.isNumberLexeme(scalar.string) { return .number(scalar.string) }
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for item in sequence {
                guard let value = json(item) else { return nil }
                items.append(value)
            }
            return .array(items)
        case .mapping(let mapping):
            if mapping.count == 1, let keyNode = mapping.keys.first, keyNode.string == Self.embedKey, let pathNode = mapping.values.first {
                return embed(pathNode)
            }
            var object = JSONObject()
            for (key, value) in mapping {
                guard let name = key.string else {
                    problem(key, "JSON keys must be strings")
                    return nil
                }
                guard let converted = json(value) else { return nil }
                object[name] = converted
            }
            return .object(object)
        case .alias:
            problem(node, "YAML aliases are not supported in a flow")
            return nil
        }
    }

    /// The key of a one-key mapping that stands for a file's data URL.
    static let embedKey = "file_as_data_url"

    /// The placeholder of the file `node` names, read once through `readData`; the linter reports
    /// a file that cannot be read or is not a JPEG or PNG.
    mutating func embed(_ node: Node) -> JSONValue? {
        guard let reference = node.string, !reference.isEmpty else {
            problem(node, "\(Self.embedKey) names a file, relative to the flow file")
            return nil
        }
        if let known = embeddedFiles.first(where: { $0.reference == reference }) { return .string(known.placeholder) }
        let file = EmbeddedFile(reference: reference, location: location(node), data: readData(reference))
        embeddedFiles.append(file)
        return .string(file.placeholder)
    }

    mutating func paths(_ node: Node) -> [JSONPath] {
        let nodes = node.sequence.map(Array.init) ?? [node]
        var result: [JSONPath] = []
        for item in nodes {
            guard let text = item.string, let path = JSONPath(text) else {
                problem(item, "A JSON path looks like data.id or data.0.id")
                continue
            }
            result.append(path)
        }
        return result
    }

    mutating func parseCapture(_ keyNode: Node, _ node: Node) -> Capture? {
        guard let name = keyNode.string, Self.isName(name) else {
            problem(keyNode, "Capture names use letters, digits and '_'")
            return nil
        }
        if node.scalar != nil || node.sequence != nil {
            return Capture(name: name, paths: paths(node), secret: false, role: nil, location: location(keyNode))
        }
        guard let mapping = node.mapping else {
            problem(node, "A capture is a path, a list of paths, or {path, secret, role}")
            return nil
        }
        checkKeys(mapping, allowed: ["path", "secret", "role"], in: "capture '\(name)'")
        guard let pathNode = mapping["path"] else {
            problem(node, "Capture '\(name)' needs a path")
            return nil
        }
        var role: Capture.Role?
        if let roleNode = mapping["role"], let text = string(roleNode, "role") {
            role = Capture.Role(rawValue: text)
            if role == nil { problem(roleNode, "role must be bearer_token, token_lifetime or pinned_version") }
        }
        return Capture(name: name, paths: paths(pathNode), secret: bool(mapping, "secret"), role: role, location: location(keyNode))
    }

    mutating func parseCondition(_ node: Node) -> ResponseCondition? {
        guard let mapping = node.mapping else {
            problem(node, "A condition is a mapping: status, code, message_contains, field, equals, not_in, case_sensitive")
            return nil
        }
        checkKeys(
            mapping, allowed: ["status", "code", "message_contains", "field", "equals", "not_in", "case_sensitive", "all"],
            in: "a condition")
        var condition = ResponseCondition()
        if let statusNode = mapping["status"] { condition.status = integers(statusNode, "status") }
        condition.code = optionalString(mapping, "code")
        condition.messageContains = optionalString(mapping, "message_contains")
        if let fieldNode = mapping["field"] {
            if let text = fieldNode.string, let path = JSONPath(text) {
                condition.field = path
            } else {
                problem(fieldNode, "field is a JSON path")
            }
        }
        func values(_ key: String) -> [JSONValue]? {
            guard let node = mapping[key] else { return nil }
            guard let value = json(node) else { return nil }
            if case .array(let items) = value { return items }
            return [value]
        }
        condition.equals = values("equals")
        condition.notIn = values("not_in")
        if (condition.equals != nil || condition.notIn != nil), condition.field == nil {
            problem(node, "equals and not_in need a field")
        }
        condition.caseSensitive = bool(mapping, "case_sensitive")
        if let allNode = mapping["all"] {
            if let sequence = allNode.sequence, !sequence.isEmpty {
                condition.all = sequence.compactMap { parseCondition($0) }
            } else {
                problem(allNode, "all is a list of conditions that must all hold")
            }
        }
        if mapping.count == 0 { problem(node, "An empty condition would match everything") }
        return condition
    }

    mutating func parseWait(_ node: Node) -> WaitSpec? {
        guard let mapping = node.mapping else {
            problem(node, "wait is a mapping: until, interval, backoff, max_interval, timeout, quirk, explain")
            return nil
        }
        checkKeys(mapping, allowed: ["until", "interval", "backoff", "max_interval", "timeout", "quirk", "explain"], in: "a wait")
        guard let untilNode = mapping["until"], let until = parseCondition(untilNode) else {
            if mapping["until"] == nil { problem(node, "A wait needs 'until': the condition it waits for") }
            return nil
        }
        guard let timeout = seconds(mapping, "timeout") else {
            if mapping["timeout"] == nil { problem(node, "A wait needs an overall 'timeout'") }
            return nil
        }
        let interval = seconds(mapping, "interval") ?? 2
        var backoff = 1.0
        if let backoffNode = mapping["backoff"] {
            if let value = backoffNode.float ?? backoffNode.int.map(Double.init), value >= 1 {
                backoff = value
            } else {
                problem(backoffNode, "backoff is a factor of at least 1")
            }
        }
        return WaitSpec(
            until: until, interval: interval, backoff: backoff, maxInterval: seconds(mapping, "max_interval") ?? max(interval, 30),
            timeout: timeout, quirk: optionalString(mapping, "quirk"), explain: optionalString(mapping, "explain")
        )
    }

    mutating func parseQuirk(_ node: Node) -> QuirkRule? {
        guard let mapping = node.mapping else {
            problem(node, "A quirk is a mapping: id, when, effect, explain, remedies")
            return nil
        }
        checkKeys(mapping, allowed: ["id", "when", "effect", "explain", "remedies", "required"], in: "a quirk")
        let id = requiredString(mapping, "id", in: node) ?? ""
        guard let whenNode = mapping["when"] else {
            problem(node, "Quirk \(id) needs 'when'")
            return nil
        }
        guard let when = parseCondition(whenNode) else { return nil }
        var effect = QuirkRule.Effect.block
        if let effectNode = mapping["effect"], let text = string(effectNode, "effect") {
            if let value = QuirkRule.Effect(rawValue: text) { effect = value } else { problem(effectNode, "effect must be block or note") }
        }
        let explain = requiredString(mapping, "explain", in: node) ?? ""
        if let explainNode = mapping["explain"] { _ = template(explainNode, explain) }
        var remedies: [Remedy] = []
        if let remediesNode = mapping["remedies"] {
            if let sequence = remediesNode.sequence {
                remedies = sequence.compactMap { parseRemedy($0) }
            } else {
                problem(remediesNode, "remedies must be a list")
            }
        }
        if effect == .block, remedies.isEmpty { problem(node, "A blocking quirk needs at least one remedy") }
        return QuirkRule(
            id: id, when: when, effect: effect, explain: explain, remedies: remedies, location: location(node),
            required: mapping["required"].flatMap { parseRequired($0) })
    }

    static let remedyKinds = ["request", "wait", "prompt", "search", "operator", "restart", "proceed", "stop"]

    mutating func parseRemedy(_ node: Node) -> Remedy? {
        guard let mapping = node.mapping else {
            problem(node, "A remedy is a mapping with a label and one of: \(Self.remedyKinds.joined(separator: ", "))")
            return nil
        }
        checkKeys(mapping, allowed: Set(Self.remedyKinds + ["label", "then"]), in: "a remedy")
        let kinds = Self.remedyKinds.filter { mapping[$0] != nil }
        guard kinds.count == 1, let kindName = kinds.first, let kindNode = mapping[kindName] else {
            problem(node, "A remedy has exactly one of: \(Self.remedyKinds.joined(separator: ", "))")
            return nil
        }
        let label = requiredString(mapping, "label", in: node) ?? kindName
        if let labelNode = mapping["label"] { _ = template(labelNode, label) }
        var then = Remedy.Continuation.retry
        if let thenNode = mapping["then"], let text = string(thenNode, "then") {
            if let value = Remedy.Continuation(rawValue: text) { then = value } else { problem(thenNode, "then must be retry or next") }
        }
        let kind: Remedy.Kind
        switch kindName {
        case "request":
            guard let request = parseRequest(kindNode) else { return nil }
            kind = .request(request)
        case "wait":
            kind = .wait
        case "prompt":
            guard let promptMapping = kindNode.mapping, let input = optionalString(promptMapping, "input") else {
                problem(kindNode, "prompt is {input: NAME, request?: {…}}")
                return nil
            }
            checkKeys(promptMapping, allowed: ["input", "request"], in: "a prompt remedy")
            kind = .prompt(input: input, request: promptMapping["request"].flatMap { parseRequest($0) })
        case "search":
            guard let searchMapping = kindNode.mapping, let input = optionalString(searchMapping, "input") else {
                problem(kindNode, "search is {input: NAME, span: \"20.48\", max_calls: 12}")
                return nil
            }
            checkKeys(searchMapping, allowed: ["input", "span", "max_calls"], in: "a search remedy")
            var span = 2048
            if let spanText = optionalString(searchMapping, "span") {
                if let cents = Amount.cents(spanText), cents > 0 {
                    span = cents
                } else {
                    problem(searchMapping["span"], "span is an amount such as \"20.48\"")
                }
            }
            let maxCalls = searchMapping["max_calls"]?.int ?? 12
            if maxCalls < 2 { problem(searchMapping["max_calls"], "max_calls must be at least 2") }
            // One call checks the top of the span, the rest bisect it to the cent.
            let needed = 1 + Int((Double(span)).log2Ceiling)
            if needed > maxCalls {
                problem(kindNode, "A span of \(Amount.format(span)) needs \(needed) calls to reach the cent; max_calls is \(maxCalls)")
            }
            kind = .search(input: input, spanCents: span, maxCalls: maxCalls)
        case "operator":
            guard let operatorMapping = kindNode.mapping, let action = optionalString(operatorMapping, "action"),
                let verb = OperatorAction.Verb(rawValue: action), let id = optionalString(operatorMapping, "id")
            else {
                problem(kindNode, "operator is {action: verify_user|reject_user|clear_virtual_account_rfi, id: \"{{ user_id }}\"}")
                return nil
            }
            if let idNode = operatorMapping["id"] { _ = template(idNode, id) }
            kind = .operatorAction(OperatorAction(verb: verb, id: id))
        case "restart":
            guard let from = string(kindNode, "restart") else { return nil }
            kind = .restart(from: from)
        case "proceed":
            kind = .proceed
        default:
            let advice = string(kindNode, "stop") ?? ""
            _ = template(kindNode, advice)
            kind = .stop(advice: advice)
        }
        return Remedy(label: label, kind: kind, then: then, location: location(node))
    }
}

extension Double {
    /// ⌈log₂(self)⌉ for self ≥ 1.
    var log2Ceiling: Double { self <= 1 ? 0 : (Foundation.log2(self)).rounded(.up) }
}

extension JSONValue {
    /// Whether `text` is a JSON number lexeme (so YAML `100` becomes a number, `1_000` a string).
    static func isNumberLexeme(_ text: String) -> Bool {
        guard case .number? = try? JSONValue.parse(text) else { return false }
        return true
    }
}
