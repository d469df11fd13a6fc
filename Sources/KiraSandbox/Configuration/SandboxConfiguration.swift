import Foundation

/// The credentials of one emulated tenant (a Kira client).
public struct TenantCredentials: Sendable, Hashable, Codable {
    /// Sent as `x-api-key` on every request.
    public var apiKey: String
    /// The tenant's `client_id`, a UUID in lower case.
    public var clientID: String
    /// Exchanged with `client_id` at `POST /auth`.
    public var password: String
    /// Signs webhooks when `POST /webhooks/register` was given no `secret`.
    public var webhookSecret: String

    public init(apiKey: String, clientID: String, password: String, webhookSecret: String? = nil) {
        self.apiKey = apiKey
        self.clientID = clientID.lowercased()
        self.password = password
        self.webhookSecret = webhookSecret ?? "whsec_\(clientID.prefix(8))"
    }

    enum CodingKeys: String, CodingKey {
        case apiKey = "api_key"
        case clientID = "client_id"
        case password
        case webhookSecret = "webhook_secret"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let clientID = try container.decode(String.self, forKey: .clientID)
        guard UUID(uuidString: clientID) != nil else {
            throw DecodingError.dataCorruptedError(forKey: .clientID, in: container, debugDescription: "client_id must be a UUID")
        }
        self.init(
            apiKey: try container.decode(String.self, forKey: .apiKey),
            clientID: clientID,
            password: try container.decode(String.self, forKey: .password),
            webhookSecret: try container.decodeIfPresent(String.self, forKey: .webhookSecret)
        )
    }

    /// The demo tenant every emulator starts with unless told otherwise. Its credentials are
    /// printed at start: they open nothing but this local emulator.
    public static let demo = TenantCredentials(
        apiKey: "kira_sandbox_demo_key",
        clientID: "5f3c9d2e-8a41-4b7e-9c06-1d2e3f4a5b6c",
        password: "demo-password",
        webhookSecret: "whsec_demo"
    )
}

/// A payout rail's fee schedule (hidden in the real sandbox; configurable here).
public struct RailFees: Sendable, Hashable, Codable {
    /// Kira's fixed fee, in cents.
    public var fixedCents: Int
    /// Kira's percentage fee, in basis points (50 = 0.5 %).
    public var percentageBasisPoints: Int
    /// The client markup's fixed part, in cents.
    public var markupFixedCents: Int

    public init(fixedCents: Int, percentageBasisPoints: Int, markupFixedCents: Int) {
        self.fixedCents = fixedCents
        self.percentageBasisPoints = percentageBasisPoints
        self.markupFixedCents = markupFixedCents
    }
}

/// Everything an emulator instance can be told at start.
public struct SandboxConfiguration: Sendable {
    /// The tenants; the first is the demo tenant operator commands default to.
    public var tenants: [TenantCredentials]
    /// Lifetime of an access token.
    public var tokenTTL: Duration
    /// How long a new virtual account keeps `PENDING-ACT-ACCOUNT`.
    public var virtualAccountReadyAfter: Duration
    /// When set, users become `VERIFIED` this long after they reach `REVIEW` (off by default, as in
    /// the real sandbox); never a user whose verification did not trigger or that is rejected.
    public var autoVerifyAfter: Duration?
    /// A user whose verification triggered moves `CREATED` → `VERIFYING` after this long.
    public var verifyingAfter: Duration
    /// …and `VERIFYING` → `REVIEW` this long after triggering.
    public var reviewAfter: Duration
    /// A user whose verification triggered without `source_of_funds`, or with an image that is not
    /// a decodable JPEG or PNG of at least 200×200, becomes `REJECTED` this long after triggering.
    public var rejectAfter: Duration
    /// A payout advances one status (`CREATED` → `PENDING` → `PROCESSING` → `COMPLETED`) this often.
    public var payoutStepInterval: Duration
    /// The fixed balance every ready virtual account reports, in cents.
    public var balanceCents: Int
    /// Fees per rail (`SWIFT`, `WIRE`, `ACH`).
    public var fees: [String: RailFees]
    /// Requests per second per api key before 429; `nil` for no limit.
    public var rateLimit: Int?
    /// When set, `/__emulator/` requires it in `x-admin-token`.
    public var adminToken: String?
    /// How many webhook deliveries the log keeps.
    public var webhookLogLimit: Int
    /// How many records of each kind (users, accounts, recipients, payouts, deposits, idempotency
    /// records) a tenant keeps; the oldest are dropped beyond it.
    public var recordLimit: Int
    /// How long an idempotency record is kept.
    public var idempotencyTTL: Duration
    /// Where state survives restarts; `nil` keeps it in memory only.
    public var stateFile: String?

    public init(
        tenants: [TenantCredentials] = [.demo],
        tokenTTL: Duration = .seconds(3600),
        virtualAccountReadyAfter: Duration = .seconds(8),
        autoVerifyAfter: Duration? = nil,
        verifyingAfter: Duration = .seconds(1),
        reviewAfter: Duration = .seconds(3),
        rejectAfter: Duration = .seconds(2),
        payoutStepInterval: Duration = .seconds(3),
        balanceCents: Int = 250_000,
        fees: [String: RailFees] = SandboxConfiguration.defaultFees,
        rateLimit: Int? = nil,
        adminToken: String? = nil,
        webhookLogLimit: Int = 500,
        recordLimit: Int = 10_000,
        idempotencyTTL: Duration = .seconds(24 * 3600),
        stateFile: String? = nil
    ) {
        self.tenants = tenants
        self.tokenTTL = tokenTTL
        self.virtualAccountReadyAfter = virtualAccountReadyAfter
        self.autoVerifyAfter = autoVerifyAfter
        self.verifyingAfter = verifyingAfter
        self.reviewAfter = reviewAfter
        self.rejectAfter = rejectAfter
        self.payoutStepInterval = payoutStepInterval
        self.balanceCents = balanceCents
        self.fees = fees
        self.rateLimit = rateLimit
        self.adminToken = adminToken
        self.webhookLogLimit = webhookLogLimit
        self.recordLimit = recordLimit
        self.idempotencyTTL = idempotencyTTL
        self.stateFile = stateFile
    }

    /// SWIFT 2.50 + 0.5 % + 0.25 markup (minimum 2.77); WIRE 15 + 0.5 % + 5 (minimum 20.11);
    /// ACH 0.50 + 0.25 markup (minimum 0.76).
    public static let defaultFees: [String: RailFees] = [
        "SWIFT": RailFees(fixedCents: 250, percentageBasisPoints: 50, markupFixedCents: 25),
        "WIRE": RailFees(fixedCents: 1500, percentageBasisPoints: 50, markupFixedCents: 500),
        "ACH": RailFees(fixedCents: 50, percentageBasisPoints: 0, markupFixedCents: 25),
    ]
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
