import Coach
import Foundation
import KiraJSON

/// A look at the coach's request log (`SandboxState.coachLook(after:)`).
public struct CoachLogLook: Sendable {
    /// The requests newer than the watcher's last, oldest first.
    public var newer: [CoachRequest]
    /// The sequence number of the oldest request the log keeps; nil when it keeps none.
    public var oldestKept: Int?
}

/// A request seen on its way in, finished into a `CoachRequest` once answered.
struct PendingCapture {
    var started: ContinuousClock.Instant
    /// The path's segments, split once for both halves of the capture.
    var segments: [Substring]
    var at: Date
    var request: SandboxRequest
    var clientID: String?
    var facts: [String: JSONValue]
}

extension SandboxState {
    /// Turns the coach on: every API request from now on is logged (the newest `limit`) and
    /// evaluated against `rules`.
    public func enableCoach(rules: CoachRules, limit: Int = 1000) {
        requestLog = RequestLog(limit: limit, rules: rules, tenants: configuration.tenants.map(\.clientID))
    }

    /// The checklist and findings so far, or nil when the coach is off.
    public func coachReport() -> CoachReport? {
        guard requestLog != nil else { return nil }
        return requestLog?.report()
    }

    /// The logged requests newer than `sequence` (masked), oldest first; empty when the coach is off.
    public func coachRequests(after sequence: Int = 0) -> [CoachRequest] {
        requestLog?.requests(after: sequence) ?? []
    }

    /// What a watcher needs to mirror the log without copying it whole: the requests newer than
    /// `sequence`, and the sequence number of the oldest one kept (nil when the log is empty, as
    /// after `/__emulator/reset`). Nil when the coach is off.
    public func coachLook(after sequence: Int) -> CoachLogLook? {
        guard let log = requestLog else { return nil }
        return CoachLogLook(newer: log.requests(after: sequence), oldestKept: log.oldestSequence)
    }

    /// Notes what the emulator knows before it answers an API request; nil for anything else
    /// (health checks, operator controls) or when the coach is off.
    func beginCapture(_ request: SandboxRequest) -> PendingCapture? {
        guard requestLog != nil else { return nil }
        let segments = RequestMasking.segments(of: request.path)
        guard segments.first == "sandbox", !(segments.count == 2 && segments[1] == "healthz") else { return nil }
        let clientID = request.headers["x-api-key"].flatMap { tenantByAPIKey[$0] }
        var facts: [String: JSONValue] = [:]
        if let clientID, let resources = tenants[clientID]?.resources {
            facts["pinned"] = .bool(resources.pinnedVersion != nil)
            if request.method == "POST", segments.count == 2, segments[1] == "auth",
                let expiry = requestLog?.lastTokenExpiry[clientID], expiry > clock.now
            {
                facts["token_remaining_seconds"] = .int(Int(expiry.timeIntervalSince(clock.now).rounded(.down)))
            }
            if segments.count >= 3, segments[1] == "v1", segments[2] == "virtual-accounts" {
                if segments.count == 3, request.method == "POST",
                    let userID = (try? JSONValue.parse(request.body))?["user_id"]?.stringValue.flatMap(SandboxID.canonical),
                    let user = resources.users[userID]
                {
                    facts["user_status"] = .string(user.status.rawValue)
                }
                if segments.count >= 4, let id = SandboxID.canonical(String(segments[3])), let account = resources.accounts[id] {
                    facts["account_ready"] = .bool(account.isReady)
                }
            }
        }
        return PendingCapture(started: .now, segments: segments, at: clock.now, request: request, clientID: clientID, facts: facts)
    }

    /// Logs the answered request with its facts, secrets masked.
    func finishCapture(_ capture: PendingCapture, response: SandboxResponse, dropped: Bool) {
        guard requestLog != nil else { return }
        let elapsed = ContinuousClock.now - capture.started
        let request = capture.request
        var facts = capture.facts
        let path = capture.segments
        // Masked only when it may hold a secret (`body` scans for that first).
        let responseBytes = RequestMasking.body(response.body)
        if let clientID = capture.clientID, request.method == "POST", path.count == 2, path[1] == "auth", response.status == 200 {
            requestLog?.lastTokenExpiry[clientID] = clock.now.addingTimeInterval(configuration.tokenTTL.seconds)
        }
        let isUserWrite =
            path.count >= 3 && path[1] == "v1" && path[2] == "users"
            && ((request.method == "POST" && path.count == 3) || (request.method == "PUT" && path.count == 4))
        if isUserWrite, (200..<300).contains(response.status),
            let triggered = (try? JSONValue.parse(response.body))?["verification_triggered"]?.boolValue
        {
            facts["verification_triggered"] = .bool(triggered)
        }
        let components = elapsed.components
        let milliseconds = Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
        let tenant = capture.clientID.flatMap { requestLog?.tenantLabels[$0] }
        requestLog?.append(
            CoachRequest(
                sequence: 0, at: capture.at, method: request.method, path: request.path, query: request.query,
                headers: RequestMasking.headers(request.headers), body: RequestMasking.body(request.body),
                status: dropped ? 0 : response.status, response: dropped ? [] : responseBytes, latencyMilliseconds: milliseconds,
                tenant: tenant, facts: facts
            )
        )
    }

    /// `GET /__emulator/coach` (the report) and `GET /__emulator/coach/requests?after=N` (the log).
    func coachRoute(_ request: SandboxRequest, segments: [String]) throws(APIError) -> APIResult {
        guard let log = requestLog else {
            throw APIError.api(404, "not_found", "The coach is off: start the emulator with `kira-walkthrough coach`")
        }
        switch segments.count {
        case 1:
            return .ok(coachReport()?.json ?? .null)
        case 2 where segments[1] == "requests":
            let after = Int(request.query["after"] ?? "0") ?? 0
            return .ok(["requests": .array(log.requests(after: after).map(\.detailJSON))])
        default:
            throw APIError.api(404, "not_found", "No emulator control GET /__emulator/\(segments.joined(separator: "/"))")
        }
    }
}
