import Foundation

/// A search for the smallest amount a request accepts (Q-PAYOUT-MIN): steps up from a refused
/// amount by `span` until one passes, then bisects between the last refused and the first passed.
/// A pure value: each answer in, the next move out.
public struct AmountSearch: Codable, Sendable, Hashable {
    /// What to do next.
    public enum Verdict: Sendable, Hashable {
        /// Try this amount.
        case probe(cents: Int)
        /// The smallest accepted amount: to the cent when `exact`, else within the last gap.
        case found(cents: Int, exact: Bool)
        /// Every probe allowed was refused: the minimum is above the last one.
        case exhausted(lastProbe: Int)
    }

    /// The input searched over.
    public var input: String
    /// The largest amount known to fail, in cents.
    public var failingCents: Int
    /// The smallest amount known to pass.
    public var passingCents: Int?
    /// The amount being probed.
    public var probeCents: Int
    /// Probes answered so far.
    public var calls: Int
    public var maxCalls: Int
    /// How far each step up goes while nothing has passed.
    public var spanCents: Int

    /// A search starting above `refusedCents`, the amount just refused.
    public init(input: String, refusedCents: Int, spanCents: Int, maxCalls: Int) {
        self.input = input
        failingCents = refusedCents
        passingCents = nil
        probeCents = refusedCents + spanCents
        calls = 0
        self.maxCalls = maxCalls
        self.spanCents = spanCents
    }

    /// The probe at `probeCents` was accepted (`true`) or refused on the same quirk (`false`).
    public mutating func record(accepted: Bool) -> Verdict {
        calls += 1
        if accepted { passingCents = probeCents } else { failingCents = probeCents }
        if let passing = passingCents {
            let gap = passing - failingCents
            if gap <= 1 || calls >= maxCalls { return .found(cents: passing, exact: gap <= 1) }
            probeCents = (failingCents + passing) / 2
            return .probe(cents: probeCents)
        }
        guard calls < maxCalls else { return .exhausted(lastProbe: probeCents) }
        probeCents = failingCents + spanCents
        return .probe(cents: probeCents)
    }

    enum CodingKeys: String, CodingKey {
        case input, failingCents = "failing_cents", passingCents = "passing_cents", probeCents = "probe_cents", calls,
            maxCalls = "max_calls", spanCents = "span_cents"
    }
}
