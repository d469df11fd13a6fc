import Foundation
import KiraJSON
import WalkthroughCore

/// A bash script that performs a session's walkthrough again, from scratch, with curl and jq.
///
/// It is generated from the flow — every step, request, body template, capture, condition, wait
/// and quirk — and from the session: the non-secret inputs it used become defaults (so a payout
/// minimum the session found is the amount), optional inputs it set or left empty choose the same
/// branches, and each quirk it met is passed the way it was passed (the remedy it took). Everything
/// else is fresh: credentials come from `KIRA_*` only, idempotency keys are new UUIDs, and every id
/// is read from the answers with jq.
struct CurlScript {
    let flow: Flow
    let session: Session
    let generatedAt: Date
    let bindings: ShellBindings
    let history: RemedyHistory
    /// Request → the name of the shell function that sends it (unique across the flow).
    let functionNames: [String: String]

    init(flow: Flow, session: Session, generatedAt: Date) {
        self.flow = flow
        self.session = session
        self.generatedAt = generatedAt
        bindings = ShellBindings(flow: flow, session: session)
        history = RemedyHistory(flow: flow, session: session)
        var names: [String: String] = [:]
        let requests = flow.allRequests
        let counts = Dictionary(grouping: requests, by: { $0.request.id }).mapValues(\.count)
        for entry in requests {
            let plain = ShellSyntax.variableName(entry.request.id)
            let unique = counts[entry.request.id] == 1 ? plain : ShellSyntax.variableName("\(entry.step.id)_\(entry.request.id)")
            names[Self.key(entry.step, entry.request)] = unique
        }
        functionNames = names
    }

    static func key(_ step: FlowStep, _ request: FlowRequest) -> String { "\(step.id)/\(request.id)" }

    /// The script.
    var text: String {
        let out = ScriptLines()
        header(out)
        out.blank()
        out.raw(Self.prelude)
        out.blank()
        inputs(out)
        for (index, step) in flow.steps.enumerated() {
            out.blank()
            self.step(step, index: index, out)
        }
        out.blank()
        summary(out)
        return out.text
    }

    // MARK: Header, inputs, summary

    /// The base URL the script targets unless `KIRA_BASE_URL` says otherwise. A local session's
    /// embedded emulator is gone with its port, so such a session points at `sandbox serve`'s default.
    var defaultBaseURL: String {
        session.target.kind == "local" ? "http://127.0.0.1:4010/sandbox" : session.target.baseURL
    }

