import Foundation
import KiraJSON

/// Where something was written in a flow file.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A walkthrough: inputs and steps, loaded from a YAML file such as `flows/quickstart.yaml`.
public struct Flow: Sendable {
    /// A short identifier (`quickstart`).
    public var id: String
    /// What the header shows.
    public var title: String
    /// The API version the flow pins and sends until pinned (the `api_version` reference).
    public var apiVersion: String
    /// Values the flow needs from the person or the environment, in order.
    public var inputs: [FlowInput]
    /// The steps, in order.
    public var steps: [FlowStep]
    /// The file it came from.
    public var file: String
    /// What the flow knows about its API: request rules, the quirk catalogue, the webhook
    /// registration (from the file `api:` names; `APIDescription.empty` when it names none).
    public var api: APIDescription = .empty
    /// The `api:` reference as written (`kira-api.yaml`, relative to the flow file).
    public var apiFile: String?
    /// The files its bodies embed as data URLs (`{ file_as_data_url: PATH }`), once each, in the
    /// order first written.
    public var embeddedFiles: [EmbeddedFile] = []

    /// The input called `name`.
    public func input(_ name: String) -> FlowInput? { inputs.first { $0.name == name } }

    /// Names a template may use without defining them.
    public static let builtins: Set<String> = ["api_version"]
}

/// A value the flow needs: from an environment variable, a prompt, a default or a generator.
public struct FlowInput: Sendable {
    public enum Format: String, Sendable, Codable {
        case text, uuid, amount
    }

    /// Values the walkthrough makes up once per session (and keeps, so a resend is identical).
    public enum Generator: String, Sendable {
        case uuid
        case shortID = "short_id"
    }

    public var name: String
    /// The environment variable that provides it.
    public var env: String?
    /// What to ask a person.
    public var prompt: String
    /// Never written to disk, masked on screen.
    public var secret: Bool
    /// Used when nothing else provides a value.
    public var defaultValue: String?
    public var format: Format
    /// The flow may run without it (requests can depend on whether it is set).
    public var optional: Bool
    public var generate: Generator?
    /// Which Kira credential it is: the client uses it, and on a local target the embedded
    /// emulator's demo credential fills it.
    public var credential: Credential?
    public var location: SourceLocation
    /// Whether a person is asked for it on the local emulator (`ask_on_emulator`, default true).
    /// False for an optional input only a real tenant can give (an id provisioned there): on the
    /// emulator it stays empty unless the environment sets it.
    public var askOnEmulator = true
}

/// The three credentials of a Kira tenant.
public enum Credential: String, Sendable, Codable, CaseIterable {
    case apiKey = "api_key"
    case clientID = "client_id"
    case password
}

/// One step of the walkthrough.
public struct FlowStep: Sendable {
    public var id: String
    public var title: String
    /// What the step does and why, for a newcomer.
    public var explain: String
    /// Inputs to settle before the step starts.
    public var inputs: [String]
    /// The requests, in order (some may be skipped by their `when`).
    public var requests: [FlowRequest]
    public var location: SourceLocation
}

/// Which credentials a request carries (Q-AUTH-HEADERS).
public enum AuthMode: String, Sendable, Codable {
    /// No credentials.
    case none
    /// `x-api-key` only (`POST /auth`).
    case apiKey = "api_key"
    /// `x-api-key` and `Authorization: Bearer`.
    case bearer
}

/// A request a step sends.
public struct FlowRequest: Sendable {
    public var id: String
    /// A short description shown beside the request.
    public var label: String?
    public var method: String
    /// The path under the base URL, with references and an optional query.
    public var path: Template
    public var auth: AuthMode
    /// Send a generated `Idempotency-Key` (kept across resends).
    public var idempotency: Bool
    /// Resending after an interruption cannot duplicate anything (besides GETs and keyed POSTs).
    public var safeToRepeat: Bool
    /// The JSON body; strings may hold references.
    public var body: JSONValue?
    /// Statuses that mean success.
    public var expect: [Int]
    public var captures: [Capture]
    /// Repeat until a condition holds.
    public var wait: WaitSpec?
    public var quirks: [QuirkRule]
    /// Send only when an input is set (or unset).
    public var condition: RequestCondition?
    /// After success, wait (bounded, optional) for a webhook.
    public var webhook: WebhookWait?
    public var location: SourceLocation
    /// Where `path` and `body` were written, for precise problems.
    public var fieldLocations: [String: SourceLocation] = [:]
    /// Headers this request sets or leaves out, over those the client sends by itself (`headers:`).
    public var headers: [HeaderOverride] = []

    /// Whether resending it after an interruption is safe without asking.
    public var repeatable: Bool { method == "GET" || idempotency || safeToRepeat }
}

