import Foundation
import KiraJSON
import Testing

@testable import WalkthroughCore

/// The repository's root, for the shipped flow.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Reads a file the shipped flows name (their API description), from `flows/`.
func shippedFlowFile(_ reference: String) -> String? {
    try? String(contentsOf: packageRoot.appendingPathComponent("flows").appendingPathComponent(reference), encoding: .utf8)
}

/// Reads the bytes of a file the shipped flows embed (their images), from `flows/`.
func shippedFlowData(_ reference: String) -> Data? {
    FileManager.default.contents(atPath: packageRoot.appendingPathComponent("flows").appendingPathComponent(reference).path)
}

/// The shipped quickstart flow.
func quickstart() throws -> Flow { try loadedQuickstart.get() }

/// The shipped quickstart, loaded once for the run: dozens of tests read it, and a load parses YAML
/// and digests the images (a `Flow` is a value; no test can change another's).
private let loadedQuickstart = Result { () throws -> Flow in
    let text = try String(contentsOf: packageRoot.appendingPathComponent("flows/quickstart.yaml"), encoding: .utf8)
    return try FlowLoader.load(text, file: "flows/quickstart.yaml", readFile: shippedFlowFile, readData: shippedFlowData)
}

/// The quickstart with a textual edit, for provoking quirks.
func quickstart(replacing old: String, with new: String) throws -> Flow {
    let text = try String(contentsOf: packageRoot.appendingPathComponent("flows/quickstart.yaml"), encoding: .utf8)
    precondition(text.contains(old), "the flow no longer contains \(old)")
    return try FlowLoader.load(
        text.replacingOccurrences(of: old, with: new), file: "flows/quickstart.yaml", readFile: shippedFlowFile, readData: shippedFlowData)
}

/// Deterministic ids: id-1, id-2, …
final class Counter: @unchecked Sendable {
    // Only touched from the test's own task.
    var value = 0
    func next() -> String {
        value += 1
        return "00000000-0000-4000-8000-\(String(format: "%012d", value))"
    }
}

func response(_ status: Int, _ json: JSONValue) -> ResponseSummary {
    ResponseSummary(status: status, json: json, text: json.text())
}

/// Drives an engine with a scripted server, without any IO.
struct EngineHarness {
    var engine: WalkthroughEngine
    var now = Date(timeIntervalSince1970: 1_800_000_000)
    /// Every request sent, in order.
    var sent: [RenderedRequest] = []
    /// Answers by request id.
    var answer: (RenderedRequest, Int) -> ResponseSummary
    /// Remedy to choose per quirk (default: the recommended one).
    var remedyFor: [String: Int] = [:]

    init(
        flow: Flow, emulator: Bool = true, environment: [String: String] = [:], answer: @escaping (RenderedRequest, Int) -> ResponseSummary
    ) {
        let counter = Counter()
        let session = Session(
            name: "test", flow: flow, target: SessionTarget(kind: "local", baseURL: "http://127.0.0.1:1/sandbox", isEmulator: emulator),
            now: Date(timeIntervalSince1970: 1_800_000_000))
        engine = WalkthroughEngine(
            flow: flow, session: session,
            sources: InputSources(
                environment: environment,
                demoCredentials: [
                    .apiKey: "demo-api-key-123", .clientID: "5f3c9d2e-8a41-4b7e-9c06-1d2e3f4a5b6c", .password: "demo-password",
                ]),
            makeID: { counter.next() }
        )
        self.answer = answer
    }

    /// Runs until the engine needs something the script does not give, or `limit` actions.
    mutating func run(
        from action: EngineAction? = nil, limit: Int = 400, stopWhen: (EngineAction) -> Bool = { _ in false },
        until: (WalkthroughEngine) -> Bool = { _ in false }
    ) -> EngineAction {
        var action = action ?? engine.start(now: now)
        for _ in 0..<limit {
            if stopWhen(action) || until(engine) { return action }
            switch action {
            case .finished, .stopped, .failed, .askResend:
                return action
            case .needInput(let request):
                action = engine.provide(input: request.name, value: request.defaultValue ?? "", now: now)
            case .confirm:
                action = engine.confirm(now: now)
            case .send(let request):
                sent.append(request)
                action = engine.received(answer(request, sent.count), now: now)
            case .poll(let seconds, _):
                now = now.addingTimeInterval(seconds)
                action = engine.pollDue(now: now)
            case .blocked(let blocked):
                let choice = remedyFor[blocked.quirkID] ?? blocked.recommended ?? 0
                action = engine.choose(remedy: choice, now: now)
            case .performOperator:
                action = engine.operatorFinished(error: nil, now: now)
            case .awaitWebhook:
                action = engine.webhookArrived(nil, listening: false, now: now)
            case .rejected(let rejected, let next):
                Issue.record("the engine rejected an event the harness sent: \(rejected)")
                action = next
            }
        }
        Issue.record("the engine did not settle within \(limit) actions")
        return action
    }
}

/// A scripted happy sandbox: every call answers like the emulator would.
func happyAnswer(userStatuses: [String] = ["CREATED", "REVIEW"], verifiedAfterOperator: Bool = true) -> (RenderedRequest, Int) ->
    ResponseSummary
{
    var polls = 0
    let box = Box()
    return { request, _ in
        switch request.requestID {
        case "auth":
            return response(
                200,
                ["message": "Auth token", "data": ["access_token": "tok-secret-value-xyz", "expires_in": 3600, "token_type": "Bearer"]])
        case "pin": return response(200, ["previous_version": "2025-01-01", "current_version": "2026-04-14"])
        case "create_user": return response(201, ["id": "user-1", "status": "CREATED", "verification_status": "unverified"])
        case "user_verified":
            polls += 1
            if box.operatorDone { return response(200, ["id": "user-1", "status": "VERIFIED", "verification_status": "verified"]) }
            let status = userStatuses[min(polls - 1, userStatuses.count - 1)]
            if status == "REVIEW" { box.operatorDone = verifiedAfterOperator }
            return response(
                200, ["id": "user-1", "status": .string(status), "verification_status": status == "REVIEW" ? "verified" : "unverified"])
        case "create_va": return response(201, ["id": "va-1", "status": "approved", "account_number": "PENDING-ACT-ACCOUNT"])
        case "va_ready":
            box.vaPolls += 1
            return response(
                200,
                [
                    "id": "va-1", "status": "approved", "account_number": box.vaPolls > 1 ? "1234567890" : "PENDING-ACT-ACCOUNT",
                    "routing_number": "021000021",
                ])
        case "deposit": return response(201, ["deposit_id": "dep-1", "status": "completed", "settlement_triggered": false])
        case "deposits_list": return response(200, [])
        case "create_recipient": return response(201, ["recipient_id": "rec-1"])
        case "preview": return response(200, ["amount": "50.00", "fees": ["total_fees": "3.00"], "recipient_amount": "47.00"])
        case "create_payout": return response(201, ["payout_id": "pay-1", "status": "created"])
        case "read_payout": return response(200, ["id": "pay-1", "status": "CREATED"])
        default: return response(500, ["message": .string("unscripted \(request.requestID)")])
        }
    }
}

/// Mutable state shared by a scripted answer.
final class Box: @unchecked Sendable {
    // Only touched from the test's own task.
    var operatorDone = false
    var vaPolls = 0
}