    var requiredEnvironment: [String] {
        var names: [String] = []
        for input in flow.inputs where (input.credential != nil || input.secret) && !input.optional {
            let name = ShellBindings.environmentName(of: input)
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    func header(_ out: ScriptLines) {
        let timestamp = ISO8601DateFormatter().string(from: generatedAt)
        out.line("#!/usr/bin/env bash")
        // Before any command, so it holds for the whole script (prelude included).
        out.line("# shellcheck disable=SC2016  # the single-quoted jq programs' $names are jq's, not the shell's")
        out.comments("\(flow.title), performed again from scratch with curl and jq.")
        out.line("#")
        out.comments(
            "Exported by `kira-walkthrough export --format curl` on \(timestamp) from session '\(session.name)' (flow '\(flow.id)', "
                + "\(flow.file); target \(session.target.kind) \(session.target.baseURL)). It creates new resources with fresh "
                + "idempotency keys and reads every id from the answers: nothing of the old session is reused but the non-secret "
                + "inputs below, as defaults. The steps, requests, waits and quirk handling come from the flow; where the session "
                + "met a quirk, the script passes it the same way."
        )
        out.line("#")
        out.line("# Needs bash, curl and jq. Credentials come from the environment only:")
        for name in requiredEnvironment { out.line("#   \(name)  (required)") }
        out.line("#   KIRA_BASE_URL  (default: \(defaultBaseURL))")
        for input in flow.inputs where input.credential == nil && !input.secret && input.env != nil {
            out.line("#   \(input.env!)  (\(input.prompt))")
        }
        out.line("#   KIRA_WAIT_TIMEOUT  (seconds; overrides every wait's timeout)")
        out.line("# Exit codes: 0 every step done, 1 error, 3 only a person can go on (for example, verify the user).")
        out.line("set -euo pipefail")
        out.line("umask 077")
        out.blank()
        out.line("for tool in curl jq; do")
        out.line("  command -v \"$tool\" >/dev/null 2>&1 || { printf 'error: %s is required but not installed\\n' \"$tool\" >&2; exit 1; }")
        out.line("done")
        if !requiredEnvironment.isEmpty {
            let list = requiredEnvironment.joined(separator: " ")
            out.line("for variable in \(list); do")
            out.line(
                "  [ -n \"${!variable:-}\" ] || { printf 'error: %s is not set: export the credentials your Kira contact gave you (\(list))\\n' \"$variable\" >&2; exit 1; }"
            )
            out.line("done")
            out.line("export \(list)")
        }
        out.line("KIRA_BASE_URL=\"${KIRA_BASE_URL:-\(ShellQuoting.doubleQuotedContent(defaultBaseURL))}\"")
        out.line("KIRA_BASE_URL=\"${KIRA_BASE_URL%/}\"")
        out.line("case $KIRA_BASE_URL in")
        out.line("  https://* | http://127.* | http://localhost[:/]* | 'http://[::1]'*) ;;")
        out.line("  *) printf 'error: KIRA_BASE_URL must use https (plain http only on loopback): %s\\n' \"$KIRA_BASE_URL\" >&2; exit 1 ;;")
        out.line("esac")
    }

    func inputs(_ out: ScriptLines) {
        embeddedFiles(out)
        out.line("# ── Inputs ──")
        out.comments("Values that are not secret, with the session's as defaults; credentials stay in KIRA_*.")
        out.line("\(bindings.shellName("api_version"))=\(ShellQuoting.doubleQuoted(flow.apiVersion))  # the API version the flow pins")
        for input in flow.inputs {
            guard case .variable(let variable) = bindings.binding(input.name) else { continue }
            let sessionValue = session.inputs[input.name]
            var note = input.prompt
            let value: String
            if let generator = input.generate {
                value = generator == .uuid ? "$(new_uuid)" : "$(new_uuid | tr -d '-' | cut -c1-8)"
                note = "generated afresh for this run: " + note
            } else {
                let fallback = sessionValue ?? input.defaultValue.flatMap { renderedDefault($0) } ?? ""
                let escaped = ShellQuoting.doubleQuotedContent(fallback)
                // Inside ${NAME:-…} a brace would end the expansion.
                value = input.env.map { "${\($0):-\(escaped.replacingOccurrences(of: "}", with: "\\}"))}" } ?? escaped
                if let sessionValue, sessionValue != input.defaultValue {
                    note += sessionValue.isEmpty ? " (the session left it empty)" : " (the session's value)"
                }
                if let search = searchNote(for: input.name) { note += "; \(search)" }
            }
            out.line("\(variable)=\"\(value)\"  # \(note.replacingOccurrences(of: "\n", with: " "))")
            switch input.format {
            case .amount:
                out.line(
                    input.optional
                        ? "[ -z \"$\(variable)\" ] || check_amount \(input.name) \"$\(variable)\""
                        : "check_amount \(input.name) \"$\(variable)\"")
            case .uuid:
                out.line(
                    input.optional
                        ? "[ -z \"$\(variable)\" ] || check_uuid \(input.name) \"$\(variable)\""
                        : "check_uuid \(input.name) \"$\(variable)\"")
            case .text:
                if !input.optional, input.generate == nil {
                    let from = input.env.map { "set \($0)" } ?? "set \(variable) in this script"
                    out.line("[ -n \"$\(variable)\" ] || die \(ShellQuoting.doubleQuoted("\(input.prompt): \(from)"))")
                }
            }
        }
        let captures = Set(flow.allCaptures.map(\.name)).subtracting(flow.inputs.map(\.name)).sorted()
        let keys = flow.allRequests.filter { $0.request.idempotency }.map { "key_\(functionNames[Self.key($0.step, $0.request)]!)" }
        if !captures.isEmpty {
            out.line("# Captured from the answers as the steps run:")
            for group in stride(from: 0, to: captures.count, by: 6) {
                out.line(captures[group..<min(group + 6, captures.count)].map { "\(bindings.shellName($0))=\"\"" }.joined(separator: " "))
            }
        }
        if !keys.isEmpty {
            out.line(
                "# Idempotency keys, made fresh when their request is first sent"
                    + (flow.api.ruleQuirks.idempotencyKey.map { " (\($0))" } ?? "") + ":")
            out.line(keys.map { "\($0)=\"\"" }.joined(separator: " "))
        }
    }