/// One header a request sets, or leaves out, over the client's own (`headers: {NAME: VALUE}`).
public struct HeaderOverride: Sendable, Hashable {
    /// The header's name, in lower case.
    public var name: String
    /// The value, a template; `nil` leaves the header out of this request.
    public var value: Template?

    /// A header set to `value`, or left out when `value` is `nil`.
    public init(name: String, value: Template?) {
        self.name = name.lowercased()
        self.value = value
    }
}

/// Waiting for a webhook after a request: bounded and optional (the step succeeds either way).
public struct WebhookWait: Sendable {
    /// The event name, for example `virtual_account.deposit_funds_received`.
    public var event: String
    /// A field of the event that must equal `equals` (a template), for example `data.deposit_id`.
    public var field: JSONPath?
    public var equals: String?
    /// Seconds to wait at most.
    public var timeout: Double
    /// The quirk the explanation is about, named with the note the engine records.
    public var quirk: String?
    /// What the engine says once the wait is over, whichever way it ended.
    public var explain: Explanations = .standard

    /// The references an explanation may use besides the flow's inputs and captures: `event` (the
    /// event name), `event_id` (the received event's id, only once one arrived) and `timeout`
    /// (the wait's bound in whole seconds).
    public static let references: Set<String> = ["event", "event_id", "timeout"]

    /// How a webhook wait ended.
    public enum Outcome: Sendable {
        /// The awaited event arrived; its signature verified or not.
        case arrived(WebhookEventRecord)
        /// The run was listening, but nothing arrived within the timeout.
        case missed
        /// The run has no listener, so nothing could arrive.
        case notListening
    }

    /// The texts for each way a wait ends: templates over `references` and the flow's values.
    public struct Explanations: Sendable {
        /// The event arrived and its signature verified (`verified:`).
        public var verified: String
        /// The event arrived but its signature did not verify (`unverified:`).
        public var unverified: String
        /// Listening, nothing arrived in time (`missed:`).
        public var missed: String
        /// No listener (`not_listening:`).
        public var notListening: String

        /// Every text.
        public init(verified: String, unverified: String, missed: String, notListening: String) {
            self.verified = verified
            self.unverified = unverified
            self.missed = missed
            self.notListening = notListening
        }

        /// What a flow that gives no text gets.
        public static let standard = Explanations(
            verified: "The {{ event }} webhook arrived ({{ event_id }}) and its signature verified.",
            unverified: "The {{ event }} webhook arrived ({{ event_id }}), but its signature did NOT verify with the registered secret.",
            missed: "No {{ event }} webhook within {{ timeout }} s.",
            notListening: "The {{ event }} webhook was not awaited: run with --webhook-listen HOST:PORT to receive it here."
        )

        /// The text for `outcome`, unrendered.
        public func text(for outcome: Outcome) -> String {
            switch outcome {
            case .arrived(let record): record.verified ? verified : unverified
            case .missed: missed
            case .notListening: notListening
            }
        }
    }

    /// The note for `outcome`: its text with `event`, `event_id` and `timeout` filled, and every
    /// other reference through `value` (the engine's inputs and captures); a reference nothing
    /// fills stays as written.
    public func explanation(_ outcome: Outcome, value: (String) -> String?) -> String {
        let text = explain.text(for: outcome)
        var own = ["event": event, "timeout": String(Int(timeout))]
        if case .arrived(let record) = outcome {
            own["event"] = record.event
            own["event_id"] = record.eventID
        }
        guard let template = try? Template(parsing: text) else { return text }
        return template.render { own[$0] ?? value($0) ?? "{{ \($0) }}" } ?? text
    }
}

/// Sends a request only when an input is, or is not, set.
public struct RequestCondition: Sendable {
    public var input: String
    public var whenSet: Bool
}

/// A value kept from a response, by JSON path with alternatives (Q-SHAPES).
public struct Capture: Sendable {
    /// What the walkthrough does with a captured value besides keeping it.
    public enum Role: String, Sendable {
        /// The access token the client uses as its bearer.
        case bearerToken = "bearer_token"
        /// The token's lifetime in seconds.
        case tokenLifetime = "token_lifetime"
        /// The pinned API version: the client stops sending `X-Api-Version`.
        case pinnedVersion = "pinned_version"
    }

    public var name: String
    /// Tried in order; the first that resolves wins.
    public var paths: [JSONPath]
    /// Kept in memory only, never written.
    public var secret: Bool
    public var role: Role?
    public var location: SourceLocation
}

