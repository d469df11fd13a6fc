import Foundation
import KiraJSON

/// What a walkthrough knows about the API it drives, read from a data file beside the flows (such
/// as `flows/kira-api.yaml`) that a flow names with `api:`.
///
/// Nothing in the engine, the runner, the terminal interface or the exports knows an API's paths,
/// quirks or webhook registration: they read them here. A flow that names no description gets
/// `APIDescription.empty`: no request rules, no quirk catalogue, no webhook registration.
public struct APIDescription: Sendable {
    /// A short identifier (`kira`).
    public var id: String
    /// What the API is called, for people.
    public var title: String
    /// The rules on requests, in the order written: for each property, the first rule that matches
    /// a request and sets it wins.
    public var rules: [APIRule]
    /// The quirks that explain the rules, cited in the problems the linter reports.
    public var ruleQuirks: RuleQuirks
    /// The quirk catalogue: every id a flow may use, with a one-line summary.
    public var quirks: [APIQuirk]
    /// How a run registers its webhook listener, if the API has webhooks.
    public var webhookRegistration: WebhookRegistration?
    /// The file it came from (`flows/kira-api.yaml`), empty for `empty`.
    public var file: String

    /// Every field, for tests and for building descriptions in code.
    public init(
        id: String, title: String, rules: [APIRule] = [], ruleQuirks: RuleQuirks = RuleQuirks(), quirks: [APIQuirk] = [],
        webhookRegistration: WebhookRegistration? = nil, file: String = ""
    ) {
        self.id = id
        self.title = title
        self.rules = rules
        self.ruleQuirks = ruleQuirks
        self.quirks = quirks
        self.webhookRegistration = webhookRegistration
        self.file = file
    }

    /// The description of a flow that names none.
    public static let empty = APIDescription(id: "", title: "")

    /// Quirk ids the walkthrough itself uses, whatever the API: a wait that ran out of time.
    public static let walkthroughQuirks: [APIQuirk] = [
        APIQuirk(id: "Q-WAIT-TIMEOUT", summary: "a wait ran out of time (the walkthrough's own id)", location: nil)
    ]

    /// The ids a flow may use: the catalogue's and the walkthrough's own.
    public var quirkIDs: Set<String> { Set((quirks + Self.walkthroughQuirks).map(\.id)) }

    /// The catalogue entry for `id`, the walkthrough's own included.
    public func quirk(_ id: String) -> APIQuirk? { (quirks + Self.walkthroughQuirks).first { $0.id == id } }

    /// What the rules say about `method path` (a path as written in a flow, references allowed).
    public func traits(method: String, path: String) -> RequestTraits {
        var traits = RequestTraits()
        for rule in rules where rule.matches(method: method, path: path) {
            traits.matched.append(rule)
            if traits.auth == nil { traits.auth = rule.auth }
            if traits.idempotencyKey == nil { traits.idempotencyKey = rule.idempotencyKey }
            if traits.safeToRepeat == nil { traits.safeToRepeat = rule.safeToRepeat }
            if traits.creates == nil { traits.creates = rule.creates }
            if traits.does == nil { traits.does = rule.does }
        }
        if traits.does == nil, let creates = traits.creates { traits.does = "creates \(creates)" }
        if traits.does == nil || traits.creates == nil {
            let generic = RequestTraits.generic(method: method, path: path)
            if traits.does == nil { traits.does = generic.does }
            // Only an API without a word on the request lets the REST reading decide what it creates.
            if traits.creates == nil, traits.matched.allSatisfy({ $0.does == nil }) { traits.creates = generic.creates }
        }
        return traits
    }
}

/// The quirks that explain the request rules, named in the linter's problems.
public struct RuleQuirks: Sendable {
    /// Why a request needs the credentials its rule names (`Q-AUTH-HEADERS`).
    public var auth: String?
    /// Why a request needs an idempotency key (`Q-IDEMPOTENCY`).
    public var idempotencyKey: String?
    /// Why the client fetched a new token during a run (`token_renewal:`, `Q-TOKEN-TTL`): named
    /// in the note the run records when it re-authenticates.
    public var tokenRenewal: String?

    /// Both, either optional.
    public init(auth: String? = nil, idempotencyKey: String? = nil) {
        self.auth = auth
        self.idempotencyKey = idempotencyKey
    }
}

/// One entry of the quirk catalogue.
public struct APIQuirk: Sendable, Hashable {
    /// A stable id (`Q-ONE-VA`).
    public var id: String
    /// What it names, in one line.
    public var summary: String
    /// Where it is written, `nil` for the walkthrough's own.
    public var location: SourceLocation?

