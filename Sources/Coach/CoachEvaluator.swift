import Foundation
import KiraJSON

/// A step of the checklist and whether the log completes it.
public struct CoachStepState: Sendable, Equatable {
    /// The step's id.
    public var id: String
    /// Its title.
    public var title: String
    /// Whether requests completed it.
    public var done: Bool
    /// The request that completed it.
    public var completedBy: Int?

    /// A step's state from its parts.
    public init(id: String, title: String, done: Bool, completedBy: Int?) {
        self.id = id
        self.title = title
        self.done = done
        self.completedBy = completedBy
    }
}

/// A rule a request broke.
public struct CoachFinding: Sendable, Equatable {
    /// The rule's id.
    public var rule: String
    /// How bad it is.
    public var severity: CoachSeverity
    /// The quirk it is about.
    public var quirk: String
    /// What happened.
    public var message: String
    /// Why it matters.
    public var why: String
    /// What to change.
    public var fix: String
    /// The first request that broke it.
    public var request: CoachRequest
    /// How many requests broke it the same way (same rule, tenant, method and path).
    public var count: Int

    /// A finding from its parts.
    public init(
        rule: String, severity: CoachSeverity, quirk: String, message: String, why: String, fix: String, request: CoachRequest, count: Int
    ) {
        self.rule = rule
        self.severity = severity
        self.quirk = quirk
        self.message = message
        self.why = why
        self.fix = fix
        self.request = request
        self.count = count
    }

    /// `{"severity","quirk","message","why","fix","count","request":{…}}`.
    public var json: JSONValue {
        [
            "severity": .string(severity.rawValue), "quirk": .string(quirk), "rule": .string(rule), "message": .string(message),
            "why": .string(why), "fix": .string(fix), "count": .int(count), "request": request.summaryJSON,
        ]
    }
}

/// The checklist and the findings for a request log.
public struct CoachReport: Sendable, Equatable {
    /// The steps, in order.
    public var steps: [CoachStepState]
    /// The findings, errors first, then in the order of their first request.
    public var findings: [CoachFinding]
    /// How many requests were evaluated.
    public var requestCount: Int

    /// `{"steps":[{"id","title","done"}…],"findings":[…],"requests":N}`.
    public var json: JSONValue {
        [
            "steps": .array(steps.map { ["id": .string($0.id), "title": .string($0.title), "done": .bool($0.done)] }),
            "findings": .array(findings.map(\.json)), "requests": .int(requestCount),
        ]
    }

    /// Reads a report back from its JSON (as `GET …/coach` answers it).
    public init?(json: JSONValue) {
        guard let steps = json["steps"]?.arrayValue, let findings = json["findings"]?.arrayValue else { return nil }
        self.steps = steps.map {
            CoachStepState(
                id: $0["id"]?.stringValue ?? "", title: $0["title"]?.stringValue ?? "", done: $0["done"]?.boolValue ?? false,
                completedBy: nil)
        }
        self.findings = findings.map { item in
            let request = item["request"]
            let at = request?["at"]?.stringValue.flatMap { CoachTime.parse($0) } ?? Date(timeIntervalSince1970: 0)
            return CoachFinding(
                rule: item["rule"]?.stringValue ?? "", severity: CoachSeverity(rawValue: item["severity"]?.stringValue ?? "") ?? .warning,
                quirk: item["quirk"]?.stringValue ?? "", message: item["message"]?.stringValue ?? "",
                why: item["why"]?.stringValue ?? "", fix: item["fix"]?.stringValue ?? "",
                request: CoachRequest(
                    sequence: 0, at: at, method: request?["method"]?.stringValue ?? "", path: request?["path"]?.stringValue ?? "",
                    status: request?["status"]?.intValue ?? 0, tenant: request?["tenant"]?.stringValue
                ),
                count: item["count"]?.intValue ?? 1
            )
        }
        self.requestCount = json["requests"]?.intValue ?? 0
    }

    /// A report from its parts.
    public init(steps: [CoachStepState], findings: [CoachFinding], requestCount: Int) {
        self.steps = steps
        self.findings = findings
        self.requestCount = requestCount
    }
}

