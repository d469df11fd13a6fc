import Foundation

/// The quirk ids a flow may use: those of the behaviour contract (`../shared/kira-sandbox.md`),
/// plus the two the walkthrough adds.
public enum KnownQuirks {
    /// Each id with what it names.
    public static let all: [(id: String, summary: String)] = [
        ("Q-AUTH-HEADERS", "x-api-key on every request, /auth included; a bearer token on every other"),
        ("Q-IDEMPOTENCY", "creating calls need an Idempotency-Key; a reused key with another body answers 409"),
        ("Q-SHAPES", "success bodies are not uniform: /auth wraps in data, most resources come back bare"),
        ("Q-STATUS-CASE", "statuses differ in casing and vocabulary: compare them case-insensitively"),
        ("Q-LIMIT-100", "a list asked for more than 100 items answers a raw 500"),
        ("Q-SEED-IDS", "the docs' sample ids are placeholders: resources are tenant-scoped"),
        ("Q-TOKEN-TTL", "no refresh token: call /auth again before the hour is up, and once on a 401"),
        ("Q-PIN-FIELD", "the pin's body field is target_version, not version"),
        ("Q-VERSION-HEADER", "X-Api-Version wins over the pin, the pin over an older baseline"),
        ("Q-NO-AUTO-VERIFY", "the sandbox never verifies a user by itself"),
        ("Q-GATE-ON-STATUS", "gate on status, never on verification_status"),
        ("Q-SOF-REJECT", "a user without source_of_funds is rejected within seconds"),
        ("Q-ONE-VA", "one ACT virtual account per user: a second answers 409"),
        ("Q-VA-READY", "approved is not ready: wait for a real account_number"),
        ("Q-SETTLEMENT-FALSE", "settlement_triggered false on a fiat deposit is normal"),
        ("Q-DEPOSIT-INVISIBLE", "simulated deposits never show in the deposits list or the balance"),
        ("Q-PAYOUT-MIN", "below an unpublished minimum the payout preview answers 400"),
        ("Q-PAYOUT-STATUS-CASE", "the payout create call says created, the read-back says CREATED"),
        ("Q-PIN-FORWARD-ONLY", "pins only move forward: an older target is refused"),
        ("Q-WAIT-TIMEOUT", "a wait ran out of time (the walkthrough's own id)"),
    ]

    /// The ids alone.
    public static let ids: Set<String> = Set(all.map(\.id))
}
