import Foundation
import KiraJSON
import Yams

/// What the coach checks, read from data (`flows/coach.yaml`): the checklist of steps an
/// integration completes, and the rules a request can break. Generic: the vocabulary below knows
/// requests, headers, bodies, statuses and facts, never one API.
public struct CoachRules: Sendable, Decodable, Equatable {
    /// A prefix every path is served under (for example `/api`), stripped before patterns match.
    public var basePath: String
    /// The steps, in order.
    public var steps: [CoachStep]
    /// The rules, in order.
    public var rules: [CoachRule]

    enum CodingKeys: String, CodingKey {
        case basePath = "base_path"
        case steps, rules
    }

    /// Rules from their parts.
    public init(basePath: String = "", steps: [CoachStep] = [], rules: [CoachRule] = []) {
        self.basePath = basePath
        self.steps = steps
        self.rules = rules
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        basePath = try container.decodeIfPresent(String.self, forKey: .basePath) ?? ""
        steps = try container.decodeIfPresent([CoachStep].self, forKey: .steps) ?? []
        rules = try container.decodeIfPresent([CoachRule].self, forKey: .rules) ?? []
    }

    /// Parses and checks the YAML text of a coach file.
    ///
    /// - Throws: `CoachRulesError` naming the file and what is wrong.
    public static func load(_ text: String, file: String) throws -> CoachRules {
        let rules: CoachRules
        do {
            rules = try YAMLDecoder().decode(CoachRules.self, from: text)
        } catch let error as DecodingError {
            throw CoachRulesError(file: file, message: Self.describe(error))
        } catch {
            throw CoachRulesError(file: file, message: "\(error)")
        }
        var problems: [String] = []
        var ids = Set<String>()
        for rule in rules.rules {
            if !ids.insert(rule.id).inserted { problems.append("rule \(rule.id) is defined twice") }
            problems += rule.problems().map { "rule \(rule.id): \($0)" }
        }
        for step in rules.steps {
            if step.requires.isEmpty { problems.append("step \(step.id) requires nothing") }
            for condition in step.requires { problems += condition.problems().map { "step \(step.id): \($0)" } }
        }
        guard problems.isEmpty else { throw CoachRulesError(file: file, message: problems.joined(separator: "; ")) }
        return rules
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)).\(key.stringValue) is required"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// Why a coach file was refused.
public struct CoachRulesError: Error, CustomStringConvertible, Sendable {
    /// The file.
    public var file: String
    /// What is wrong.
    public var message: String
    public var description: String { "\(file): \(message)" }
}

/// How bad breaking a rule is.
public enum CoachSeverity: String, Sendable, Decodable, Equatable, Comparable {
    /// It failed, or will fail on the real service.
    case error
    /// It works here but is fragile.
    case warning

    public static func < (lhs: CoachSeverity, rhs: CoachSeverity) -> Bool { lhs == .error && rhs == .warning }
}

/// One or more request patterns, `METHOD /path/{param}/**` (`*` is any method, `{name}` one
/// segment, a final `**` any number of them). In YAML a string or a list of strings.
public struct RequestPatterns: Sendable, Decodable, Equatable {
    /// The patterns as written.
    public var patterns: [String]

    /// Patterns from their text.
    public init(_ patterns: [String]) { self.patterns = patterns }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let one = try? container.decode(String.self) {
            patterns = [one]
        } else {
            patterns = try container.decode([String].self)
        }
    }

    func problems() -> [String] {
        patterns.compactMap { pattern in
            let parts = pattern.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2, parts[1].hasPrefix("/") else { return "pattern '\(pattern)' is not 'METHOD /path'" }
            return nil
        }
    }
}

/// A test of one field of a request: `field` names it (`status`, `method`, `path`, `tenant`,
/// `param.NAME`, `query.NAME`, `header.NAME`, `body`, `body.a.b`, `response.a.b`, `fact.NAME`);
/// exactly one operator says what must hold. Strings compare case-insensitively.
public struct FieldTest: Sendable, Decodable, Equatable {
    /// The field.
    public var field: String
    /// It equals this value.
    public var equals: JSONValue?
    /// It is absent or differs from this value.
    public var notEquals: JSONValue?
    /// It equals one of these values.
    public var oneOf: [JSONValue]?
    /// It is a number (or a numeric string) greater than this.
    public var greaterThan: Double?
    /// It is a number (or a numeric string) less than this.
    public var lessThan: Double?
    /// `true`: it is present and not null; `false`: it is absent or null.
    public var present: Bool?

    enum CodingKeys: String, CodingKey {
        case field, equals
        case notEquals = "not_equals"
        case oneOf = "one_of"
        case greaterThan = "greater_than"
        case lessThan = "less_than"
        case present
    }

    /// A test from its parts.
    public init(
        field: String, equals: JSONValue? = nil, notEquals: JSONValue? = nil, oneOf: [JSONValue]? = nil, greaterThan: Double? = nil,
        lessThan: Double? = nil, present: Bool? = nil
    ) {
        self.field = field
        self.equals = equals
        self.notEquals = notEquals
        self.oneOf = oneOf
        self.greaterThan = greaterThan
        self.lessThan = lessThan
        self.present = present
    }

    func problems() -> [String] {
        let operators = [equals != nil, notEquals != nil, oneOf != nil, greaterThan != nil, lessThan != nil, present != nil]
        return operators.filter { $0 }.count == 1 ? [] : ["the test of \(field) needs exactly one operator"]
    }
}

