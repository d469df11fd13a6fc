import Foundation
import KiraJSON
import WalkthroughCore

/// One problem in a flow file, where it is and what is wrong.
public struct FlowIssue: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    /// `file:line:column: error: message`, as compilers write it.
    public var description: String { "\(location): error: \(message)" }
}

/// The outcome of checking a flow file: the flow when it loads, and every problem found.
public struct FlowCheck: Sendable {
    public var flow: Flow?
    public var issues: [FlowIssue]
    public var isValid: Bool { flow != nil && issues.isEmpty }
}

/// Checks a flow without sending anything, beyond what loading it checks.
///
/// `FlowLoader` already refuses unknown references, waits without a timeout and creating calls
/// without an idempotency key; this adds what only the order of the steps or the raw text can
/// tell: captures used before (or by) the request that captures them, cyclic input defaults, waits
/// whose timeout is zero, secrets written literally, credentials not marked secret, and quirk ids
/// that are not in the contract. Reference problems are pinned to the reference's own line and column.
public enum FlowLint {
    /// Loads and checks `text`, naming `file` in every location.
    public static func check(_ text: String, file: String) -> FlowCheck {
        let source = SourceText(text, file: file)
        var issues: [FlowIssue] = []
        var flow: Flow?
        do {
            flow = try FlowLoader.load(text, file: file)
        } catch {
            issues += error.problems.map { FlowIssue(location: source.refine($0.location, message: $0.message), message: $0.message) }
        }
        if let flow { issues += lint(flow, source: source) }
        issues += literalSecrets(in: source)
        var seen = Set<String>()
        let unique = issues.filter { seen.insert("\($0.location)|\($0.message)").inserted }
        return FlowCheck(
            flow: flow,
            issues: unique.sorted {
                ($0.location.line, $0.location.column, $0.message) < ($1.location.line, $1.location.column, $1.message)
            }
        )
    }

    /// The checks on a loaded flow.
    static func lint(_ flow: Flow, source: SourceText) -> [FlowIssue] {
        orderingIssues(flow, source: source) + cyclicDefaults(flow) + waitIssues(flow, source: source) + quirkIssues(flow, source: source)
            + credentialIssues(flow, source: source) + idempotencyIssues(flow) + bodySecretIssues(flow, source: source)
    }

    // MARK: Order of captures

