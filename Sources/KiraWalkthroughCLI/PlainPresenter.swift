import DurableFiles
import Foundation
import KiraJSON
import WalkthroughCore
import WalkthroughPresentation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The plain line mode: prints each step, request, response, capture and quirk; asks on standard
/// input when it is a terminal; with `--yes`, takes every default and recommended remedy.
struct PlainPresenter: WalkthroughPresenter {
    /// Take defaults and recommended remedies without asking.
    var unattended: Bool
    /// Standard input is a terminal (questions can be asked).
    var interactive: Bool

    func out(_ text: String) { printLine(text) }

    func indent(_ text: String, by prefix: String = "    ") -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { prefix + $0 }.joined(separator: "\n")
    }

    func wrap(_ text: String, width: Int = 96) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            if line.count + word.count + 1 > width, !line.isEmpty {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines.joined(separator: "\n")
    }

    func stepStarted(index: Int, of total: Int, step: FlowStep, state: StepState) async {
        out("")
        out("━━ Step \(index + 1) of \(total) · \(step.title) ━━\(state == .pending ? "" : " (resuming: \(state.rawValue))")")
        out(indent(wrap(step.explain), by: "  "))
    }

    func webhookReceived(_ record: WebhookEventRecord) async {
        out("  ⚡ Webhook \(record.event) (\(record.eventID)) — signature \(record.verified ? "verified" : "NOT verified")")
    }

    func stepFinished(index: Int, state: StepState) async {
        out("  ✓ \(state == .skipped ? "Skipped" : "Done")")
    }

    func sessionChanged(_ session: Session, tokenExpiresAt: Date?) async {}

    func requestPreview(_ preview: RequestPreview) async {
        let masked = preview.masked
        out("")
        out("→ Request it will send\(preview.label.map { ": \($0)" } ?? "")")
        out("    \(preview.method) \(preview.url)")
        for (name, value) in masked.headers { out("    \(name): \(value)") }
        if let body = masked.body { out(indent(body.text(.pretty))) }
    }

    func sendDecision() async -> SendDecision {
        guard !unattended, interactive else { return .send }
        printPrompt("  Send it? [Y/n/q] ")
        guard let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() else { return .quit }
        return answer == "n" || answer == "q" || answer == "no" ? .quit : .send
    }

    func exchange(_ exchange: ExchangeRecord) async {
        let timing = String(format: "%.0f ms", exchange.durationMilliseconds)
        if let note = exchange.note { out("  ↻ \(exchange.method) \(exchange.url) — \(note)") }
        if let status = exchange.status {
            out("← Response it got: \(status) \(HTTPReason.text(status)) (\(timing))")
        } else {
            out("← No response (\(timing)): \(exchange.error ?? "unknown error")")
        }
        if exchange.status != nil, let error = exchange.error { out("    ⚠ \(error)") }
        if let body = exchange.responseBody {
            let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
            let shown = lines.prefix(60).joined(separator: "\n")
            out(indent(shown))
            if lines.count > 60 { out("    … \(lines.count - 60) more lines") }
        }
    }

    func captured(_ captures: [(name: String, value: String)]) async {
        out("  Captured: " + captures.map { "\($0.name) = \($0.value)" }.joined(separator: ", "))
    }

    func events(_ events: [SessionEvent]) async {
        for event in events {
            switch event.kind {
            case .quirk where event.quirkID == WalkthroughEngine.unexpectedAnswerID:
                // The answer as it came (its body keeps its lines), not rewrapped.
                out("\n⚑ \(WalkthroughEngine.unexpectedAnswerID) — the flow stopped on an answer nobody documented:\n" + indent(event.text))
            case .quirk: out("\n⚑ \(event.quirkID ?? "quirk") — the flow stopped on a known sandbox quirk:\n" + indent(wrap(event.text)))
            case .note: out("ℹ \(event.quirkID.map { "\($0): " } ?? "")" + wrap(event.text))
            case .remedy: out("  ➜ \(event.text)")
            case .operator: out("  ☎ \(event.text)")
            case .search: out("  ✓ \(event.text)")
            case .input, .resume: break
            }
        }
    }

    func ask(_ input: InputRequest) async -> String? {
        if let error = input.error { out("  ✗ \(error)") }
        if unattended || !interactive {
            let source = input.env.map { "set \($0) in the environment" } ?? "run in a terminal to type it"
            if input.error != nil, !interactive {
                // The value on offer was refused already: asking again would loop.
                printError("kira-walkthrough: \(input.prompt): no usable value; \(source)")
                return nil
            }
            if let value = input.defaultValue, input.error == nil {
                out("  \(input.name) = \(value) (default)")
                return value
            }
            if input.optional, input.error == nil {
                out("  \(input.name): not set")
                return ""
            }
            if !interactive {
                printError("kira-walkthrough: \(input.prompt): \(source)")
                return nil
            }
        }
        let hint = input.defaultValue.map { " [\($0)]" } ?? (input.optional ? " (optional)" : "")
        let prompt = "  \(input.prompt)\(hint): "
        let answer: String?
        if input.secret {
            answer = readSecret(prompt)
        } else {
            printPrompt(prompt)
            answer = readLine()
        }
        guard let answer else { return nil }
        if answer.isEmpty, let value = input.defaultValue { return value }
        return answer
    }

    func readSecret(_ prompt: String) -> String? {
        printPrompt(prompt)
        var settings = termios()
        tcgetattr(STDIN_FILENO, &settings)
        var hidden = settings
        hidden.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &hidden)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &settings)
            out("")
        }
        return readLine()
    }

    func choose(_ blocked: BlockedQuirk) async -> Int? {
        out("  Ways past it:")
        for (index, remedy) in blocked.remedies.enumerated() {
            let mark = remedy.recommended ? " (recommended)" : ""
            let unavailable = remedy.available ? "" : " — unavailable: \(remedy.unavailableReason ?? "")"
            out("    \(index + 1). \(remedy.label)\(mark)\(unavailable)")
        }
        if unattended || !interactive {
            guard let recommended = blocked.recommended else {
                out("  No remedy can be taken without a person.")
                return nil
            }
            out("  ➜ Taking \(recommended + 1) (--yes).")
            return recommended
        }
        while true {
            let fallback = blocked.recommended.map { "\($0 + 1)" } ?? ""
            printPrompt("  Choose [\(fallback)] (q to stop): ")
            guard let answer = readLine()?.trimmingCharacters(in: .whitespaces) else { return nil }
            if answer == "q" { return nil }
            if answer.isEmpty, let recommended = blocked.recommended { return recommended }
            if let number = Int(answer), blocked.remedies.indices.contains(number - 1), blocked.remedies[number - 1].available {
                return number - 1
            }
            out("  Type a number from the list.")
        }
    }

    func askResend(_ request: RenderedRequest) async -> Bool? {
        out("  The run stopped while this request was in flight, and it carries no idempotency key, so the")
        out("  sandbox cannot tell a resend from a new request.")
        if unattended || !interactive {
            out("  ➜ Sending it again (--yes): in the sandbox a repeated \(request.requestID) is harmless.")
            return true
        }
        printPrompt("  Send it again? [y/N/q] ")
        guard let answer = readLine()?.lowercased() else { return nil }
        if answer == "q" { return nil }
        return answer == "y" || answer == "yes"
    }

    func failed(stepID: String, message: String) async -> FailureChoice {
        out("\n✗ Step \(stepID) failed: \(message)")
        guard !unattended, interactive else { return .quit }
        printPrompt("  [r]etry, [s]kip the step, or [q]uit? ")
        switch readLine()?.lowercased() {
        case "r", "retry": return .retry
        case "s", "skip": return .skip
        default: return .quit
        }
    }

    func wait(seconds: Double, attempt: Int, quirk: String?, explain: String?) async -> WaitResult {
        let about = quirk.map { " — waiting on \($0)\(explain.map { ": \($0)" } ?? "")" } ?? ""
        out(String(format: "  … poll %d, next in %.1f s%@", attempt, seconds, about))
        try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        return Task.isCancelled ? .quit : .elapsed
    }

    func operatorAction(_ action: OperatorRequest) async {
        // The engine's operator event already said what happens.
    }

    func notice(_ text: String) async { out(text) }
}
