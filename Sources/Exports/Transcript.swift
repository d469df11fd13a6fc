import Foundation
import KiraJSON
import WalkthroughCore

/// A session as a readable Markdown transcript: the flow, the session and its target, then every
/// step — its state, what it does, each request and response (redacted JSON), the quirks met and how
/// they were passed, what was captured, and how long it took.
struct Transcript {
    let flow: Flow
    let session: Session
    let scrubber: SecretScrubber

    var text: String {
        var out: [String] = []
        let exchanges = session.exchanges.sorted { $0.sequence < $1.sequence }
        out.append("# \(escape(session.flowTitle)) — session `\(session.name)`")
        out.append("")
        out.append("| | |")
        out.append("|---|---|")
        out.append("| Flow | `\(session.flowID)` (\(escape(session.flowFile))) |")
        out.append("| Session | `\(session.name)` |")
        let target =
            session.target.kind == "local" ? "local emulator" : session.target.kind == "sandbox" ? "the Kira sandbox" : "a base URL"
        out.append(
            "| Target | \(target): \(escape(session.target.baseURL))\(session.target.isEmulator ? " (this project's emulator)" : "") |")
        out.append("| Started | \(Self.timestamp(session.createdAt)) |")
        out.append("| \(session.isComplete ? "Completed" : "Last saved") | \(Self.timestamp(session.completedAt ?? session.updatedAt)) |")
        if let pinned = session.pinnedVersion { out.append("| Pinned API version | \(escape(pinned)) |") }
        let wire = exchanges.reduce(0) { $0 + max(0, $1.durationMilliseconds) }
        out.append("| Requests | \(exchanges.count) exchanges, \(Self.duration(wire)) on the wire |")
        out.append("")
        out.append("## Steps")
        out.append("")
        out.append("| # | Step | State | Requests | On the wire |")
        out.append("|---|---|---|---|---|")
        for (index, record) in session.steps.enumerated() {
            let own = exchanges.filter { $0.stepID == record.id }
            let time = own.isEmpty ? "—" : Self.duration(own.reduce(0) { $0 + max(0, $1.durationMilliseconds) })
            out.append("| \(index + 1) | \(escape(record.title)) | \(record.state.rawValue) | \(own.count) | \(time) |")
        }
        out.append("")
        out += quirksMet()
        for (index, record) in session.steps.enumerated() {
            out.append("")
            out += step(record, index: index, exchanges: exchanges.filter { $0.stepID == record.id })
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// What the learner met: each quirk with the catalogue's summary, and "N of M quirks of this flow".
    func quirksMet() -> [String] {
        let met = QuirksMet(session: session, flow: flow)
        var out = ["## Quirks met", "", "\(met.countLine)."]
        if !met.entries.isEmpty { out.append("") }
        for entry in met.entries {
            let summary = entry.summary.map { ": \(escape($0))" } ?? ""
            out.append("- **\(entry.id)**\(summary)\(entry.blocked ? " (stopped a step)" : "")")
        }
        return out
    }

    // MARK: A step

    func step(_ record: StepRecord, index: Int, exchanges: [ExchangeRecord]) -> [String] {
        let flowStep = flow.steps.first { $0.id == record.id }
        var out: [String] = ["## \(index + 1). \(escape(record.title))", ""]
        out.append("**State:** \(record.state.rawValue)\(record.failure.map { " — \(escape(scrubber.scrub($0)))" } ?? "")")
        if let blocked = record.blocked {
            out += ["", "**Blocked on:** \(blocked.quirkID) — \(escape(scrubber.scrub(blocked.explanation)))"]
        }
        if let explain = flowStep?.explain {
            out.append("")
            out.append(escape(render(explain).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        if let flowStep, !flowStep.inputs.isEmpty {
            let inputs = flowStep.inputs.map { name -> String in
                if flow.input(name)?.secret == true { return "`\(name)` (secret, never recorded)" }
                guard let value = session.inputs[name] else { return "`\(name)` (not recorded)" }
                return "`\(name)` = \(code(value.isEmpty ? "(empty)" : value))"
            }
            out += ["", "**Inputs:** " + inputs.joined(separator: ", ")]
        }
        if exchanges.isEmpty {
            out += ["", flowStep?.requests.isEmpty == true ? "Nothing is sent in this step." : "No request was recorded for this step."]
        } else {
            out += ["", "### Requests and responses"]
            out += requests(exchanges, step: flowStep)
        }
        let events = session.events.filter { $0.stepID == record.id }
        let quirkEvents = events.filter { [.quirk, .note, .remedy, .operator, .search].contains($0.kind) }
        if !quirkEvents.isEmpty {
            out += ["", "### Quirks met and how they were passed", ""]
            for event in quirkEvents { out.append("- \(describe(event))") }
        }
        let otherEvents = events.filter { $0.kind == .input || $0.kind == .resume }
        if !otherEvents.isEmpty {
            out += ["", "### Inputs and resumptions", ""]
            for event in otherEvents { out.append("- \(Self.time(event.at)) \(escape(scrubber.scrub(event.text)))") }
        }
        if let flowStep {
            let captured = captures(of: flowStep)
            if !captured.isEmpty {
                out += ["", "### Captured", "", "| Name | Value |", "|---|---|"]
                out += captured.map { "| `\($0.name)` | \($0.value) |" }
            }
        }
        out += ["", "### Timing", ""]
        if let first = exchanges.first, let last = exchanges.last {
            let wire = exchanges.reduce(0) { $0 + max(0, $1.durationMilliseconds) }
            let end = last.startedAt.addingTimeInterval(max(0, last.durationMilliseconds) / 1000)
            out.append(
                "\(exchanges.count) request\(exchanges.count == 1 ? "" : "s"), \(Self.duration(wire)) on the wire; "
                    + "from \(Self.time(first.startedAt)) to \(Self.time(end)) (\(Self.duration(end.timeIntervalSince(first.startedAt) * 1000)))."
            )
        } else {
            out.append("No time on the wire.")
        }
        return out
    }

    /// The exchanges of a step; consecutive polls with the same answer are shown once.
    func requests(_ exchanges: [ExchangeRecord], step: FlowStep?) -> [String] {
        var out: [String] = []
        var index = 0
        while index < exchanges.count {
            let exchange = exchanges[index]
            var repeats = 1
            while index + repeats < exchanges.count, Self.sameAnswer(exchanges[index + repeats], exchange) { repeats += 1 }
            let last = exchanges[index + repeats - 1]
            let path = Self.path(of: exchange.url, base: session.target.baseURL)
            let outcome = exchange.status.map { "\($0) \(HTTPReason.text($0))" } ?? "no response"
            let numbers = repeats == 1 ? "\(exchange.sequence)" : "\(exchange.sequence)–\(last.sequence)"
            let total = (index..<(index + repeats)).reduce(0.0) { $0 + max(0, exchanges[$1].durationMilliseconds) }
            let times = repeats == 1 ? Self.duration(total) : "\(repeats) times, \(Self.duration(total)) in all"
            out += ["", "#### \(numbers). `\(exchange.method) \(escapeCode(path))` → \(outcome) · \(times)", ""]
            var about: [String] = []
            if let label = Self.requests(of: step).first(where: { $0.id == exchange.requestID })?.label {
                about.append("_\(escape(render(label)))_")
            }
            about.append("(request `\(exchange.requestID)`)")
            if let note = exchange.note { about.append("— \(escape(scrubber.scrub(note)))") }
            out.append(about.joined(separator: " "))
            if let error = exchange.error { out += ["", "⚠ \(escape(scrubber.scrub(error)))"] }
            var requestLines = ["\(exchange.method) \(scrubber.scrub(exchange.url))"]
            requestLines += exchange.requestHeaders.compactMap(header)
            out += ["", "Request:", ""]
            out += fenced(requestLines.joined(separator: "\n"), language: "http")
            if let body = exchange.requestBody { out += [""] + fenced(clean(body), language: "json") }
            if exchange.status != nil {
                out += ["", "Response\(repeats > 1 ? " (each time)" : ""):", ""]
                if let body = last.responseBody {
                    out += fenced(clean(body), language: last.responseBody.flatMap { try? JSONValue.parse($0) } == nil ? "text" : "json")
                } else {
                    out.append("(empty body)")
                }
            }
            index += repeats
        }
        return out
    }

    static func sameAnswer(_ a: ExchangeRecord, _ b: ExchangeRecord) -> Bool {
        a.requestID == b.requestID && a.method == b.method && a.url == b.url && a.status == b.status && a.note == nil && b.note == nil
            && strippingTimes(a.responseBody) == strippingTimes(b.responseBody)
    }

    /// A body without `updated_at`-style timestamps, to tell repeated polls apart only by content.
    static func strippingTimes(_ body: String?) -> String? {
        guard let body, let json = try? JSONValue.parse(body) else { return body }
        func strip(_ value: JSONValue) -> JSONValue {
            switch value {
            case .object(let object):
                return .object(JSONObject(object.entries.filter { !$0.key.hasSuffix("_at") }.map { ($0.key, strip($0.value)) }))
            case .array(let items): return .array(items.map(strip))
            default: return value
            }
        }
        return strip(json).text(.canonical)
    }

    func header(_ pair: [String]) -> String? {
        guard pair.count == 2 else { return nil }
        let secret = Redactor.secretHeaders.contains(pair[0].lowercased())
        return "\(pair[0]): \(secret ? Redactor.mask : scrubber.scrub(pair[1]))"
    }

    func clean(_ body: String) -> String {
        if let json = try? JSONValue.parse(body) { return scrubber.scrub(Redactor(values: []).redact(json)).text(.pretty) }
        return scrubber.scrub(body)
    }

    func describe(_ event: SessionEvent) -> String {
        let text = escape(
            scrubber.scrub(event.text.trimmingCharacters(in: .whitespacesAndNewlines)).replacingOccurrences(of: "\n", with: " "))
        let quirk = event.quirkID.map { "**\($0)**" }
        switch event.kind {
        case .quirk: return "\(Self.time(event.at)) ⚑ \(quirk ?? "A quirk") stopped the step: \(text)"
        case .note: return "\(Self.time(event.at)) ℹ \(quirk.map { "\($0): " } ?? "")\(text)"
        case .remedy: return "\(Self.time(event.at)) ➜ \(quirk.map { "\($0): " } ?? "")\(text)"
        case .operator: return "\(Self.time(event.at)) ☎ \(quirk.map { "\($0): " } ?? "")\(text)"
        case .search: return "\(Self.time(event.at)) ✓ \(quirk.map { "\($0): " } ?? "")\(text)"
        case .input, .resume: return "\(Self.time(event.at)) \(text)"
        }
    }

    /// What the step's requests captured, in flow order.
    func captures(of step: FlowStep) -> [(name: String, value: String)] {
        var seen = Set<String>()
        var out: [(String, String)] = []
        for request in Self.requests(of: step) {
            for capture in request.captures where seen.insert(capture.name).inserted {
                if capture.secret {
                    out.append((capture.name, "(secret, never recorded)"))
                } else if let value = session.captures[capture.name] {
                    out.append((capture.name, code(WalkthroughEngine.describe(scrubber.scrub(value)))))
                }
            }
        }
        return out
    }

    static func requests(of step: FlowStep?) -> [FlowRequest] {
        guard let step else { return [] }
        return CurlScript.requestsWithRemedies(step)
    }

    // MARK: Text

    /// Fills `{{ references }}` from the session (secrets stay as references).
    func render(_ source: String) -> String {
        guard let template = try? Template(parsing: source) else { return source }
        return template.parts.map { part in
            switch part {
            case .literal(let text): return text
            case .reference(let name):
                if name == "api_version" { return flow.apiVersion }
                if let value = session.inputs[name], !value.isEmpty { return scrubber.scrub(value) }
                if let value = session.captures[name] { return scrubber.scrub(WalkthroughEngine.describe(value)) }
                return "{{ \(name) }}"
            }
        }.joined()
    }

    /// Table cells and prose: pipes escaped, lines joined.
    func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    func escapeCode(_ text: String) -> String { text.replacingOccurrences(of: "`", with: "'") }

    /// Inline code that survives backticks and pipes in the value.
    func code(_ value: String) -> String {
        "`\(escapeCode(value).replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " "))`"
    }

    /// A fenced block whose fence is longer than any run of backticks inside.
    func fenced(_ text: String, language: String) -> [String] {
        var longest = 0
        var run = 0
        for character in text {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return [fence + language, text, fence]
    }

    static func path(of url: String, base: String) -> String {
        url.hasPrefix(base) && url.count > base.count ? String(url.dropFirst(base.count)) : url
    }

    static func timestamp(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withTime, .withColonSeparatorInTime, .withTimeZone]
        return formatter.string(from: date)
    }

    /// `7 ms`, `1.2 s`.
    static func duration(_ milliseconds: Double) -> String {
        let value = milliseconds.isFinite ? max(0, milliseconds) : 0
        return value < 1000 ? String(format: "%.0f ms", value) : String(format: "%.1f s", value / 1000)
    }
}
