import Foundation
import KiraJSON
import Yams

/// What an API requires in a request's body, for a quirk that explains a resource created without
/// it: the quirk's explanation can then list what is required (`{{ required_fields }}`) beside what
/// the bodies that were sent lack (`{{ missing_fields }}`). The list is data, in the flow.
///
/// ```yaml
/// required:
///   sent_by: [create_user, complete_user]
///   fields:
///     - first_name
///     - { label: an ssn entry, in: identifying_information, where: { field: type, equals: ssn }, has: number }
/// ```
public struct RequiredFields: Sendable {
    /// One thing the body must hold.
    public struct Requirement: Sendable {
        /// How the explanation names it (the path, unless the flow gives a label).
        public var label: String
        /// The field, or the list whose items are tested (`in:`).
        public var path: JSONPath
        /// When set, `path` is a list and one of its items must satisfy this.
        public var item: ItemTest?
    }

    /// What an item of a list must satisfy: `where` holds on it, and `has` is present in it.
    public struct ItemTest: Sendable {
        /// A condition on the item (its `field`, `equals`, `not_in`).
        public var condition: ResponseCondition?
        /// A field the item must hold, non-empty.
        public var has: JSONPath?
    }

    /// The requests whose sent bodies count, by id: the first creates the resource, the others
    /// (a `PUT` that completes it) add to it. Only bodies sent since the last send of the first count.
    public var sentBy: [String]
    public var fields: [Requirement]
    public var location: SourceLocation

    /// The references a quirk with `required` may use besides the flow's values.
    public static let references: Set<String> = ["required_fields", "missing_fields"]

    /// The labels of the requirements no body in `bodies` satisfies; `matches` tests a condition
    /// on an item.
    public func missing(in bodies: [JSONValue], matches: (ResponseCondition, JSONValue) -> Bool) -> [String] {
        fields.filter { requirement in
            !bodies.contains { body in Self.satisfied(requirement, in: body, matches: matches) }
        }.map(\.label)
    }

    static func satisfied(_ requirement: Requirement, in body: JSONValue, matches: (ResponseCondition, JSONValue) -> Bool) -> Bool {
        guard let value = requirement.path.resolve(in: body) else { return false }
        guard let test = requirement.item else { return isPresent(value) }
        guard case .array(let items) = value else { return false }
        return items.contains { item in
            if let condition = test.condition, !matches(condition, item) { return false }
            if let has = test.has { return has.resolve(in: item).map(isPresent) ?? false }
            return true
        }
    }

    /// Present and not empty: not null, not "", not [] or {}.
    static func isPresent(_ value: JSONValue) -> Bool {
        switch value {
        case .null: false
        case .string(let text): !text.trimmingCharacters(in: .whitespaces).isEmpty
        case .array(let items): !items.isEmpty
        case .object(let object): object.count > 0
        default: true
        }
    }
}

extension FlowLoader {
    /// `required: {sent_by: [REQUEST…], fields: [PATH | {label, in, where, has}…]}`.
    mutating func parseRequired(_ node: Node) -> RequiredFields? {
        guard let mapping = node.mapping else {
            problem(node, "required is {sent_by: [REQUEST…], fields: [PATH or {label, in, where, has}…]}")
            return nil
        }
        checkKeys(mapping, allowed: ["sent_by", "fields"], in: "required")
        var sentBy: [String] = []
        if let sentNode = mapping["sent_by"] {
            let nodes = sentNode.sequence.map(Array.init) ?? [sentNode]
            sentBy = nodes.compactMap { string($0, "sent_by") }
        }
        if sentBy.isEmpty { problem(node, "required needs sent_by: the requests whose bodies are compared") }
        var fields: [RequiredFields.Requirement] = []
        if let fieldsNode = mapping["fields"], let sequence = fieldsNode.sequence {
            for item in sequence {
                if let text = item.string, item.scalar != nil {
                    guard let path = JSONPath(text) else {
                        problem(item, "A required field is a JSON path such as first_name")
                        continue
                    }
                    fields.append(RequiredFields.Requirement(label: text, path: path, item: nil))
                    continue
                }
                guard let itemMapping = item.mapping else {
                    problem(item, "A required field is a path or {label, in, where, has}")
                    continue
                }
                checkKeys(itemMapping, allowed: ["label", "in", "where", "has"], in: "a required field")
                guard let listText = optionalString(itemMapping, "in"), let list = JSONPath(listText) else {
                    problem(item, "A required list item needs 'in': the path of the list")
                    continue
                }
                var test = RequiredFields.ItemTest()
                if let whereNode = itemMapping["where"] { test.condition = parseCondition(whereNode) }
                if let hasNode = itemMapping["has"] {
                    if let text = hasNode.string, let path = JSONPath(text) {
                        test.has = path
                    } else {
                        problem(hasNode, "has is a JSON path")
                    }
                }
                let label = optionalString(itemMapping, "label") ?? listText
                fields.append(RequiredFields.Requirement(label: label, path: list, item: test))
            }
        } else {
            problem(node, "required needs fields: a list")
        }
        return RequiredFields(sentBy: sentBy, fields: fields, location: location(node))
    }
}

extension FlowLinter {
    /// `sent_by` names requests of the quirk's own step.
    static func requiredFields(_ flow: Flow) -> [FlowProblem] {
        var problems: [FlowProblem] = []
        for step in flow.steps {
            let ids = Set(step.requestsIncludingRemedies.map(\.id))
            for rule in step.requestsIncludingRemedies.flatMap(\.quirks) {
                guard let required = rule.required else { continue }
                for id in required.sentBy where !ids.contains(id) {
                    problems.append(
                        FlowProblem(
                            location: required.location, message: "required.sent_by names '\(id)', which is no request of step '\(step.id)'"
                        ))
                }
            }
        }
        return problems
    }
}