    /// A capture must be captured by a request that runs before the one that uses it.
    static func orderingIssues(_ flow: Flow, source: SourceText) -> [FlowIssue] {
        let inputNames = Set(flow.inputs.map(\.name)).union(Flow.builtins)
        var firstDefinition: [String: (step: FlowStep, request: FlowRequest, capture: Capture)] = [:]
        for entry in flow.allRequests {
            for capture in entry.request.captures where firstDefinition[capture.name] == nil && !inputNames.contains(capture.name) {
                firstDefinition[capture.name] = (entry.step, entry.request, capture)
            }
        }
        var issues: [FlowIssue] = []
        var defined = Set<String>()

        func check(_ request: FlowRequest, step: FlowStep, available: Set<String>) {
            // What is sent must be known before sending; what is only shown (explanations, labels of
            // remedies) may also use what this very request captures.
            var sent: [(name: String, from: SourceLocation)] = request.path.references.map {
                ($0, request.fieldLocations["path"] ?? request.location)
            }
            sent += (request.body?.references ?? []).map { ($0, request.fieldLocations["body"] ?? request.location) }
            sent += (request.label.map { (try? Template(parsing: $0).references) ?? [] } ?? []).map { ($0, request.location) }
            let conditions =
                request.quirks.flatMap { CurlScript.conditionReferences($0.when) }
                + (request.wait.map { CurlScript.conditionReferences($0.until) } ?? [])
            sent += conditions.map { ($0, request.location) }
            var reported = Set<String>()
            for use in sent where !inputNames.contains(use.name) && !available.contains(use.name) && reported.insert(use.name).inserted {
                guard let definition = firstDefinition[use.name] else { continue }  // unknown: FlowLoader reports it
                let location = source.reference(use.name, from: use.from) ?? use.from
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
                issues.append(FlowIssue(location: location, message: message))
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
        return issues
    }

    /// Input defaults that refer to each other in a circle can never be filled.
    static func cyclicDefaults(_ flow: Flow) -> [FlowIssue] {
        var edges: [String: [String]] = [:]
        for input in flow.inputs {
            edges[input.name] =
                input.defaultValue.map { (try? Template(parsing: $0).references) ?? [] }?.filter { flow.input($0) != nil } ?? []
        }
        var issues: [FlowIssue] = []
        var reported = Set<String>()
        for input in flow.inputs {
            // Depth-first from each input, bounded by the number of inputs.
            var stack: [(name: String, path: [String])] = [(input.name, [input.name])]
            while let (name, path) = stack.popLast() {
                for next in edges[name] ?? [] {
                    if next == input.name {
                        let cycle = (path + [next]).joined(separator: " → ")
                        if reported.insert(Set(path).sorted().joined(separator: ",")).inserted {
                            issues.append(
                                FlowIssue(
                                    location: input.location, message: "The defaults of inputs refer to each other in a circle: \(cycle)"))
                        }
                    } else if !path.contains(next), path.count <= flow.inputs.count {
                        stack.append((next, path + [next]))
                    }
                }
            }
        }
        return issues
    }

    // MARK: Waits, quirks, credentials, idempotency

    static func waitIssues(_ flow: Flow, source: SourceText) -> [FlowIssue] {
        flow.allRequests.compactMap { entry in
            guard let wait = entry.request.wait, !(wait.timeout > 0) else { return nil }
            let location = source.find("timeout", from: entry.request.location) ?? entry.request.location
            return FlowIssue(
                location: location, message: "The wait of '\(entry.request.id)' has no overall timeout (it is 0): give it one, such as 10m")
        }
    }

    static func quirkIssues(_ flow: Flow, source: SourceText) -> [FlowIssue] {
        var issues: [FlowIssue] = []
        func unknown(_ id: String, at location: SourceLocation) {
            guard !KnownQuirks.ids.contains(id) else { return }
            let suggestion = KnownQuirks.ids.min { distance($0, id) < distance($1, id) }.flatMap {
                distance($0, id) <= 4 ? " (did you mean '\($0)'?)" : nil
            }
            issues.append(
                FlowIssue(
                    location: source.find(id, from: location) ?? location,
                    message: "Unknown quirk id '\(id)'\(suggestion ?? ""): quirk ids come from the behaviour contract, such as "
                        + "Q-ONE-VA or Q-PAYOUT-MIN (`kira-walkthrough flows validate` knows \(KnownQuirks.ids.count))"
                )
            )
        }
        for entry in flow.allRequests {
            for rule in entry.request.quirks { unknown(rule.id, at: rule.location) }
            if let quirk = entry.request.wait?.quirk { unknown(quirk, at: entry.request.location) }
        }
        return issues
    }

    /// Credential inputs that are not secret would be written to the session file.
    static func credentialIssues(_ flow: Flow, source: SourceText) -> [FlowIssue] {
        flow.inputs.compactMap { input in
            guard let credential = input.credential, credential != .clientID, !input.secret else { return nil }
            return FlowIssue(
                location: input.location,
                message:
                    "Input '\(input.name)' holds the \(credential.rawValue) credential but is not 'secret: true': it would be written to the session file"
            )
        }
    }

    /// Creating calls nested deeper than `FlowLoader` looks (a remedy of a remedy's request).
    static func idempotencyIssues(_ flow: Flow) -> [FlowIssue] {
        let checked = Set(flow.steps.flatMap { $0.requestsIncludingRemedies.map(\.location) })
        return flow.allRequests.compactMap { entry in
            let request = entry.request
            guard !checked.contains(request.location), request.method == "POST", !request.idempotency,
                RequestEffect.describe(method: "POST", path: request.path.source).hasPrefix("creates"),
                request.path.source.hasPrefix("/v1/")
            else { return nil }
            return FlowIssue(
                location: request.location,
                message:
                    "POST \(request.path.source) needs 'idempotency: true': the API rejects it without an Idempotency-Key (Q-IDEMPOTENCY)"
            )
        }
    }

    // MARK: Secrets

    /// Keys whose values are credentials, in a body or a query.
    static let secretFields: Set<String> = Redactor.secretKeys.union(["authorization", "x-api-key", "api-key", "apikey", "bearer"])

    /// Body fields and query parameters that carry a credential written as a literal instead of a
    /// `{{ reference }}`.
    static func bodySecretIssues(_ flow: Flow, source: SourceText) -> [FlowIssue] {
        var issues: [FlowIssue] = []
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
            for (name, value) in HTTPArchive.query(of: "http://flow" + request.path.source)
            where secretFields.contains(name.lowercased()) && isLiteral(value) {
                literals.append((name, "the query"))
            }
            for literal in literals {
                let start =
                    literal.where == "the body"
                    ? (request.fieldLocations["body"] ?? request.location) : (request.fieldLocations["path"] ?? request.location)
                issues.append(
                    FlowIssue(
                        location: source.find(literal.field, from: start) ?? start,
                        message:
                            "'\(literal.field)' in \(literal.where) of '\(request.id)' is written literally: a secret never goes in a flow file; "
                            + "use a secret input, such as \"{{ password }}\", read from the environment"
                    )
                )
            }
        }
        return issues
    }

    /// A non-empty value with no reference in it.
    static func isLiteral(_ text: String) -> Bool {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty, text != Redactor.mask else { return false }
        return ((try? Template(parsing: text).references) ?? []).isEmpty
    }

    /// Tokens, api keys, bearer values and JSON Web Tokens anywhere in the text, comments included.
    static func literalSecrets(in source: SourceText) -> [FlowIssue] {
        SecretScrubber().findings(in: source.text).map { finding in
            FlowIssue(
                location: source.location(ofOffset: finding.offset),
                message: "This looks like a literal \(finding.kind.rawValue) written in the flow file: secrets come from the environment "
                    + "(KIRA_*) through a secret input, referenced as {{ name }}"
            )
        }
    }

    /// Edit distance, for "did you mean".
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
}

/// A flow file's text, for pinning problems to the exact line and column of what they name.
struct SourceText {
    let text: String
    let file: String
    let lines: [[Character]]

