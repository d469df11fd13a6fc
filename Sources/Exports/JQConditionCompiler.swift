import KiraJSON
import WalkthroughCore

/// Compiles a flow condition (`ResponseCondition`) to a jq expression that answers what the
/// walkthrough's engine answers (`WalkthroughEngine.matches`) for the same response.
///
/// The expression reads `$status` (a number), `$json` (the body, or null when it is not JSON) and
/// `$raw` (the body as text), as the exported script's `response_matches` binds them, and uses the
/// jq definitions of `Resources/prelude.sh` (`value_at`, `text_of`, `lower`). Every condition of an
/// exported script comes from here; ExportTests checks it against the engine over the answers of a
/// real session. It mirrors the engine part by part:
/// - `status`: one of the statuses;
/// - `code`: the body's `code` is a string equal to it;
/// - `message_contains`: the body's `message` when it is a string, else the whole body as text,
///   contains it (an empty fragment is never contained, as with Foundation's `contains`);
/// - `field` with `equals` / `not_in`: a string is compared with the field's value as text (a
///   missing or null field equals no string), after its `{{ references }}` are filled with the
///   script's values — or, when one of them has no value yet, as written; any other value is
///   compared as JSON, and a missing field is `null`;
/// - without `case_sensitive`, text is compared in lower case as Swift lowers it;
/// - `all`: each of its conditions holds.
///
/// What jq cannot see is the one difference left: jq reads numbers as doubles, so a number written
/// in another form (`100.50` and `100.5`, `1e2` and `100`) is equal for the script and not for the
/// engine, which compares a number's text; and Swift compares strings by canonical equivalence
/// (`é` precomposed equals `e` + combining accent), jq by code points.
struct JQConditionCompiler {
    /// Where each `{{ reference }}` lives in the script.
    let bindings: ShellBindings

    /// The condition as a jq expression (`true` for a condition that checks nothing).
    func expression(_ condition: ResponseCondition) -> String {
        var parts: [String] = []
        let folds = !condition.caseSensitive
        if let statuses = condition.status {
            parts.append(statuses.isEmpty ? "false" : "(" + statuses.map { "$status == \($0)" }.joined(separator: " or ") + ")")
        }
        if let code = condition.code {
            let actual = folds ? "($code | lower)" : "$code"
            parts.append(
                "(($json | value_at([\"code\"])) as $code | ($code | type) == \"string\" and \(actual) == \(literal(code, folded: folds)))"
            )
        }
        if let fragment = condition.messageContains {
            if fragment.isEmpty {
                parts.append("false")
            } else {
                let message = "(($json | value_at([\"message\"])) | if type == \"string\" then . else $raw end)"
                parts.append("(\(message)\(folds ? " | lower" : "") | index(\(literal(fragment, folded: folds))) != null)")
            }
        }
        if let field = condition.field {
            var tests: [String] = []
            if let values = condition.equals { tests.append(anyEqual(values, folds: folds)) }
            if let values = condition.notIn { tests.append("(\(anyEqual(values, folds: folds)) | not)") }
            if !tests.isEmpty {
                parts.append("(\(Self.valueAt(field)) as $v | \(tests.joined(separator: " and ")))")
            }
        }
        for part in condition.all ?? [] { parts.append("(\(expression(part)))") }
        return parts.isEmpty ? "true" : parts.joined(separator: " and ")
    }

    /// The condition as the arguments of the script's `response_matches`: the single-quoted
    /// expression, then the `--arg` options its references need (unless `includeArguments` is false).
    func shellArguments(_ condition: ResponseCondition, includeArguments: Bool = true) -> String {
        let arguments = includeArguments ? bindings.jqArguments(condition.references) : ""
        return ShellQuoting.singleQuoted(expression(condition)) + (arguments.isEmpty ? "" : " " + arguments)
    }

    // MARK: Parts

    /// Whether `$v` equals one of `values`.
    func anyEqual(_ values: [JSONValue], folds: Bool) -> String {
        values.isEmpty ? "false" : "(" + values.map { equal($0, folds: folds) }.joined(separator: " or ") + ")"
    }

    /// Whether `$v` equals `expected`: a string as text (never a missing or null field), anything
    /// else as JSON.
    func equal(_ expected: JSONValue, folds: Bool) -> String {
        guard case .string(let text) = expected else { return "$v == \(expected.text())" }
        let actual = folds ? "($v | text_of | lower)" : "($v | text_of)"
        return "($v != null and \(actual) == \(expectedText(text, folds: folds)))"
    }

    /// An expected string: its references filled with the script's values (all or none, like the
    /// engine, which compares the text as written when one of them has no value), lowered unless
    /// the comparison is case-sensitive.
    func expectedText(_ source: String, folds: Bool) -> String {
        guard let template = try? Template(parsing: source), !template.references.isEmpty else {
            return literal(source, folded: folds)
        }
        var values: [String: String] = [:]
        for name in template.references where values[name] == nil { values[name] = value(name) }
        var rendered = "\""
        for part in template.parts {
            switch part {
            case .literal(let text): rendered += ShellSyntax.jsonStringContent(text)
            case .reference(let name): rendered += "\\(\(values[name]!))"
            }
        }
        rendered += "\""
        let unknown = template.references.map { "\(values[$0]!) == \"\"" }
        var seen = Set<String>()
        let tests = unknown.filter { seen.insert($0).inserted }.joined(separator: " or ")
        let text = "(if \(tests) then \(literal(source, folded: false)) else \(rendered) end)"
        return folds ? "(\(text) | lower)" : text
    }

    /// A reference's value in jq, `""` when it has none (an unset environment variable is null).
    func value(_ name: String) -> String {
        let expression = bindings.jqValue(name)
        return expression.hasPrefix("$ENV.") ? "(\(expression) // \"\")" : expression
    }

    /// A string as a jq literal, lowered as Swift lowers it when `folded`.
    func literal(_ text: String, folded: Bool) -> String {
        "\"\(ShellSyntax.jsonStringContent(folded ? text.lowercased() : text))\""
    }

    /// The value at a path of `$json`, null where there is none (as `JSONPath.resolve`: a key
    /// only in an object, an index only in an array).
    static func valueAt(_ path: JSONPath) -> String {
        let negative = path.segments.contains { if case .index(let index) = $0 { index < 0 } else { false } }
        return negative ? "null" : "($json | value_at(\(ShellSyntax.jqPathArray(path))))"
    }
}
