import Foundation
import WalkthroughCore

/// Which quirks a session met and which of their remedies it took, read from its events and its
/// steps' remedy counts.
struct RemedyHistory {
    /// `step/quirk` → the remedy indices taken, in the order they were taken.
    private var taken: [String: [Int]] = [:]
    /// `step/quirk` of every quirk met (blocking or noted).
    private var met: Set<String> = []

    init(flow: Flow, session: Session) {
        for event in session.events {
            guard let quirkID = event.quirkID else { continue }
            let key = "\(event.stepID)/\(quirkID)"
            met.insert(key)
            guard event.kind == .remedy, event.text.hasPrefix("Chose: "),
                let step = flow.steps.first(where: { $0.id == event.stepID }),
                let rule = Self.rules(in: step).first(where: { $0.id == quirkID })
            else { continue }
            let chosen = String(event.text.dropFirst("Chose: ".count))
            if let index = rule.remedies.firstIndex(where: { Self.label($0.label, matches: chosen) }) {
                taken[key, default: []].append(index)
            }
        }
        // Counts the engine kept, for remedies whose event did not survive (or was never written).
        for record in session.steps {
            for (use, count) in record.remedyUses.sorted(by: { $0.key < $1.key }) where count > 0 {
                let parts = use.split(separator: "#")
                guard parts.count == 2, let index = Int(parts[1]) else { continue }
                let key = "\(record.id)/\(parts[0])"
                met.insert(key)
                if taken[key]?.contains(index) != true { taken[key, default: []].insert(index, at: 0) }
            }
        }
    }

    /// The remedy the session took last for `rule` in `stepID`, if it met the quirk.
    func remedyTaken(stepID: String, quirkID: String) -> Int? {
        taken["\(stepID)/\(quirkID)"]?.last
    }

    /// Whether the session met `quirkID` in `stepID`.
    func met(stepID: String, quirkID: String) -> Bool {
        met.contains("\(stepID)/\(quirkID)")
    }

    /// Every quirk rule of a step, remedies' requests included.
    static func rules(in step: FlowStep) -> [QuirkRule] {
        var rules: [QuirkRule] = []
        func visit(_ request: FlowRequest) {
            rules += request.quirks
            for followUp in request.remedyRequests { visit(followUp) }
        }
        step.requests.forEach(visit)
        return rules
    }

    /// Whether a rendered label could come from `template` (references match any text).
    static func label(_ template: String, matches text: String) -> Bool {
        guard let parsed = try? Template(parsing: template) else { return template == text }
        var pattern: [Character?] = []
        for part in parsed.parts {
            switch part {
            case .literal(let literal): pattern += literal.map { Optional($0) }
            case .reference: pattern.append(nil)
            }
        }
        let characters = Array(text)
        // Glob matching: nil is a wildcard for any run of characters.
        var matches = Array(repeating: Array(repeating: false, count: characters.count + 1), count: pattern.count + 1)
        matches[0][0] = true
        for i in 0..<pattern.count {
            for j in 0...characters.count where matches[i][j] {
                if let literal = pattern[i] {
                    if j < characters.count, characters[j] == literal { matches[i + 1][j + 1] = true }
                } else {
                    for k in j...characters.count { matches[i + 1][k] = true }
                }
            }
        }
        return matches[pattern.count][characters.count]
    }
}
