import Foundation

/// The emulator's notion of "now": a base clock plus an offset that operators and tests advance.
///
/// Every time-based behaviour (token expiry, user verification, account readiness, payout
/// progress, idempotency expiry) reads this clock, so advancing it makes them deterministic.
public struct SandboxClock: Sendable {
    private let base: @Sendable () -> Date
    /// How far the clock has been moved ahead of its base.
    public private(set) var offset: TimeInterval = 0

    /// A clock that follows the system's wall clock.
    public static var system: SandboxClock { SandboxClock { Date() } }

    /// A clock that stands still at `start` until advanced.
    public static func fixed(at start: Date) -> SandboxClock { SandboxClock { start } }

    /// A clock over any base.
    public init(base: @escaping @Sendable () -> Date) { self.base = base }

    /// The current emulated time.
    public var now: Date { base().addingTimeInterval(offset) }

    /// Moves the clock forward.
    public mutating func advance(by seconds: TimeInterval) {
        offset += max(0, seconds)
    }
}
