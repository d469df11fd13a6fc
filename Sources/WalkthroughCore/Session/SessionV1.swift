import Foundation
import KiraJSON

/// A session file of schema 1, as kira-walkthrough wrote it before step phases: a step's data in
/// optionals beside its state, and camelCase keys inside steps, exchanges, events and the target.
/// Read only to be migrated; nothing writes it any more.
struct SessionV1: Decodable {
    struct Target: Decodable {
        var kind: String
        var baseURL: String
        var isEmulator: Bool
    }

    struct Request: Decodable {
        var stepID: String
        var requestID: String
        var label: String?
        var method: String
        var path: String
        var auth: AuthMode
        var idempotencyKey: String?
        var body: JSONValue?
        var repeatable: Bool

        var migrated: RenderedRequest {
            RenderedRequest(
                stepID: stepID, requestID: requestID, label: label, method: method, path: path, auth: auth, idempotencyKey: idempotencyKey,
                body: body, repeatable: repeatable)
        }
    }

    /// Synthesized enum coding: `{"flow":{}}`, `{"remedy":{"quirk":…,"remedy":…}}`.
    enum Origin: Decodable {
        case flow
        case remedy(quirk: String, remedy: Int)
        case validation(quirk: String, remedy: Int)
        case probe(quirk: String, remedy: Int)
    }

    struct Active: Decodable {
        var origin: Origin
        var request: Request
    }

    struct Option: Decodable {
        var label: String
        var available: Bool
        var recommended: Bool
        var unavailableReason: String?
    }

    struct Blocked: Decodable {
        var quirkID: String
        var requestID: String
        var explanation: String
        var remedies: [Option]
        var isTimeout: Bool?

        var migrated: BlockedQuirk {
            BlockedQuirk(
                quirkID: quirkID, requestID: requestID, explanation: explanation,
                remedies: remedies.map {
                    RemedyOption(
                        label: $0.label, available: $0.available, recommended: $0.recommended, unavailableReason: $0.unavailableReason)
                }, isTimeout: isTimeout ?? false)
        }
    }

    struct Search: Decodable {
        var input: String
        var failingCents: Int
        var passingCents: Int?
        var probeCents: Int
        var calls: Int
        var maxCalls: Int
        var spanCents: Int
    }

    struct Step: Decodable {
        var id: String
        var title: String
        var state: StepState?
        var requestIndex: Int?
        var active: Active?
        var blocked: Blocked?
        var failure: String?
        var pendingInput: String?
        var inputError: String?
        var pendingRemedy: PendingRemedy?
        var pendingOperator: PendingRemedy?
        var waitStartedAt: Date?
        var waitAttempt: Int?
        var suppressedQuirks: [String]?
        var notedQuirks: [String]?
        var remedyUses: [String: Int]?
        var search: Search?
        var awaitingWebhook: Bool?

        /// The request in flight, with the search a probe carried beside it in schema 1.
        var migratedActive: ActiveRequest? {
            guard let active else { return nil }
            let origin: ActiveRequest.Origin
            switch active.origin {
            case .flow: origin = .flow
            case .remedy(let quirk, let remedy): origin = .remedy(quirk: quirk, remedy: remedy)
            case .validation(let quirk, let remedy): origin = .validation(quirk: quirk, remedy: remedy)
            case .probe(let quirk, let remedy):
                guard let search else { return nil }
                var progress = AmountSearch(
                    input: search.input, refusedCents: search.failingCents, spanCents: search.spanCents, maxCalls: search.maxCalls)
                progress.passingCents = search.passingCents
                progress.probeCents = search.probeCents
                progress.calls = search.calls
                origin = .probe(quirk: quirk, remedy: remedy, search: progress)
            }
            return ActiveRequest(origin: origin, request: active.request.migrated)
        }