    init(_ text: String, file: String) {
        self.text = text
        self.file = file
        lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.hasSuffix("\r") ? $0.dropLast() : $0) }
    }

    /// 1-based line and column of a character offset.
    func location(ofOffset offset: Int) -> SourceLocation {
        var remaining = offset
        for (index, line) in lines.enumerated() {
            if remaining <= line.count { return SourceLocation(file: file, line: index + 1, column: remaining + 1) }
            remaining -= line.count + 1
        }
        return SourceLocation(file: file, line: max(1, lines.count), column: 1)
    }

    /// The lines of the YAML node that starts at `start`: until a line indented less than it.
    func region(from start: SourceLocation) -> Range<Int> {
        let first = max(0, start.line - 1)
        guard first < lines.count else { return lines.count..<lines.count }
        let indent = max(0, start.column - 1)
        var end = first + 1
        while end < lines.count {
            let line = lines[end]
            let leading = line.prefix { $0 == " " }.count
            let content = line.drop { $0 == " " }
            if !content.isEmpty, content.first != "#", leading < indent { break }
            end += 1
        }
        return first..<end
    }

    /// Where `{{ name }}` is first written in the node at `start`.
    func reference(_ name: String, from start: SourceLocation) -> SourceLocation? {
        for index in region(from: start) {
            let line = lines[index]
            var column = index == start.line - 1 ? max(0, start.column - 1) : 0
            while column + 1 < line.count {
                if line[column] == "{", line[column + 1] == "{", let close = closing(line, after: column + 2) {
                    let inside = String(line[(column + 2)..<close]).trimmingCharacters(in: .whitespaces)
                    if inside == name { return SourceLocation(file: file, line: index + 1, column: column + 1) }
                    column = close + 2
                } else {
                    column += 1
                }
            }
        }
        return nil
    }

    func closing(_ line: [Character], after start: Int) -> Int? {
        var index = start
        while index + 1 < line.count {
            if line[index] == "}", line[index + 1] == "}" { return index }
            index += 1
        }
        return nil
    }

    /// Where `word` is first written in the node at `start` (outside comments).
    func find(_ word: String, from start: SourceLocation) -> SourceLocation? {
        let needle = Array(word)
        for index in region(from: start) {
            let line = lines[index]
            let from = index == start.line - 1 ? max(0, start.column - 1) : 0
            guard from + needle.count <= line.count else { continue }
            for column in from...(line.count - needle.count) {
                if line[column] == "#", column == 0 || line[column - 1] == " " { break }
                if Array(line[column..<(column + needle.count)]) == needle {
                    return SourceLocation(file: file, line: index + 1, column: column + 1)
                }
            }
        }
        return nil
    }

    /// A loader problem about an unknown reference, pinned to the reference itself.
    func refine(_ location: SourceLocation, message: String) -> SourceLocation {
        guard let start = message.range(of: "'{{ "), let end = message[start.upperBound...].range(of: " }}'") else { return location }
        let name = String(message[start.upperBound..<end.lowerBound])
        return reference(name, from: location) ?? location
    }
}