    /// Every field.
    public init(id: String, summary: String, location: SourceLocation?) {
        self.id = id
        self.summary = summary
        self.location = location
    }
}

/// A rule on the requests that match a method and a path pattern.
///
/// A pattern is a path of literal segments, `{name}` for any one segment and a final `**` for any
/// number of them: `/v1/virtual-accounts/{id}/payout`, `/v1/**`. The method may be `*`.
public struct APIRule: Sendable {
    /// `POST`, or `*` for any.
    public var method: String
    /// The path pattern as written.
    public var pattern: String
    /// The credentials the request needs.
    public var auth: AuthMode?
    /// Whether the API refuses the request without an idempotency key.
    public var idempotencyKey: Bool?
    /// Whether resending it after an interruption cannot duplicate anything.
    public var safeToRepeat: Bool?
    /// What it creates, as a noun phrase (`a user`); it then is not safe to repeat without a key.
    public var creates: String?
    /// What it does, in words (`pins the account's API version`).
    public var does: String?
    /// Where the rule is written.
    public var location: SourceLocation

    /// Every field.
    public init(
        method: String, pattern: String, auth: AuthMode? = nil, idempotencyKey: Bool? = nil, safeToRepeat: Bool? = nil,
        creates: String? = nil, does: String? = nil, location: SourceLocation
    ) {
        self.method = method
        self.pattern = pattern
        self.auth = auth
        self.idempotencyKey = idempotencyKey
        self.safeToRepeat = safeToRepeat
        self.creates = creates
        self.does = does
        self.location = location
    }

    /// `POST /v1/users`, as written.
    public var match: String { "\(method) \(pattern)" }

    /// Whether the rule applies to `method path` (references in the path count as one segment each;
    /// the query is ignored).
    public func matches(method: String, path: String) -> Bool {
        guard self.method == "*" || self.method == method.uppercased() else { return false }
        let segments = Self.segments(path)
        let patternSegments = Self.segments(pattern)
        for (index, expected) in patternSegments.enumerated() {
            if expected == "**", index == patternSegments.count - 1 { return true }
            guard index < segments.count else { return false }
            if Self.isWildcard(expected) { continue }
            if expected != segments[index] { return false }
        }
        return segments.count == patternSegments.count
    }

    /// A path's segments, without its query.
    static func segments(_ path: String) -> [String] {
        let bare = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
        return bare.split(separator: "/").map(String.init)
    }

    /// `{name}` (or `{}`): any one segment.
    static func isWildcard(_ segment: String) -> Bool {
        segment.hasPrefix("{") && segment.hasSuffix("}") && !segment.hasPrefix("{{")
    }
}

/// What the API description says about one request.
public struct RequestTraits: Sendable {
    /// The credentials it needs, when a rule says.
    public var auth: AuthMode?
    /// Whether the API refuses it without an idempotency key, when a rule says.
    public var idempotencyKey: Bool?
    /// Whether resending it cannot duplicate anything, when a rule says.
    public var safeToRepeat: Bool?
    /// What it creates (`a user`), if anything.
    public var creates: String?
    /// What it does, in words: a rule's, else read from the path as REST.
    public var does: String?
    /// The rules that matched, in order.
    public var matched: [APIRule] = []

    /// Nothing known.
    public init() {}

    /// What it does, in words (never empty).
    public var effect: String { does ?? "calls the API" }

    /// A REST reading of the path, for requests no rule describes: `POST /things` creates a thing,
    /// `GET /things/{{ id }}` reads one. Version segments (`v1`, `v2`) are skipped.
    public static func generic(method: String, path: String) -> RequestTraits {
        var traits = RequestTraits()
        let segments = APIRule.segments(path)
        let hasQuery = path.contains("?")
        let resources = segments.filter { !isVersion($0) }
        guard let last = resources.last else {
            traits.does = "calls \(method) \(path)"
            return traits
        }
        let lastIsID = isIdentifier(last)
        let collection = lastIsID ? (resources.dropLast().last ?? last) : last
        let noun = singular(collection)
        let article = noun.first.map { "aeio".contains($0) } == true ? "an" : "a"
        switch (method, lastIsID) {
        case ("POST", false):
            traits.creates = "\(article) \(noun)"
            traits.does = "creates \(article) \(noun)"
        case ("GET", true): traits.does = "reads \(article) \(noun)"
        case ("GET", false): traits.does = "lists \(plural(collection))\(hasQuery ? " (filtered)" : "")"
        case ("PUT", _): traits.does = "updates \(article) \(noun)"
        case ("DELETE", _): traits.does = "deletes \(article) \(noun)"
        default: traits.does = "calls \(method) on \(article) \(noun)"
        }
        return traits
    }