extension CoachTime {
    /// Reads back what `format` wrote.
    public static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}

/// Evaluates rules over a request log. Pure: the same log and rules give the same report.
public struct CoachEvaluator: Sendable {
    /// The rules it applies.
    public let rules: CoachRules
    let ruleMatchers: [RuleMatcher]
    let stepMatchers: [[[PathPattern]]]

    /// A rule's patterns, compiled once.
    struct RuleMatcher: Sendable {
        var match: [PathPattern]
        var except: [PathPattern]
        /// Per earlier condition: its own patterns (nil: the rule's) and those that must not come between.
        var earlier: [(match: [PathPattern]?, between: [PathPattern])]
    }

    static func compile(_ patterns: RequestPatterns?) -> [PathPattern] {
        (patterns?.patterns ?? []).compactMap(PathPattern.init)
    }

    /// An evaluator for `rules`.
    public init(rules: CoachRules) {
        self.rules = rules
        var matchers: [RuleMatcher] = []
        for rule in rules.rules {
            var earlier: [(match: [PathPattern]?, between: [PathPattern])] = []
            for condition in rule.earlier {
                earlier.append((match: condition.match.map { Self.compile($0) }, between: Self.compile(condition.unlessBetween)))
            }
            matchers.append(RuleMatcher(match: Self.compile(rule.match), except: Self.compile(rule.except), earlier: earlier))
        }
        self.ruleMatchers = matchers
        self.stepMatchers = rules.steps.map { step in step.requires.map { Self.compile($0.match) } }
    }

    /// The checklist and findings for `log` (in sequence order).
    public func report(for log: [CoachRequest]) -> CoachReport {
        var cache = CoachEntryCache()
        return report(for: log, cache: &cache)
    }

    /// The same, reusing the bodies `cache` parsed for earlier reports (requests are keyed by
    /// sequence number; entries no longer in `log` are dropped).
    public func report(for log: [CoachRequest], cache: inout CoachEntryCache) -> CoachReport {
        var entries: [Entry] = []
        entries.reserveCapacity(log.count)
        var kept: [Int: Entry] = [:]
        kept.reserveCapacity(log.count)
        for request in log {
            let entry = cache.entries[request.sequence] ?? Entry(request, basePath: rules.basePath)
            entries.append(entry)
            kept[request.sequence] = entry
        }
        cache.entries = kept
        return report(entries: entries, count: log.count)
    }

    func report(entries: [Entry], count: Int) -> CoachReport {
        var steps: [CoachStepState] = []
        for (index, step) in rules.steps.enumerated() {
            var position = 0
            var completedBy: Int?
            for (conditionIndex, condition) in step.requires.enumerated() {
                let patterns = stepMatchers[index][conditionIndex]
                guard
                    let found = entries[position...].firstIndex(where: { entry in
                        patterns.contains { entry.params(for: $0) != nil }
                            && condition.where.allSatisfy { test in entry.passes(test, params: Self.params(entry, patterns)) }
                    })
                else {
                    completedBy = nil
                    position = entries.count
                    break
                }
                completedBy = entries[found].request.sequence
                position = found + 1
            }
            steps.append(CoachStepState(id: step.id, title: step.title, done: completedBy != nil, completedBy: completedBy))
        }

        var findings: [CoachFinding] = []
        var findingIndex: [String: Int] = [:]
        for (current, entry) in entries.enumerated() {
            for (ruleIndex, rule) in rules.rules.enumerated() where breaks(rule, matchers: ruleMatchers[ruleIndex], at: current, in: entries) {
                let key = "\(rule.id)\u{0}\(entry.request.tenant ?? "")\u{0}\(entry.request.method)\u{0}\(entry.request.path)"
                if let existing = findingIndex[key] {
                    findings[existing].count += 1
                } else {
                    findingIndex[key] = findings.count
                    findings.append(
                        CoachFinding(
                            rule: rule.id, severity: rule.severity, quirk: rule.quirk, message: rule.message, why: rule.why, fix: rule.fix,
                            request: entry.request, count: 1
                        )
                    )
                }
            }
        }
        let ordered = findings.enumerated().sorted { lhs, rhs in
            lhs.element.severity != rhs.element.severity ? lhs.element.severity < rhs.element.severity : lhs.offset < rhs.offset
        }.map(\.element)
        return CoachReport(steps: steps, findings: ordered, requestCount: count)
    }