/// Repeat a request until a condition holds.
public struct WaitSpec: Sendable {
    public var until: ResponseCondition
    /// Seconds before the first repeat.
    public var interval: Double
    /// Multiplies the interval after each repeat.
    public var backoff: Double
    /// The longest interval.
    public var maxInterval: Double
    /// The whole wait, in seconds.
    public var timeout: Double
    /// The quirk being waited on, named on screen.
    public var quirk: String?
    /// What the wait is for.
    public var explain: String?
}

/// A test on a response. Every part given must hold; text compares case-insensitively unless
/// `caseSensitive`.
public struct ResponseCondition: Sendable {
    public var status: [Int]?
    /// The error `code` field.
    public var code: String?
    /// A substring of the `message` field (or of the raw body when it is not JSON).
    public var messageContains: String?
    /// A field's value, by path.
    public var field: JSONPath?
    /// The field equals one of these (templates allowed in strings).
    public var equals: [JSONValue]?
    /// The field equals none of these.
    public var notIn: [JSONValue]?
    public var caseSensitive: Bool
    /// Conditions that must all hold as well (`all: [{…}, {…}]`): how one condition tests several
    /// fields, such as "account_number is real and status is not rfi".
    public var all: [ResponseCondition]?

    public init(
        status: [Int]? = nil, code: String? = nil, messageContains: String? = nil, field: JSONPath? = nil,
        equals: [JSONValue]? = nil, notIn: [JSONValue]? = nil, caseSensitive: Bool = false, all: [ResponseCondition]? = nil
    ) {
        self.all = all
        self.status = status
        self.code = code
        self.messageContains = messageContains
        self.field = field
        self.equals = equals
        self.notIn = notIn
        self.caseSensitive = caseSensitive
    }
}

extension ResponseCondition {
    /// The names its expected values refer to (`{{ name }}` in `equals` and `not_in`).
    public var references: [String] {
        expectedValues.flatMap(\.references)
    }

    /// The values of its `equals` and `not_in`, those of the conditions under `all` included.
    public var expectedValues: [JSONValue] {
        (equals ?? []) + (notIn ?? []) + (all ?? []).flatMap(\.expectedValues)
    }
}

/// A known sandbox quirk recognised in a response: an explanation and ways past it.
public struct QuirkRule: Sendable {
    public enum Effect: String, Sendable {
        /// Stop the flow and offer the remedies.
        case block
        /// Explain, and carry on.
        case note
    }

    /// A stable id from the contract (`Q-ONE-VA`).
    public var id: String
    public var when: ResponseCondition
    public var effect: Effect
    /// What it means, for a newcomer (references allowed).
    public var explain: String
    public var remedies: [Remedy]
    public var location: SourceLocation
    /// What the API requires in the bodies sent, compared in the explanation (`required:`).
    public var required: RequiredFields? = nil
}

/// A way past a blocking quirk.
public struct Remedy: Sendable {
    public enum Kind: Sendable {
        /// A follow-up request, whose captures carry the flow on (reuse the existing VA).
        case request(FlowRequest)
        /// Keep waiting for the blocked wait's condition, this quirk no longer stopping it.
        case wait
        /// Ask for a value (a provisioned id), then optionally validate it with a request.
        case prompt(input: String, request: FlowRequest?)
        /// Find the smallest accepted amount by bisecting the blocked request over `input`.
        case search(input: String, spanCents: Int, maxCalls: Int)
        /// What a Kira operator would do; offered only when the target is this project's emulator.
        case operatorAction(OperatorAction)
        /// Run the step again from a request, with a new idempotency key.
        case restart(from: String)
        /// Treat the step as done, with a note.
        case proceed
        /// Stop: only a person can go on (exit code 3 in unattended runs).
        case stop(advice: String)
    }

    /// Where the flow goes after the remedy worked.
    public enum Continuation: String, Sendable {
        /// Send the blocked request again.
        case retry
        /// Go on with the request after the blocked one.
        case next
    }

    public var label: String
    public var kind: Kind
    public var then: Continuation
    public var location: SourceLocation
}

/// An operator action on the emulator ("play the Kira contact").
public struct OperatorAction: Sendable, Hashable, Codable {
    public enum Verb: String, Sendable, Codable {
        case verifyUser = "verify_user"
        case rejectUser = "reject_user"
        /// Answers a virtual account's request for information: it is approved again.
        case clearVirtualAccountRFI = "clear_virtual_account_rfi"

        /// The emulator's control for it: `POST /__emulator/<collection>/<id>/<action>`.
        public var control: (collection: String, action: String) {
            switch self {
            case .verifyUser: ("users", "verify")
            case .rejectUser: ("users", "reject")
            case .clearVirtualAccountRFI: ("virtual-accounts", "clear-rfi")
            }
        }
    }

    public var verb: Verb
    /// The resource id, a template.
    public var id: String
}
