import Crypto
import Foundation
import KiraJSON

/// Resources of one tenant: what the state file keeps.
struct TenantResources: Codable, Sendable {
    var pinnedVersion: APIVersion?
    /// The answer of the last successful upgrade, replayed when the same target is pinned again.
    var lastUpgrade: JSONValue?
    var users = RecordStore<User>()
    var userByEmail: [String: String] = [:]
    var accounts = RecordStore<VirtualAccount>()
    var accountByUser: [String: String] = [:]
    var recipients = RecordStore<Recipient>()
    var payouts = RecordStore<Payout>()
    var deposits = RecordStore<Deposit>()
    var idempotency = RecordStore<IdempotencyRecord>()
}

/// One emulated tenant: credentials from configuration, resources, and its webhook endpoint.
struct Tenant: Sendable {
    var credentials: TenantCredentials
    var resources = TenantResources()
    /// Not persisted: the secret is a credential, and a listener's port changes between runs.
    var webhook: WebhookRegistration?
}

/// An access token handed out by `POST /auth`.
struct AccessToken: Codable, Sendable {
    var clientID: String
    var expiresAt: Date
}

/// The whole emulated sandbox: every tenant's resources, tokens, scheduled transitions, injected
/// faults and the webhook log.
///
/// An actor, so each request is handled atomically: 50 parallel creates with one idempotency key
/// create one user. It never blocks on the network: webhooks leave as `WebhookDelivery` values for
/// the HTTP front to send. Time comes from an injected `SandboxClock`.
public actor SandboxState {
    /// The configuration it was started with.
    public let configuration: SandboxConfiguration
    var clock: SandboxClock
    var tenants: [String: Tenant] = [:]
    var tenantByAPIKey: [String: String] = [:]
    var tokens = RecordStore<AccessToken>()
    /// Transitions that happen by themselves, sorted by due time.
    var schedule: [ScheduledTransition] = []
    var webhookLog: [WebhookLogEntry] = []
    var nextWebhookSequence = 1
    var outbox: [WebhookDelivery] = []
    var faults: [Fault] = []
    var rateWindows: [String: (second: Int, count: Int)] = [:]
    /// Set by every change that the state file must see.
    var dirty = false
    /// Resources in the state file for tenants this run was not configured with: written back
    /// untouched, so a run with other credentials never wipes them.
    var dormantTenants: [String: TenantResources] = [:]
    /// Why the last state-file write failed, until one succeeds.
    var stateFileFailure: String?
    /// The coach's request log (`enableCoach`); nil, and no cost, otherwise.
    var requestLog: RequestLog?

    /// An emulator with the given configuration, reading its state file when there is one.
    ///
    /// - Throws: `SandboxStateFileError` when the state file exists but cannot be read.
    public init(configuration: SandboxConfiguration = SandboxConfiguration(), clock: SandboxClock = .system) throws {
        self.configuration = configuration
        self.clock = clock
        var tenants: [String: Tenant] = [:]
        var tenantByAPIKey: [String: String] = [:]
        var dormantTenants: [String: TenantResources] = [:]
        for credentials in configuration.tenants {
            tenants[credentials.clientID] = Tenant(credentials: credentials)
            tenantByAPIKey[credentials.apiKey] = credentials.clientID
        }
        if let path = configuration.stateFile, let snapshot = try SandboxSnapshot.load(from: path) {
            for (clientID, resources) in snapshot.tenants {
                if tenants[clientID] != nil {
                    tenants[clientID]?.resources = resources
                } else {
                    dormantTenants[clientID] = resources
                }
            }
            self.schedule = snapshot.schedule.filter { tenants[$0.clientID] != nil }.sorted { $0.due < $1.due }
        }
        self.tenants = tenants
        self.tenantByAPIKey = tenantByAPIKey
        self.dormantTenants = dormantTenants
        if let path = configuration.stateFile {
            // Write once now, so an unwritable path fails at start rather than silently later.
            do {
                try Self.snapshot(tenants: tenants, dormant: dormantTenants, schedule: self.schedule, at: clock.now).save(to: path)
            } catch {
                throw SandboxStateFileError(path: path, reason: "cannot be written: \(error)")
            }
        }
    }

    /// The emulated current time.
    public var now: Date { clock.now }

    /// The demo tenant (the first configured), which operator commands use by default.
    var defaultClientID: String { configuration.tenants.first?.clientID ?? TenantCredentials.demo.clientID }

    // MARK: Handling

    /// Handles one request completely: time-based transitions first, then injected faults, then
    /// the API. Saves the state file when something changed.
    public func handle(_ request: SandboxRequest) -> SandboxReply {
        advanceTime()
        let capture = beginCapture(request)
        var reply: SandboxReply
        if let fault = takeFault(matching: request) {
            switch fault {
            case .respond(let response):
                reply = SandboxReply(response: response)
            case .drop:
                reply = SandboxReply(response: SandboxResponse(status: 200), dropConnection: true)
            case .delay(let duration):
                reply = SandboxReply(response: route(request), delay: duration)
            }
        } else {
            reply = SandboxReply(response: route(request))
        }
        if let capture { finishCapture(capture, response: reply.response, dropped: reply.dropConnection) }
        saveIfDirty()
        reply.deliveries = drainOutbox()
        return reply
    }

    /// Applies the transitions that are due and returns the webhooks they produced.
    ///
    /// The HTTP front calls this a few times a second so that time-based events leave even when no
    /// request arrives.
    public func tick() -> [WebhookDelivery] {
        advanceTime()
        saveIfDirty()
        return drainOutbox()
    }

    /// Moves the emulated clock forward and applies what became due.
    public func advanceClock(by seconds: TimeInterval) -> [WebhookDelivery] {
        clock.advance(by: seconds)
        return tick()
    }

    func drainOutbox() -> [WebhookDelivery] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    /// Routes a request to the health check, the operator controls or the API.
    func route(_ request: SandboxRequest) -> SandboxResponse {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if request.method == "GET", segments == ["healthz"] || segments == ["sandbox", "healthz"] {
            return Self.jsonResponse(status: 200, body: Self.healthBody)
        }
        if segments.first == "__emulator" {
            return operatorResponse(request, segments: Array(segments.dropFirst()))
        }
        guard segments.first == "sandbox" else {
            return Self.response(for: .forbidden)
        }
        return apiResponse(request, segments: Array(segments.dropFirst()))
    }

    /// What `GET /healthz` answers: enough for a client to know it talks to this emulator.
    static let healthBody: JSONValue = [
        "status": "ok", "service": "kira-sandbox-emulator", "emulator": true,
        "api_versions": .array(APIVersion.allCases.map { .string($0.rawValue) }),
    ]

    // MARK: Time

    /// Applies every scheduled transition that is due, and forgets expired tokens and
    /// idempotency records.
    func advanceTime() {
        let now = clock.now
        // Take the due prefix in one batch; applying may schedule more (already due, with a zero
        // interval), so look again until nothing is due.
        while let first = schedule.first, first.due <= now {
            let dueCount = schedule.firstIndex { $0.due > now } ?? schedule.count
            let due = schedule[..<dueCount]
            schedule.removeFirst(dueCount)
            for transition in due { apply(transition) }
            dirty = true
        }
        tokens.removeOldest { $0.expiresAt <= now }
        let idempotencyCutoff = now.addingTimeInterval(-configuration.idempotencyTTL.seconds)
        for index in tenants.indices {
            tenants.values[index].resources.idempotency.removeOldest { $0.createdAt <= idempotencyCutoff }
        }
    }

    /// Schedules `kind` for `resourceID` after `delay`, keeping the schedule sorted.
    func schedule(
        _ kind: ScheduledTransition.Kind, _ resourceID: String, clientID: String, after delay: Duration, from start: Date? = nil
    ) {
        let transition = ScheduledTransition(
            due: (start ?? clock.now).addingTimeInterval(delay.seconds), clientID: clientID, kind: kind, resourceID: resourceID
        )
        var low = 0
        var high = schedule.count
        while low < high {
            let middle = (low + high) / 2
            if schedule[middle].due <= transition.due { low = middle + 1 } else { high = middle }
        }
        schedule.insert(transition, at: low)
    }

    func apply(_ transition: ScheduledTransition) {
        let clientID = transition.clientID
        let id = transition.resourceID
        // A transition of a tenant this run does not have is dropped (the state file's schedule is
        // filtered at load, so none should reach here).
        guard tenants[clientID] != nil else { return }
        let at = transition.due
        switch transition.kind {
        case .userVerifying:
            guard var user = tenants[clientID]?.resources.users[id], user.status == .created else { return }
            user.status = .verifying
            user.verificationStatus = "pending"
            user.updatedAt = at
            tenants[clientID]?.resources.users[id] = user
        case .userReview:
            guard var user = tenants[clientID]?.resources.users[id], user.status == .created || user.status == .verifying
            else { return }
            // The vendor check passed, the compliance review has not: verification_status says
            // "verified" while status says REVIEW (Q-GATE-ON-STATUS).
            user.status = .review
            user.verificationStatus = "verified"
            user.updatedAt = at
            tenants[clientID]?.resources.users[id] = user
            // --auto-verify-after counts from REVIEW, so it never verifies a user that did not
            // trigger or that is being rejected.
            if let autoVerify = configuration.autoVerifyAfter {
                schedule(.userAutoVerify, id, clientID: clientID, after: autoVerify, from: at)
            }
        case .userAutoReject:
            guard var user = tenants[clientID]?.resources.users[id], user.status != .verified, user.status != .rejected
            else { return }
            user.status = .rejected
            user.updatedAt = at
            tenants[clientID]?.resources.users[id] = user
            // Files from before the reasons were kept only rejected for a missing source_of_funds.
            let reasons = user.rejectionReasons.flatMap { $0.isEmpty ? nil : $0 } ?? [Self.missingSourceOfFundsReason]
            emit(
                "user.verification.failed", clientID: clientID,
                data: ["user_id": .string(id), "status": "REJECTED", "reasons": .array(reasons.map(JSONValue.string))]
            )
        case .userAutoVerify:
            guard let user = tenants[clientID]?.resources.users[id], user.status == .review else { return }
            setUserStatus(clientID: clientID, userID: id, verified: true, reason: nil)
        case .accountReady:
            guard var account = tenants[clientID]?.resources.accounts[id], !account.isReady else { return }
            account.accountNumber = Self.randomDigits(10, leadingNonZero: true)
            account.routingNumber = Self.randomDigits(9, leadingNonZero: false)
            account.updatedAt = at
            // An account put on hold or deactivated while it was opening gets its number but keeps
            // its status.
            guard account.lifecycle == .activating else {
                tenants[clientID]?.resources.accounts[id] = account
                return
            }
            account.lifecycle = .active
            tenants[clientID]?.resources.accounts[id] = account
            emit(
                "virtual_account.activated", clientID: clientID,
                data: [
                    "virtual_account_id": .string(id), "user_id": .string(account.userID), "account_number": .string(account.accountNumber),
                    "status": .string(account.status(for: webhookVersion(clientID))),
                ]
            )
        case .payoutStep:
            guard var payout = tenants[clientID]?.resources.payouts[id], payout.step < Payout.progression.count - 1 else {
                return
            }
            payout.step += 1
            payout.updatedAt = at
            tenants[clientID]?.resources.payouts[id] = payout
            emit("payout.status_changed", clientID: clientID, data: ["payout_id": .string(id), "status": .string(payout.statusText)])
            if payout.step == Payout.progression.count - 1 {
                emit(
                    "payout.completed", clientID: clientID,
                    data: ["payout_id": .string(id), "amount": .string(Amount.format(payout.amountCents))])
            } else {
                // From this step's due time, so one large clock jump plays every step.
                schedule(.payoutStep, id, clientID: clientID, after: configuration.payoutStepInterval, from: at)
            }
        }
    }

    static func randomDigits(_ count: Int, leadingNonZero: Bool) -> String {
        var digits = ""
        for position in 0..<count {
            let range = position == 0 && leadingNonZero ? 1...9 : 0...9
            digits += String(Int.random(in: range))
        }
        return digits
    }

    // MARK: Persistence

    func saveIfDirty() {
        guard dirty else { return }
        dirty = false
        guard let path = configuration.stateFile else { return }
        do {
            try makeSnapshot().save(to: path)
            stateFileFailure = nil
        } catch {
            // The next change retries; the emulator keeps serving from memory meanwhile, and
            // says so once per failure in /__emulator/state.
            dirty = true
            stateFileFailure = "\(error)"
        }
    }

    static func snapshot(
        tenants: [String: Tenant], dormant: [String: TenantResources], schedule: [ScheduledTransition], at date: Date
    ) -> SandboxSnapshot {
        SandboxSnapshot(
            tenants: dormant.merging(tenants.mapValues(\.resources)) { _, configured in configured }, schedule: schedule, savedAt: date
        )
    }

    func makeSnapshot() -> SandboxSnapshot {
        Self.snapshot(tenants: tenants, dormant: dormantTenants, schedule: schedule, at: clock.now)
    }

    // MARK: Responses

    static func jsonResponse(status: Int, body: JSONValue, headers: [(name: String, value: String)] = []) -> SandboxResponse {
        SandboxResponse(
            status: status, headers: [("content-type", "application/json")] + headers, body: body.serialized()
        )
    }

    static func response(for error: APIError) -> SandboxResponse {
        jsonResponse(status: error.status, body: error.body, headers: error.headers)
    }

    /// The 413 for bodies over 1 MiB; the HTTP front uses it before the body reaches the actor.
    public static let payloadTooLarge = response(
        for: .api(413, "payload_too_large", "Request body exceeds the 1 MiB limit")
    )

    /// The largest body the API accepts.
    public static let maxBodyBytes = 1 << 20

    // MARK: Webhooks

    /// The vocabulary webhooks use: the account's pinned version (the versioning seed), never a
    /// request's `X-Api-Version` header; the baseline until pinned.
    func webhookVersion(_ clientID: String) -> APIVersion {
        tenants[clientID]?.resources.pinnedVersion ?? .baseline
    }

    /// Records an event in the webhook log and, when the tenant registered a URL, queues its
    /// signed delivery.
    func emit(_ event: String, clientID: String, data: JSONObject) {
        var data = data
        let eventID = "evt_" + SandboxID.make().replacingOccurrences(of: "-", with: "").prefix(24)
        data["event_id"] = .string(String(eventID))
        if data["created_at"] == nil { data["created_at"] = .string(Timestamp.format(clock.now)) }
        let body: JSONValue = ["event": .string(event), "data": .object(data)]
        let bytes = body.serialized()
        let sequence = nextWebhookSequence
        nextWebhookSequence += 1
        var entry = WebhookLogEntry(
            sequence: sequence, clientID: clientID, event: event, eventID: String(eventID), url: nil, body: body,
            signature: nil, emittedAt: clock.now, outcome: .notRegistered, responseStatus: nil, error: nil, attempts: 0
        )
        if let registration = tenants[clientID]?.webhook {
            let signature = Self.signature(of: bytes, secret: registration.secret)
            entry.url = registration.url
            entry.signature = signature
            entry.outcome = .pending
            outbox.append(
                WebhookDelivery(
                    sequence: sequence, event: event, eventID: String(eventID), url: registration.url, body: bytes,
                    signature: signature
                )
            )
        }
        webhookLog.append(entry)
        if webhookLog.count > configuration.webhookLogLimit {
            webhookLog.removeFirst(webhookLog.count - configuration.webhookLogLimit)
        }
    }

    /// Hex HMAC-SHA256 of `body` keyed with `secret`: the `x-signature-sha256` scheme.
    public static func signature(of body: [UInt8], secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return code.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Records how a delivery went (one attempt: the 2026-04-14 pin does not retry).
    public func recordDelivery(sequence: Int, responseStatus: Int?, error: String?) {
        guard let first = webhookLog.first?.sequence else { return }
        let index = sequence - first
        guard webhookLog.indices.contains(index), webhookLog[index].sequence == sequence else { return }
        webhookLog[index].attempts += 1
        webhookLog[index].responseStatus = responseStatus
        webhookLog[index].error = error
        if let responseStatus, (200..<300).contains(responseStatus) {
            webhookLog[index].outcome = .delivered
        } else {
            webhookLog[index].outcome = .failed
        }
    }
}