        /// The phase that the state and its optionals described.
        var migratedPhase: StepPhase {
            let active = migratedActive
            let wait = WaitProgress(startedAt: waitStartedAt, attempt: waitAttempt ?? 0)
            switch state ?? .pending {
            case .pending: return .pending
            case .awaitingInput:
                guard let pendingInput else { return .pending }
                return .awaitingInput(InputAsk(name: pendingInput, error: inputError, remedy: pendingRemedy))
            case .ready: return active.map { .ready($0) } ?? .pending
            case .sending: return active.map { .sending($0, wait: waitStartedAt == nil ? nil : wait) } ?? .pending
            case .waiting:
                if awaitingWebhook == true { return .awaitingWebhook }
                return active.map { .waiting($0, wait) } ?? .pending
            case .awaitingWebhook: return .awaitingWebhook
            case .blocked, .operating:
                guard let blocked = blocked?.migrated else {
                    return .failed(message: failure ?? "The step stopped on a quirk that was not recorded", active: active)
                }
                if let pendingOperator { return .operating(pendingOperator, blocked: blocked, active: active) }
                return .blocked(blocked, active: active)
            case .failed: return .failed(message: failure ?? "The step failed", active: active)
            case .succeeded: return .succeeded
            case .skipped: return .skipped
            }
        }

        var migrated: StepRecord {
            var record = StepRecord(id: id, title: title)
            record.phase = migratedPhase
            record.requestIndex = requestIndex ?? 0
            record.suppressedQuirks = suppressedQuirks ?? []
            record.notedQuirks = notedQuirks ?? []
            record.remedyUses = remedyUses ?? [:]
            return record
        }
    }

    struct Exchange: Decodable {
        var sequence: Int
        var stepID: String
        var requestID: String
        var note: String?
        var method: String
        var url: String
        var requestHeaders: [[String]]
        var requestBody: String?
        var status: Int?
        var responseHeaders: [[String]]
        var responseBody: String?
        var error: String?
        var startedAt: Date
        var durationMilliseconds: Double

        var migrated: ExchangeRecord {
            ExchangeRecord(
                sequence: sequence, stepID: stepID, requestID: requestID, note: note, method: method, url: url,
                requestHeaders: requestHeaders, requestBody: requestBody, status: status, responseHeaders: responseHeaders,
                responseBody: responseBody, error: error, startedAt: startedAt, durationMilliseconds: durationMilliseconds)
        }
    }

    struct Event: Decodable {
        var at: Date
        var stepID: String
        var kind: SessionEvent.Kind
        var quirkID: String?
        var text: String
    }

    var name: String
    var flowID: String
    var flowTitle: String
    var flowFile: String
    var target: Target
    var createdAt: Date
    var updatedAt: Date
    var completedAt: Date?
    var steps: [Step]
    var cursor: Int?
    var inputs: [String: String]?
    var captures: [String: JSONValue]?
    var idempotencyKeys: [String: String]?
    var pinnedVersion: String?
    var exchanges: [Exchange]?
    var events: [Event]?
    var receivedWebhooks: [WebhookEventRecord]?

    enum CodingKeys: String, CodingKey {
        case name, flowID = "flow_id", flowTitle = "flow_title", flowFile = "flow_file", target
        case createdAt = "created_at", updatedAt = "updated_at", completedAt = "completed_at"
        case steps, cursor, inputs, captures, idempotencyKeys = "idempotency_keys", pinnedVersion = "pinned_version"
        case exchanges, events, receivedWebhooks = "webhooks"
    }

    /// The same session in the current schema.
    func migrated() -> Session {
        var session = Session(
            name: name, flowID: flowID, flowTitle: flowTitle, flowFile: flowFile,
            target: SessionTarget(kind: target.kind, baseURL: target.baseURL, isEmulator: target.isEmulator), createdAt: createdAt,
            updatedAt: updatedAt, completedAt: completedAt, steps: steps.map(\.migrated))
        session.cursor = cursor ?? 0
        session.inputs = inputs ?? [:]
        session.captures = captures ?? [:]
        session.idempotencyKeys = idempotencyKeys ?? [:]
        session.pinnedVersion = pinnedVersion
        session.exchanges = (exchanges ?? []).map(\.migrated)
        session.events = (events ?? []).map {
            SessionEvent(at: $0.at, stepID: $0.stepID, kind: $0.kind, quirkID: $0.quirkID, text: $0.text)
        }
        session.receivedWebhooks = receivedWebhooks
        return session
    }
}