    static func params(_ entry: Entry, _ patterns: [PathPattern]) -> [String: String] {
        for pattern in patterns { if let params = entry.params(for: pattern) { return params } }
        return [:]
    }

    func breaks(_ rule: CoachRule, matchers: RuleMatcher, at current: Int, in entries: [Entry]) -> Bool {
        let entry = entries[current]
        guard let params = matchers.match.lazy.compactMap({ entry.params(for: $0) }).first else { return false }
        if matchers.except.contains(where: { entry.params(for: $0) != nil }) { return false }
        guard rule.where.allSatisfy({ entry.passes($0, params: params) }) else { return false }
        var lowerBound = 0
        for (index, earlier) in rule.earlier.enumerated() {
            let patterns = matchers.earlier[index].match ?? matchers.match
            guard
                let found = findEarlier(
                    earlier, patterns: patterns, between: matchers.earlier[index].between, before: current, from: lowerBound,
                    entry: entry, params: params, in: entries
                )
            else { return false }
            lowerBound = found + 1
        }
        return true
    }

    /// The latest earlier request of the same tenant, at or after `from`, that the condition accepts.
    func findEarlier(
        _ condition: EarlierCondition, patterns: [PathPattern], between: [PathPattern], before current: Int, from lowerBound: Int,
        entry: Entry, params: [String: String], in entries: [Entry]
    ) -> Int? {
        var index = current - 1
        while index >= lowerBound {
            let candidate = entries[index]
            index -= 1
            guard candidate.request.tenant == entry.request.tenant else { continue }
            if let within = condition.withinSeconds, entry.request.at.timeIntervalSince(candidate.request.at) >= within { return nil }
            let candidateParams = patterns.lazy.compactMap { candidate.params(for: $0) }.first
            let accepted: Bool = {
                guard let candidateParams else { return false }
                guard condition.where.allSatisfy({ candidate.passes($0, params: candidateParams) }) else { return false }
                guard condition.same.allSatisfy({ entry.value(of: $0, params: params) == candidate.value(of: $0, params: candidateParams) })
                else { return false }
                if !condition.different.isEmpty,
                    !condition.different.contains(where: {
                        entry.value(of: $0, params: params) != candidate.value(of: $0, params: candidateParams)
                    })
                {
                    return false
                }
                return true
            }()
            if accepted {
                if !between.isEmpty {
                    let inBetween = entries[(index + 2)..<current].contains { middle in
                        middle.request.tenant == entry.request.tenant && between.contains { middle.params(for: $0) != nil }
                    }
                    if inBetween { return nil }
                }
                return index + 1
            }
            if condition.immediately { return nil }
        }
        return nil
    }
}

/// Parsed requests kept between reports, so a growing log is parsed once.
public struct CoachEntryCache: Sendable {
    var entries: [Int: Entry] = [:]

    /// An empty cache.
    public init() {}
}

/// `METHOD /a/{b}/**`, compiled.
struct PathPattern: Sendable {
    enum Segment: Sendable {
        case literal(String)
        case parameter(String)
        case rest
    }

    let method: String
    let segments: [Segment]

    init?(_ text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { return nil }
        method = parts[0].uppercased()
        segments = parts[1].split(separator: "/", omittingEmptySubsequences: true).map { segment in
            if segment == "**" { return .rest }
            if segment.hasPrefix("{"), segment.hasSuffix("}") { return .parameter(String(segment.dropFirst().dropLast())) }
            return .literal(String(segment))
        }
    }