/// A request that matches patterns and tests.
public struct RequestCondition: Sendable, Decodable, Equatable {
    /// The patterns it matches.
    public var match: RequestPatterns
    /// Tests that must all hold.
    public var `where`: [FieldTest]

    enum CodingKeys: String, CodingKey { case match, `where` }

    /// A condition from its parts.
    public init(match: RequestPatterns, where tests: [FieldTest] = []) {
        self.match = match
        self.where = tests
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        match = try container.decode(RequestPatterns.self, forKey: .match)
        self.where = try container.decodeIfPresent([FieldTest].self, forKey: .where) ?? []
    }

    func problems() -> [String] { match.problems() + self.where.flatMap { $0.problems() } }
}

/// One step of the checklist: done once requests met each condition, in order.
public struct CoachStep: Sendable, Decodable, Equatable {
    /// A stable id.
    public var id: String
    /// What a person reads.
    public var title: String
    /// The requests that complete it, in order.
    public var requires: [RequestCondition]

    /// A step from its parts.
    public init(id: String, title: String, requires: [RequestCondition]) {
        self.id = id
        self.title = title
        self.requires = requires
    }
}

/// An earlier request a rule looks for, in the same tenant, before the request it checks.
public struct EarlierCondition: Sendable, Decodable, Equatable {
    /// Its patterns; the rule's own when absent.
    public var match: RequestPatterns?
    /// Tests on the earlier request.
    public var `where`: [FieldTest]
    /// Fields that must be equal on both requests.
    public var same: [String]
    /// Fields of which at least one must differ between the two requests.
    public var different: [String]
    /// The earlier request came less than this many seconds before.
    public var withinSeconds: Double?
    /// Only the tenant's immediately previous request counts.
    public var immediately: Bool
    /// No request matching these came in between.
    public var unlessBetween: RequestPatterns?

    enum CodingKeys: String, CodingKey {
        case match, `where`, same, different, immediately
        case withinSeconds = "within_seconds"
        case unlessBetween = "unless_between"
    }

    /// A condition from its parts.
    public init(
        match: RequestPatterns? = nil, where tests: [FieldTest] = [], same: [String] = [], different: [String] = [],
        withinSeconds: Double? = nil, immediately: Bool = false, unlessBetween: RequestPatterns? = nil
    ) {
        self.match = match
        self.where = tests
        self.same = same
        self.different = different
        self.withinSeconds = withinSeconds
        self.immediately = immediately
        self.unlessBetween = unlessBetween
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        match = try container.decodeIfPresent(RequestPatterns.self, forKey: .match)
        self.where = try container.decodeIfPresent([FieldTest].self, forKey: .where) ?? []
        same = try container.decodeIfPresent([String].self, forKey: .same) ?? []
        different = try container.decodeIfPresent([String].self, forKey: .different) ?? []
        withinSeconds = try container.decodeIfPresent(Double.self, forKey: .withinSeconds)
        immediately = try container.decodeIfPresent(Bool.self, forKey: .immediately) ?? false
        unlessBetween = try container.decodeIfPresent(RequestPatterns.self, forKey: .unlessBetween)
    }

    func problems() -> [String] {
        (match?.problems() ?? []) + (unlessBetween?.problems() ?? []) + self.where.flatMap { $0.problems() }
    }
}

/// A rule: a request that matches `match`, not `except`, passes every `where` test and has each
/// `earlier` request before it (each after the one before) breaks it.
public struct CoachRule: Sendable, Decodable, Equatable {
    /// A stable id.
    public var id: String
    /// The quirk it is about.
    public var quirk: String
    /// How bad it is.
    public var severity: CoachSeverity
    /// The requests it checks.
    public var match: RequestPatterns
    /// Requests it never checks.
    public var except: RequestPatterns?
    /// Tests on the request.
    public var `where`: [FieldTest]
    /// Earlier requests that must exist, in order.
    public var earlier: [EarlierCondition]
    /// What happened.
    public var message: String
    /// Why it matters.
    public var why: String
    /// What to change.
    public var fix: String

    enum CodingKeys: String, CodingKey { case id, quirk, severity, match, except, `where`, earlier, message, why, fix }

    /// A rule from its parts.
    public init(
        id: String, quirk: String, severity: CoachSeverity, match: RequestPatterns, except: RequestPatterns? = nil,
        where tests: [FieldTest] = [], earlier: [EarlierCondition] = [], message: String, why: String = "", fix: String = ""
    ) {
        self.id = id
        self.quirk = quirk
        self.severity = severity
        self.match = match
        self.except = except
        self.where = tests
        self.earlier = earlier
        self.message = message
        self.why = why
        self.fix = fix
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        quirk = try container.decode(String.self, forKey: .quirk)
        severity = try container.decode(CoachSeverity.self, forKey: .severity)
        match = try container.decode(RequestPatterns.self, forKey: .match)
        except = try container.decodeIfPresent(RequestPatterns.self, forKey: .except)
        self.where = try container.decodeIfPresent([FieldTest].self, forKey: .where) ?? []
        earlier = try container.decodeIfPresent([EarlierCondition].self, forKey: .earlier) ?? []
        message = try container.decode(String.self, forKey: .message)
        why = try container.decodeIfPresent(String.self, forKey: .why) ?? ""
        fix = try container.decodeIfPresent(String.self, forKey: .fix) ?? ""
    }

    func problems() -> [String] {
        match.problems() + (except?.problems() ?? []) + self.where.flatMap { $0.problems() } + earlier.flatMap { $0.problems() }
    }
}
