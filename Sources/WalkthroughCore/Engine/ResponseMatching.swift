import Foundation
import KiraJSON

/// Reading a response: conditions, captures, notes, and what the answer means for the step.
extension WalkthroughEngine {
    /// Whether a response satisfies a condition (text compared case-insensitively by default).
    public func matches(_ condition: ResponseCondition, _ response: ResponseSummary) -> Bool {
        if let all = condition.all, !all.allSatisfy({ matches($0, response) }) { return false }
        if let statuses = condition.status, !statuses.contains(response.status) { return false }
        func same(_ a: String, _ b: String) -> Bool { condition.caseSensitive ? a == b : a.lowercased() == b.lowercased() }
        if let code = condition.code {
            guard let actual = response.json?["code"]?.stringValue, same(actual, code) else { return false }
        }
        if let fragment = condition.messageContains {
            let message = response.json?["message"]?.stringValue ?? response.text
            let haystack = condition.caseSensitive ? message : message.lowercased()
            guard haystack.contains(condition.caseSensitive ? fragment : fragment.lowercased()) else { return false }
        }
        if let path = condition.field {
            let actual = response.json.flatMap { path.resolve(in: $0) } ?? .null
            func equal(_ expected: JSONValue) -> Bool {
                if case .string(let text) = expected {
                    guard actual != .null else { return false }
                    return same(Self.text(of: actual), render(text) ?? text)
                }
                return actual == expected
            }
            if let values = condition.equals, !values.contains(where: equal) { return false }
            if let values = condition.notIn, values.contains(where: equal) { return false }
        }
        return true
    }

    /// Decides what a response to the request in flight means for `request`: success (captures,
    /// then `onSuccess`), a quirk, another poll, a timed-out wait, or a failure.
    mutating func evaluate(
        _ response: ResponseSummary, for request: FlowRequest, stepIndex index: Int, now: Date,
        onSuccess: (inout WalkthroughEngine) -> EngineAction
    ) -> EngineAction {
        let statusOK = request.expect.contains(response.status)
        let record = session.steps[index]
        guard case .sending(let active, let progress) = record.phase else { return resume(now: now) }
        let wait = active.origin == .flow ? request.wait : nil

        if statusOK, let wait, matches(wait.until, response) {
            if let action = applyCaptures(request, response, stepIndex: index) { return action }
            noteQuirks(request, response, stepIndex: index, now: now)
            return onSuccess(&self)
        }
        for rule in request.quirks where rule.effect == .block && !record.suppressedQuirks.contains(rule.id) && matches(rule.when, response)
        {
            if statusOK { _ = applyCaptures(request, response, stepIndex: index, lenient: true) }
            noteQuirks(request, response, stepIndex: index, now: now)
            return block(on: rule, request: request, stepIndex: index, now: now)
        }
        guard statusOK else {
            noteQuirks(request, response, stepIndex: index, now: now)
            // An answer nobody documented stops for a person, a 5xx too (the client already
            // retried it where that is safe).
            return blockOnUnexpected(response, request: request, stepIndex: index, now: now)
        }
        if let wait {
            _ = applyCaptures(request, response, stepIndex: index, lenient: true)
            noteQuirks(request, response, stepIndex: index, now: now)
            let started = progress?.startedAt ?? now
            let attempt = progress?.attempt ?? 0
            let interval = min(wait.maxInterval, wait.interval * pow(wait.backoff, Double(attempt)))
            let timeout = waitTimeoutOverride ?? wait.timeout
            if now.timeIntervalSince(started) + interval > timeout {
                return blockOnTimeout(wait, request: request, stepIndex: index, waited: now.timeIntervalSince(started), now: now)
            }
            enter(index, .waiting(active, WaitProgress(startedAt: started, attempt: attempt + 1)))
            return .poll(after: interval, active.request)
        }
        if let action = applyCaptures(request, response, stepIndex: index) { return action }
        noteQuirks(request, response, stepIndex: index, now: now)
        return onSuccess(&self)
    }

    static func failureMessage(_ response: ResponseSummary, expected: [Int]) -> String {
        let wanted = expected.map(String.init).joined(separator: " or ")
        if let json = response.json {
            let code = json["code"]?.stringValue.map { " (\($0))" } ?? ""
            let message = json["message"]?.stringValue ?? json.text()
            return "HTTP \(response.status)\(code), expected \(wanted): \(message)"
        }
        let snippet = response.text.prefix(200).replacingOccurrences(of: "\n", with: " ")
        return "HTTP \(response.status), expected \(wanted). The body is not JSON (an error page from a gateway?): \(snippet)"
    }

    /// Applies captures; a missing one fails the step (unless `lenient`).
    mutating func applyCaptures(_ request: FlowRequest, _ response: ResponseSummary, stepIndex: Int, lenient: Bool = false) -> EngineAction?
    {
        for capture in request.captures {
            let found = response.json.flatMap { json in capture.paths.lazy.compactMap { $0.resolve(in: json) }.first }
            guard let found, found != .null || lenient else {
                if lenient { continue }
                let paths = capture.paths.map(\.description).joined(separator: " or ")
                return fail(stepIndex, "The response has no \(paths) to capture as \(capture.name)")
            }
            if capture.secret {
                secrets[capture.name] = Self.text(of: found)
            } else {
                session.captures[capture.name] = found
            }
            if capture.role == .pinnedVersion { session.pinnedVersion = Self.text(of: found) }
        }
        return nil
    }

    /// Records the `note` quirks a response shows, once per step.
    mutating func noteQuirks(_ request: FlowRequest, _ response: ResponseSummary, stepIndex index: Int, now: Date) {
        for rule in request.quirks where rule.effect == .note && matches(rule.when, response) {
            guard !session.steps[index].notedQuirks.contains(rule.id) else { continue }
            session.steps[index].notedQuirks.append(rule.id)
            event(index, .note, rule.id, render(rule.explain) ?? rule.explain, now)
        }
    }

    /// Records what became of an awaited webhook, in the words of the flow's `webhook:` block.
    mutating func noteWebhook(_ record: WebhookEventRecord?, wait: WebhookWait, listening: Bool, stepIndex index: Int, now: Date) {
        let outcome: WebhookWait.Outcome = record.map { .arrived($0) } ?? (listening ? .missed : .notListening)
        event(index, .note, wait.quirk, wait.explanation(outcome) { value(of: $0) }, now)
    }
}
