import Foundation
import KiraJSON
import WalkthroughCore

/// Where each `{{ reference }}` of a flow lives in a generated script: a shell variable (inputs
/// that are not secret, captures, builtins) or an environment variable (credentials and secret
/// inputs, which the script reads from `KIRA_*` and never holds literally).
struct ShellBindings {
    enum Binding: Equatable {
        /// A script variable.
        case variable(String)
        /// An environment variable the person sets; jq reads it as `$ENV.NAME`.
        case environment(String)
    }

    private var bindings: [String: Binding] = [:]
    /// Names whose values are never printed (secret inputs, secret captures).
    private(set) var secretNames: Set<String> = []
    /// Captures that hold non-string JSON in the session (a number stays a number in a body).
    private(set) var jsonCaptures: [String: JSONValue] = [:]

    /// The environment variable holding each embedded file's data URL, by its placeholder.
    private var embedded: [String: String] = [:]

    init(flow: Flow, session: Session?) {
        for (number, file) in flow.embeddedFiles.enumerated() where file.data != nil {
            embedded[file.placeholder] = "KIRA_EMBEDDED_FILE_\(number + 1)"
        }
        for name in Flow.builtins { bindings[name] = .variable(ShellSyntax.variableName(name)) }
        for input in flow.inputs {
            if input.credential != nil || input.secret {
                bindings[input.name] = .environment(Self.environmentName(of: input))
            } else {
                bindings[input.name] = .variable(ShellSyntax.variableName(input.name))
            }
            if input.secret { secretNames.insert(input.name) }
        }
        for capture in flow.allCaptures {
            if bindings[capture.name] == nil { bindings[capture.name] = .variable(ShellSyntax.variableName(capture.name)) }
            if capture.secret { secretNames.insert(capture.name) }
            if let value = session?.captures[capture.name] {
                switch value {
                case .string, .null: break
                default: jsonCaptures[capture.name] = value
                }
            }
        }
    }

    /// The environment variable an input is read from in a script.
    static func environmentName(of input: FlowInput) -> String {
        input.env ?? "KIRA_" + String(input.name.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }

    func binding(_ name: String) -> Binding {
        bindings[name] ?? .variable(ShellSyntax.variableName(name))
    }

    /// The name the script uses for `name`.
    func shellName(_ name: String) -> String {
        switch binding(name) {
        case .variable(let variable), .environment(let variable): variable
        }
    }

    /// `name` as a bash expansion: `${user_id}`.
    func expansion(_ name: String) -> String { "${\(shellName(name))}" }

    /// `name` as a jq expression: `$user_id`, or `$ENV.KIRA_PASSWORD` for what lives in the
    /// environment and secret captures (exported, so that no secret is ever a process argument).
    func jqValue(_ name: String) -> String {
        switch binding(name) {
        case .environment(let variable): return "$ENV.\(variable)"
        case .variable(let variable): return secretNames.contains(name) ? "$ENV.\(variable)" : "$\(variable)"
        }
    }

    /// The `--arg` options a jq program needs for `names` (environment values need none).
    func jqArguments(_ names: [String]) -> String {
        var seen = Set<String>()
        var arguments: [String] = []
        for name in names where seen.insert(name).inserted {
            guard case .variable(let variable) = binding(name), !secretNames.contains(name) else { continue }
            arguments.append("--arg \(variable) \"$\(variable)\"")
        }
        return arguments.joined(separator: " ")
    }

    /// A template as the inside of a bash double-quoted string; secrets are shown as `[secret]`, and
    /// a reference `literals` holds is written as that text (a value known when the script is made).
    func shellText(_ source: String, literals: [String: String] = [:]) -> String {
        guard let template = try? Template(parsing: source) else { return ShellQuoting.doubleQuotedContent(source) }
        var out = ""
        for part in template.parts {
            switch part {
            case .literal(let text): out += ShellQuoting.doubleQuotedContent(text)
            case .reference(let name) where literals[name] != nil: out += ShellQuoting.doubleQuotedContent(literals[name] ?? "")
            case .reference(let name): out += secretNames.contains(name) ? "[secret]" : expansion(name)
            }
        }
        return out
    }

    /// A template as a path: `"/v1/users/${user_id}"`.
    func shellWord(_ source: String) -> String { "\"\(shellText(source))\"" }

    /// A template string of a request body as a jq expression: a string with interpolations, or for
    /// a sole reference to a capture that held a number (or other JSON), that JSON, as the
    /// walkthrough substitutes it.
    /// The variable the script exports an embedded file's data URL in, for its placeholder.
    func embeddedVariable(_ placeholder: String) -> String? { embedded[placeholder] }

    func jqString(_ source: String) -> String {
        if let variable = embedded[source] { return "$ENV.\(variable)" }
        guard let template = try? Template(parsing: source) else { return "\"\(ShellSyntax.jsonStringContent(source))\"" }
        if let name = template.soleReference, let value = jsonCaptures[name] {
            switch value {
            case .number: return "(\(jqValue(name)) | tonumber)"
            case .bool: return "(\(jqValue(name)) == \"true\")"
            default: return "(\(jqValue(name)) | fromjson)"
            }
        }
        var out = "\""
        for part in template.parts {
            switch part {
            case .literal(let text): out += ShellSyntax.jsonStringContent(text)
            case .reference(let name): out += "\\(\(jqValue(name)))"
            }
        }
        return out + "\""
    }

    /// A JSON template (a request body) as a jq program, pretty-printed at `indent`.
    func jqProgram(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .string(let text): return jqString(text)
        case .number(let lexeme): return lexeme
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        case .array(let items):
            guard !items.isEmpty else { return "[]" }
            return "[\n" + items.map { inner + jqProgram($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let object):
            guard object.count > 0 else { return "{}" }
            let entries = object.entries.map { entry in
                "\(inner)\"\(ShellSyntax.jsonStringContent(entry.key))\": \(jqProgram(entry.value, indent: inner))"
            }
            return "{\n" + entries.joined(separator: ",\n") + "\n\(indent)}"
        }
    }
}

extension Flow {
    /// Every capture of every request, remedies' requests included, in flow order.
    var allCaptures: [Capture] {
        allRequests.flatMap { $0.request.captures }
    }
}

extension FlowRequest {
    /// Every reference in the path and the body.
    var sentReferences: [String] {
        path.references + (body.map { $0.references } ?? []) + headers.flatMap { $0.value?.references ?? [] }
    }
}