    /// An input default with its references filled from the session, or nil when one is unknown.
    func renderedDefault(_ source: String) -> String? {
        guard let template = try? Template(parsing: source) else { return source }
        return template.render { name in
            name == "api_version" ? flow.apiVersion : session.inputs[name] ?? session.captures[name].map(WalkthroughEngine.describe)
        }
    }

    /// A text with only the builtins filled (`{{ api_version }}`): values of the old session never
    /// go into comments.
    func withBuiltins(_ source: String) -> String {
        guard let template = try? Template(parsing: source) else { return source }
        return template.render { $0 == "api_version" ? flow.apiVersion : "{{ \($0) }}" } ?? source
    }

    /// What the session's search found for an input, as a note.
    func searchNote(for input: String) -> String? {
        guard let event = session.events.last(where: { $0.kind == .search && $0.text.contains(" \(input) is now ") }) else { return nil }
        return
            "found by the session's search (\(event.quirkID ?? "search")): \(event.text.split(separator: "(").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? event.text)"
    }

    func summary(_ out: ScriptLines) {
        let shown = flow.allCaptures.filter { !$0.secret }.map(\.name)
        var seen = Set<String>()
        out.line(
            "printf '\\n✓ %s: all %s steps done against %s\\n' \(ShellQuoting.doubleQuoted(flow.title)) \(flow.steps.count) \"$KIRA_BASE_URL\""
        )
        for name in shown where seen.insert(name).inserted {
            let variable = bindings.shellName(name)
            out.line("[ -z \"${\(variable)}\" ] || printf '  %s = %s\\n' \(ShellQuoting.singleQuoted(name)) \"$\(variable)\"")
        }
    }

    // MARK: Steps

    func step(_ step: FlowStep, index: Int, _ out: ScriptLines) {
        let record = session.steps.first { $0.id == step.id }
        out.line("# ━━ Step \(index + 1) of \(flow.steps.count) · \(step.title) ━━")
        out.comments(withBuiltins(step.explain).trimmingCharacters(in: .whitespacesAndNewlines))
        if let record, record.state != .succeeded {
            out.comments("In the session this step ended \(record.state.rawValue).")
        }
        out.line("step_begin \(index + 1) \(flow.steps.count) \(ShellQuoting.doubleQuoted(step.title))")
        if !step.inputs.isEmpty {
            let described = step.inputs.map { name -> String in
                guard let input = flow.input(name) else { return name }
                switch bindings.binding(name) {
                case .environment(let variable): return "\(name) from \(variable)"
                case .variable(let variable): return input.secret ? "\(name) (secret)" : "\(name) = $\(variable)"
                }
            }
            out.line("printf '  %s\\n' \(ShellQuoting.doubleQuoted(described.joined(separator: ", ")))")
        }
        guard !step.requests.isEmpty else {
            out.line("printf '  nothing to send in this step\\n'")
            return
        }
        for request in Self.requestsWithRemedies(step) { sendFunction(request, step: step, out) }
        out.line(Self.goTo(step.requests[0].id))
        out.line("while [ \"$next\" != \"done\" ]; do")
        out.indented {
            out.line("step_round \(step.id)")
            out.line("case $next in")
            for (position, request) in step.requests.enumerated() {
                let after = position + 1 < step.requests.count ? step.requests[position + 1].id : "done"
                flowRequestCase(request, after: after, step: step, out)
            }
            out.line("  *) die \"step \(step.id) has no request $next\" ;;")
            out.line("esac")
        }
        out.line("done")
    }

    /// Sets the request a step goes to next; `done` (the end of the step) is quoted, so that
    /// neither bash nor shellcheck could read it as the keyword.
    static func goTo(_ request: String) -> String {
        request == "done" ? "next=\"done\"" : "next=\(request)"
    }

    static func requestsWithRemedies(_ step: FlowStep) -> [FlowRequest] {
        var all: [FlowRequest] = []
        func visit(_ request: FlowRequest) {
            all.append(request)
            request.remedyRequests.forEach(visit)
        }
        step.requests.forEach(visit)
        return all
    }

    func functionName(_ step: FlowStep, _ request: FlowRequest) -> String {
        "send_" + (functionNames[Self.key(step, request)] ?? ShellSyntax.variableName(request.id))
    }

    func keyVariable(_ step: FlowStep, _ request: FlowRequest) -> String {
        "key_" + (functionNames[Self.key(step, request)] ?? ShellSyntax.variableName(request.id))
    }

    /// The function that sends a request, built from the variables as they are when it is called.
    func sendFunction(_ request: FlowRequest, step: FlowStep, _ out: ScriptLines) {
        out.blank()
        out.comments(
            "\(request.id): \(request.label ?? "\(request.method) \(request.path.source)") — \(flow.api.traits(method: request.method, path: request.path.source).effect)"
        )
        if let webhook = request.webhook {
            out.comments(
                "After it succeeds the walkthrough also waits, at most \(Self.seconds(webhook.timeout)) s, for the webhook \(webhook.event); "
                    + "a script has no webhook listener, so here the answer itself is the confirmation."
            )
        }
        out.line("\(functionName(step, request))() {")
        out.indented {
            let inputNames = Set(flow.inputs.map(\.name))
            let captureNames = Set(flow.allCaptures.map(\.name)).subtracting(inputNames)
            let needed = request.sentReferences.filter { captureNames.contains($0) }
            var unique: [String] = []
            for name in needed where !unique.contains(name) { unique.append(name) }
            if !unique.isEmpty { out.line("need \(request.id) \(unique.map(bindings.shellName).joined(separator: " "))") }
            if let label = request.label { out.line("printf '\\n%s\\n' \(bindings.shellWord(label))") }
            let key = request.idempotency ? "\"$\(keyVariable(step, request))\"" : "\"\""
            let path = bindings.shellWord(request.path.source)
            // What the flow marks safe to repeat is retried like a GET or a keyed call.
            var send =
                request.safeToRepeat && request.method != "GET" && !request.idempotency ? "SAFE_TO_REPEAT=yes send_request" : "send_request"
            if !request.headers.isEmpty {
                // The request's own headers (`headers:`), applied by the prelude's set_headers.
                let lines = request.headers.map { header in header.value.map { "\(header.name): \($0.source)" } ?? "\(header.name):" }
                send = "SET_HEADERS=\(bindings.shellWord(lines.joined(separator: "\n"))) " + send
            }
            if let body = request.body {
                out.line("local body")
                let arguments = bindings.jqArguments(body.references)
                out.line(
                    "body=$(jq -n \(arguments.isEmpty ? "" : arguments + " ")\(ShellQuoting.singleQuoted(bindings.jqProgram(body, indent: "  "))))"
                )
                out.line("\(send) \(request.method) \(path) \(request.auth.rawValue) \(key) \"$body\"")
            } else {
                out.line("\(send) \(request.method) \(path) \(request.auth.rawValue) \(key)")
            }
        }
        out.line("}")
    }

    /// The files the flow's bodies embed, as data URLs re-read from the shipped files (sessions
    /// hold only their placeholders), exported so the jq programs read them as `$ENV.NAME`.
    func embeddedFiles(_ out: ScriptLines) {
        let files = flow.embeddedFiles.filter { $0.data != nil }
        guard !files.isEmpty else { return }
        out.line("# ── Embedded files ──")
        out.comments("The files the flow embeds as data URLs, read from the flow's directory when this script was made.")
        for file in files {
            guard let name = bindings.embeddedVariable(file.placeholder) else { continue }
            out.line("# \(file.reference): \(file.placeholder)")
            out.line("export \(name)=\(ShellQuoting.singleQuoted(file.dataURL))")
        }
        out.blank()
    }

    // MARK: Requests and their answers

    /// Where the flow goes from a request's answer.
    struct Context {
        /// The flow request the step is at (a retry sends it again).
        var blocked: String
        /// The request after it (`done` at the end of the step).
        var after: String
        /// Inside a wait's polling loop: a continuation must leave it.
        var inWait: Bool
        /// The wait's request, for a search or a keep-waiting remedy.
        var blockedRequest: FlowRequest
    }

    func flowRequestCase(_ request: FlowRequest, after: String, step: FlowStep, _ out: ScriptLines) {
        out.line("  \(request.id))")
        out.indented(by: 4) {
            if let condition = request.condition {
                let variable = bindings.shellName(condition.input)
                out.line(
                    "if [ \(condition.whenSet ? "-z" : "-n") \"$\(variable)\" ]; then \(Self.goTo(after)); continue; fi  # only when \(condition.input) is \(condition.whenSet ? "set" : "not set")"
                )
            }
            let context = Context(blocked: request.id, after: after, inWait: request.wait != nil, blockedRequest: request)
            if let wait = request.wait {
                waitLoop(request, wait: wait, step: step, context: context, out)
            } else {
                exchange(request, step: step, context: context, onSuccess: [Self.goTo(after)], out)
            }
            out.line(";;")
        }
    }

    /// Sends a request once and follows its answer: a blocking quirk's remedy, success (captures,
    /// notes, then `onSuccess`) or an unexpected answer.
    func exchange(_ request: FlowRequest, step: FlowStep, context: Context, onSuccess: [String], _ out: ScriptLines) {
        if request.idempotency {
            let key = keyVariable(step, request)
            out.line("[ -n \"$\(key)\" ] || \(key)=$(new_uuid)")
        }
        out.line(functionName(step, request))
        var keyword = "if"
        for (position, rule) in request.quirks.enumerated() where rule.effect == .block {
            let condition = jqCondition(rule.when)
            out.line("\(keyword) response_matches \(condition); then")
            out.indented { blockingQuirk(rule, position: position, step: step, context: context, out) }
            keyword = "elif"
        }
        out.line("\(keyword) status_is \(request.expect.map(String.init).joined(separator: " ")); then")
        out.indented {
            captures(request, lenient: false, out)
            notes(request, out)
            onSuccess.forEach(out.line)
        }
        out.line("else")
        out.line("  unexpected \(request.id) \(ShellQuoting.doubleQuoted(request.expect.map(String.init).joined(separator: " or ")))")
        out.line("fi")
    }

    /// A wait: polls until the condition holds, with the flow's interval, backoff and overall timeout.
    func waitLoop(_ request: FlowRequest, wait: WaitSpec, step: FlowStep, context: Context, _ out: ScriptLines) {
        if let explain = wait.explain { out.comments("Waits: \(explain)") }
        out.line(
            "poll_start \(Self.seconds(wait.timeout.rounded(.up))) \(Self.seconds(wait.interval)) \(Self.seconds(wait.backoff)) \(Self.seconds(wait.maxInterval))"
        )
        out.line("while :; do")
        out.indented {
            if request.idempotency {
                let key = keyVariable(step, request)
                out.line("[ -n \"$\(key)\" ] || \(key)=$(new_uuid)")
            }
            out.line(functionName(step, request))
            let expected = request.expect.map(String.init).joined(separator: " ")
            out.line("if status_is \(expected) && response_matches \(jqCondition(wait.until)); then")
            out.indented {
                captures(request, lenient: false, out)
                notes(request, out)
                out.line(Self.goTo(context.after))
                out.line("break")
            }
            out.line("fi")
            var keyword = "if"
            for (position, rule) in request.quirks.enumerated() where rule.effect == .block {
                out.line("\(keyword) ! suppressed \(rule.id) && response_matches \(jqCondition(rule.when)); then")
                out.indented { blockingQuirk(rule, position: position, step: step, context: context, out) }
                keyword = "elif"
            }
            out.line("\(keyword) ! status_is \(expected); then")
            out.line("  unexpected \(request.id) \(ShellQuoting.doubleQuoted(request.expect.map(String.init).joined(separator: " or ")))")
            out.line("fi")
            captures(request, lenient: true, out)
            notes(request, out)
            let quirk = wait.quirk ?? "Q-WAIT-TIMEOUT"
            let explain = wait.explain.map { bindings.shellText($0) } ?? ""
            out.line("poll_next \(quirk) \"\(explain)\"")
        }
        out.line("done")
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e12 ? String(Int(value)) : String(value)
    }

    func captures(_ request: FlowRequest, lenient: Bool, _ out: ScriptLines) {
        for capture in request.captures {
            let variable = bindings.shellName(capture.name)
            let paths = ShellQuoting.singleQuoted(capture.paths.map(ShellSyntax.jqPath).joined(separator: " // "))
            if capture.secret {
                if lenient { continue }
                out.line("capture_secret \(variable) \(paths)")
            } else {
                out.line("capture \(variable) \(paths)\(lenient ? " lenient" : "")")
            }
            switch capture.role {
            case .bearerToken?: out.line("BEARER_TOKEN=$\(variable)")
            case .pinnedVersion?: out.line("[ -z \"$\(variable)\" ] || PINNED_VERSION=$\(variable)")
            default: break
            }
        }
    }

    func notes(_ request: FlowRequest, _ out: ScriptLines) {
        for rule in request.quirks where rule.effect == .note {
            out.line("if response_matches \(jqCondition(rule.when)); then note \(rule.id) \(explanation(rule)); fi")
        }
    }

    func explanation(_ rule: QuirkRule) -> String {
        "\"\(bindings.shellText(rule.explain.trimmingCharacters(in: .whitespacesAndNewlines), literals: requiredFieldValues(rule)))\""
    }

    /// What a rule with `required` fills in its explanation (`required_fields`, `missing_fields`),
    /// as the walkthrough computed them from the bodies the session sent, which the script sends
    /// again; the script has no shell variables for them.
    func requiredFieldValues(_ rule: QuirkRule) -> [String: String] {
        guard let first = rule.required?.sentBy.first,
            let index = flow.steps.firstIndex(where: { step in step.requests.contains { $0.id == first } })
        else { return [:] }
        return WalkthroughEngine(flow: flow, session: session).requiredFieldValues(of: rule, stepIndex: index)
    }

    // MARK: Quirks and remedies

    /// A blocking quirk met: the explanation, then the remedy the session took (or, for a quirk it
    /// did not meet, the first one, as the walkthrough recommends).
    func blockingQuirk(_ rule: QuirkRule, position: Int, step: FlowStep, context: Context, _ out: ScriptLines) {
        out.line("quirk \(rule.id) \(explanation(rule))")
        let taken = history.remedyTaken(stepID: step.id, quirkID: rule.id)
        let index = taken.flatMap { rule.remedies.indices.contains($0) ? $0 : nil } ?? 0
        guard rule.remedies.indices.contains(index) else {
            out.line("stop \(ShellQuoting.doubleQuoted("\(rule.id) has no remedy in the flow"))")
            return
        }
        let remedy = rule.remedies[index]
        if taken != nil {
            out.comments("The session met \(rule.id) here and took remedy \(index + 1) of \(rule.remedies.count): \(remedy.label)")
        } else {
            out.comments("The session did not meet \(rule.id) here; this takes the first remedy: \(remedy.label)")
        }
        let others = rule.remedies.enumerated().filter { $0.offset != index }.map { "\($0.offset + 1). \($0.element.label)" }
        if !others.isEmpty { out.comments("Other ways past it: " + others.joined(separator: "; ")) }
        out.line("remedy_taken \(ShellQuoting.doubleQuoted("\(rule.id)#\(index)")) \(bindings.shellWord(remedy.label))")
        self.remedy(remedy, rule: rule, step: step, context: context, out)
    }

    /// Where the flow goes after a remedy worked.
    func continuation(_ then: Remedy.Continuation, context: Context) -> [String] {
        [Self.goTo(then == .next ? context.after : context.blocked)] + (context.inWait ? ["break"] : [])
    }

    func remedy(_ remedy: Remedy, rule: QuirkRule, step: FlowStep, context: Context, _ out: ScriptLines) {
        switch remedy.kind {
        case .request(let followUp):
            exchange(followUp, step: step, context: context, onSuccess: continuation(remedy.then, context: context), out)
        case .wait:
            out.line("suppress \(rule.id)  # keep polling until the wait's timeout")
        case .prompt(let input, let validation):
            let variable = bindings.shellName(input)
            let source = flow.input(input).flatMap(\.env).map { "set \($0)" } ?? "set \(variable) in this script"
            let prompt = flow.input(input)?.prompt ?? input
            if let validation {
                out.line("[ -n \"$\(variable)\" ] || stop \(ShellQuoting.doubleQuoted("\(prompt): \(source) and run again."))")
                exchange(validation, step: step, context: context, onSuccess: continuation(remedy.then, context: context), out)
            } else {
                out.line("stop \(ShellQuoting.doubleQuoted("\(prompt): \(source) to another value and run again."))")
            }
        case .search(let input, let span, let maxCalls):
            let blocked = context.blockedRequest
            let arguments = bindings.jqArguments(rule.when.references)
            out.line(
                "search_amount \(bindings.shellName(input)) \(span) \(maxCalls) \(functionName(step, blocked)) "
                    + "\(ShellQuoting.doubleQuoted(blocked.expect.map(String.init).joined(separator: " "))) \(jqCondition(rule.when, includeArguments: false))"
                    + (arguments.isEmpty ? "" : " " + arguments)
            )
            continuation(remedy.then, context: context).forEach(out.line)
        case .operatorAction(let action):
            let control = action.verb.control
            let id = bindings.shellWord(action.id)
            out.line("if is_emulator; then")
            out.indented {
                out.line("emulator_operator \(control.action) \(id)" + (control.collection == "users" ? "" : " \(control.collection)"))
                continuation(remedy.then, context: context).forEach(out.line)
            }
            out.line("else")
            out.indented {
                let resource = control.collection == "users" ? "user" : "virtual account"
                let ask =
                    "Only your Kira contact can \(control.action) \(resource) \(bindings.shellText(action.id)) in this sandbox: ask them to"
                if context.inWait {
                    out.line("printf '  ☎ %s\\n' \"\(ask); waiting for it until the wait's timeout.\"")
                    out.line("suppress \(rule.id)")
                } else {
                    out.line("stop \"\(ask), then run this again.\"")
                }
            }
            out.line("fi")
        case .restart(let from):
            if let target = step.requests.first(where: { $0.id == from }) {
                if target.idempotency { out.line("\(keyVariable(step, target))=\"\"  # a new idempotency key: a new resource") }
                // As the walkthrough does: values generated for the old resource (a unique email) are made afresh.
                for input in flow.inputs where input.generate != nil && target.sentReferences.contains(input.name) {
                    guard case .variable(let variable) = bindings.binding(input.name) else { continue }
                    let value = input.generate == .uuid ? "$(new_uuid)" : "$(new_uuid | tr -d '-' | cut -c1-8)"
                    out.line("\(variable)=\"\(value)\"  # a new \(input.name) for the new resource")
                }
            }
            out.line("SUPPRESSED=\" \"")
            out.line(Self.goTo(from))
            if context.inWait { out.line("break") }
        case .proceed:
            out.line("note \(rule.id) \(explanation(rule))")
            out.line(Self.goTo("done"))
            if context.inWait { out.line("break") }
        case .stop(let advice):
            out.line("stop \(bindings.shellWord(advice))")
        }
    }

    // MARK: Conditions

    /// A flow condition as the arguments of `response_matches`: the single-quoted jq expression
    /// `JQConditionCompiler` makes of it, then the `--arg` options its references need (unless
    /// `includeArguments` is false).
    func jqCondition(_ condition: ResponseCondition, includeArguments: Bool = true) -> String {
        JQConditionCompiler(bindings: bindings).shellArguments(condition, includeArguments: includeArguments)
    }
}

/// Lines of a generated script, with indentation.
final class ScriptLines {
    private var lines: [String] = []
    private var indent = ""

    func line(_ text: String) { lines.append(text.isEmpty ? "" : indent + text) }
    func blank() { if lines.last != "" { lines.append("") } }
    func comments(_ text: String) { lines += ShellSyntax.comment(text, indent: indent) }
    func raw(_ text: String) { lines += text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }

    func indented(by spaces: Int = 2, _ body: () -> Void) {
        let saved = indent
        indent += String(repeating: " ", count: spaces)
        body()
        indent = saved
    }

    var text: String { lines.joined(separator: "\n") + "\n" }
}