    /// `v1`, `v2`: a version prefix, not a resource.
    static func isVersion(_ segment: String) -> Bool {
        segment.count >= 2 && segment.first == "v" && segment.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Whether a path segment is an id: a template reference, a UUID or a number.
    static func isIdentifier(_ segment: String) -> Bool {
        segment.contains("{{") || UUID(uuidString: segment) != nil || segment.allSatisfy(\.isNumber)
    }

    static func plural(_ collection: String) -> String {
        (collection.split(separator: "?").first.map(String.init) ?? collection).replacingOccurrences(of: "-", with: " ")
    }

    static func singular(_ collection: String) -> String {
        var words = plural(collection)
        if words.hasSuffix("ies") {
            words = String(words.dropLast(3)) + "y"
        } else if words.hasSuffix("s"), !words.hasSuffix("ss") {
            words.removeLast()
        }
        return words
    }
}

/// How a run registers its webhook listener with the API, and what it tells people about it.
///
/// The body is a JSON template. Besides the flow's inputs and captures it may refer to
/// `{{ webhook_url }}` (the URL registered: the listener's, or the public one from
/// `publicURLEnvironment` on a target that is not an emulator), `{{ webhook_secret }}` (the
/// listener's signing secret: sent, never recorded) and the credentials by their role
/// (`{{ api_key }}`, `{{ client_id }}`, `{{ password }}`).
public struct WebhookRegistration: Sendable {
    public var method: String
    /// The path under the base URL.
    public var path: String
    public var auth: AuthMode
    public var body: JSONValue?
    /// Statuses that mean it worked.
    public var expect: [Int]
    /// What the request is called on screen and in exports.
    public var label: String
    /// The environment variable holding a public URL that reaches the listener, for targets that
    /// are not an emulator (which can only reach a public address).
    public var publicURLEnvironment: String?
    /// What the run says.
    public var notices: Notices
    public var location: SourceLocation

    /// Every field.
    public init(
        method: String, path: String, auth: AuthMode, body: JSONValue?, expect: [Int], label: String, publicURLEnvironment: String?,
        notices: Notices, location: SourceLocation
    ) {
        self.method = method
        self.path = path
        self.auth = auth
        self.body = body
        self.expect = expect
        self.label = label
        self.publicURLEnvironment = publicURLEnvironment
        self.notices = notices
        self.location = location
    }

    /// The references the registration itself provides (besides the flow's values and the
    /// credentials by role).
    public static let ownReferences: Set<String> = ["webhook_url", "webhook_secret"]

    /// The references a notice may use.
    public static let noticeReferences: Set<String> = ["webhook_url", "listener_url", "public_url_env"]

    /// The run's notices, templates over `noticeReferences`.
    public struct Notices: Sendable {
        /// After the API accepted the registration.
        public var registered: String
        /// After it refused it, or could not be reached.
        public var failed: String
        /// On a target that is not an emulator, when `publicURLEnvironment` is not set.
        public var needsPublicURL: String

        /// Every text.
        public init(registered: String, failed: String, needsPublicURL: String) {
            self.registered = registered
            self.failed = failed
            self.needsPublicURL = needsPublicURL
        }

        /// What a registration says when the description gives no text.
        public static let standard = Notices(
            registered: "Webhooks: registered {{ webhook_url }}; events will show as they arrive.",
            failed: "Webhooks: registering {{ webhook_url }} failed; the walkthrough goes on without them.",
            needsPublicURL:
                "Webhooks: listening on {{ listener_url }}, but this target can only reach a public URL. Expose it with a tunnel and set {{ public_url_env }} to register it."
        )
    }

    /// The body to send: references `value` knows are filled in; the others stay `{{ name }}` for
    /// the client to fill when it sends (secrets, which are then never recorded).
    public func renderedBody(_ value: (String) -> String?) -> JSONValue? {
        body.map { Self.fill($0, value) }
    }

    /// A notice with its references filled.
    public static func notice(_ text: String, webhookURL: String, listenerURL: String, publicURLEnvironment: String?) -> String {
        let values = ["webhook_url": webhookURL, "listener_url": listenerURL, "public_url_env": publicURLEnvironment ?? ""]
        return (try? Template(parsing: text))?.render { values[$0] } ?? text
    }

    static func fill(_ value: JSONValue, _ lookup: (String) -> String?) -> JSONValue {
        switch value {
        case .string(let text):
            guard let template = try? Template(parsing: text) else { return value }
            return .string(template.render { lookup($0) ?? "{{ \($0) }}" } ?? text)
        case .array(let items): return .array(items.map { fill($0, lookup) })
        case .object(let object): return .object(JSONObject(object.entries.map { ($0.key, fill($0.value, lookup)) }))
        default: return value
        }
    }
}
