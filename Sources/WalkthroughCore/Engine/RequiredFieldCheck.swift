import Foundation
import KiraJSON

/// Comparing what a request sent with what the API requires, for a quirk's explanation.
extension WalkthroughEngine {
    /// A quirk's explanation, with `{{ required_fields }}` and `{{ missing_fields }}` filled when
    /// the rule has `required`.
    func explanation(of rule: QuirkRule, stepIndex index: Int) -> String {
        let own = requiredFieldValues(of: rule, stepIndex: index)
        guard !own.isEmpty, let template = try? Template(parsing: rule.explain) else {
            return render(rule.explain) ?? rule.explain
        }
        return template.render { own[$0] ?? value(of: $0) } ?? rule.explain
    }

    /// The values a rule with `required` gives its explanation: `required_fields` (every label, in
    /// order) and `missing_fields` (the labels no body recorded in step `index` satisfies); empty
    /// for a rule without `required`.
    public func requiredFieldValues(of rule: QuirkRule, stepIndex index: Int) -> [String: String] {
        guard let required = rule.required, flow.steps.indices.contains(index) else { return [:] }
        let bodies = sentBodies(required, stepID: flow.steps[index].id)
        let missing = required.missing(in: bodies) { condition, item in
            matches(condition, ResponseSummary(status: 0, json: item, text: item.text()))
        }
        return [
            "required_fields": required.fields.map(\.label).joined(separator: ", "),
            "missing_fields": bodies.isEmpty
                ? "(no body it sent is recorded in this session)" : (missing.isEmpty ? "nothing" : missing.joined(separator: ", ")),
        ]
    }

    /// The bodies `required.sentBy` sent in step `stepID`, as recorded, from the last send of the
    /// first of them on.
    func sentBodies(_ required: RequiredFields, stepID: String) -> [JSONValue] {
        let exchanges = session.exchanges.filter { $0.stepID == stepID && required.sentBy.contains($0.requestID) && $0.status != nil }
        guard let first = required.sentBy.first, let start = exchanges.lastIndex(where: { $0.requestID == first }) else { return [] }
        return exchanges[start...].compactMap { exchange in exchange.requestBody.flatMap { try? JSONValue.parse($0) } }
    }
}