    /// The parameters when `method path` matches, else nil.
    func match(method requestMethod: String, segments pathSegments: [Substring]) -> [String: String]? {
        guard method == "*" || method == requestMethod else { return nil }
        var params: [String: String] = [:]
        var index = 0
        for segment in segments {
            switch segment {
            case .rest:
                return params
            case .literal(let text):
                guard index < pathSegments.count, pathSegments[index] == text else { return nil }
            case .parameter(let name):
                guard index < pathSegments.count else { return nil }
                params[name] = String(pathSegments[index])
            }
            index += 1
        }
        return index == pathSegments.count ? params : nil
    }
}

/// A request with what the evaluator reads from it, parsed once. A class: the evaluator passes
/// entries around in loops over the whole log, and a copy is then one reference, not every field.
final class Entry: Sendable {
    let request: CoachRequest
    let segments: [Substring]
    let bodyJSON: JSONValue?
    let responseJSON: JSONValue?

    init(_ request: CoachRequest, basePath: String) {
        self.request = request
        var path = Substring(request.path)
        if !basePath.isEmpty, path.hasPrefix(basePath) { path = path.dropFirst(basePath.count) }
        self.segments = path.split(separator: "/", omittingEmptySubsequences: true)
        self.bodyJSON = request.body.isEmpty ? nil : try? JSONValue.parse(request.body)
        self.responseJSON = request.response.isEmpty ? nil : try? JSONValue.parse(request.response)
    }

    func params(for pattern: PathPattern) -> [String: String]? {
        pattern.match(method: request.method, segments: segments)
    }

    /// The value of a field (see `FieldTest.field`), or nil when the request has none.
    func value(of field: String, params: [String: String]) -> JSONValue? {
        let (head, rest) = field.firstIndex(of: ".").map { (String(field[..<$0]), String(field[field.index(after: $0)...])) } ?? (field, "")
        switch head {
        case "status": return .int(request.status)
        case "method": return .string(request.method)
        case "path": return .string(request.path)
        case "tenant": return request.tenant.map(JSONValue.string)
        case "param": return params[rest].map(JSONValue.string)
        case "query": return request.query[rest].map(JSONValue.string)
        case "header": return request.headers[rest.lowercased()].map(JSONValue.string)
        case "fact": return request.facts[rest]
        case "body":
            guard let bodyJSON else {
                return rest.isEmpty && !request.body.isEmpty ? .string(String(decoding: request.body, as: UTF8.self)) : nil
            }
            return rest.isEmpty ? .string(bodyJSON.text(.canonical)) : Self.lookup(bodyJSON, rest)
        case "response":
            guard let responseJSON else { return nil }
            return rest.isEmpty ? responseJSON : Self.lookup(responseJSON, rest)
        default: return nil
        }
    }

    static func lookup(_ value: JSONValue, _ path: String) -> JSONValue? {
        var current = value
        for key in path.split(separator: ".") {
            guard let next = current[String(key)] else { return nil }
            current = next
        }
        return current
    }

    func passes(_ test: FieldTest, params: [String: String]) -> Bool {
        let value = value(of: test.field, params: params)
        let present = value.map { !$0.isNull } ?? false
        if let expected = test.present { return present == expected }
        if let expected = test.equals { return value.map { Self.same($0, expected) } ?? false }
        if let expected = test.notEquals { return !(value.map { Self.same($0, expected) } ?? false) }
        if let options = test.oneOf { return value.map { actual in options.contains { Self.same(actual, $0) } } ?? false }
        if let bound = test.greaterThan { return value.flatMap(Self.number).map { $0 > bound } ?? false }
        if let bound = test.lessThan { return value.flatMap(Self.number).map { $0 < bound } ?? false }
        return false
    }

    /// Scalars compare by their text, case-insensitively (`200` = `"200"`, `VERIFIED` = `verified`).
    static func same(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch (scalarText(lhs), scalarText(rhs)) {
        case (let left?, let right?): return left.lowercased() == right.lowercased()
        default: return lhs == rhs
        }
    }

    static func scalarText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .number(let text): return Double(text).map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : text } ?? text
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        default: return nil
        }
    }

    static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .number(let text), .string(let text): return Double(text)
        default: return nil
        }
    }
}
