import Coach

/// A watcher's copy of the coach's request log, kept up to date by looks
/// (`SandboxState.coachLook(after:)`) that copy only what is new, and evaluated by the watcher
/// itself: the emulator's actor never waits for an evaluation.
///
/// After each look it holds exactly what the log holds: the log keeps its newest requests, and
/// every one of them is either new to the look or was kept at the previous look.
public struct CoachLogMirror: Sendable {
    /// The mirrored requests, oldest first.
    public private(set) var requests: [CoachRequest] = []
    /// The sequence number of the newest request seen.
    public private(set) var lastSequence = 0
    private let evaluator: CoachEvaluator
    private var cache = CoachEntryCache()

    /// An empty mirror that evaluates `rules`.
    public init(rules: CoachRules) {
        evaluator = CoachEvaluator(rules: rules)
    }

    /// What one look changed.
    public struct Change: Sendable {
        /// The requests new to this look, oldest first.
        public var newer: [CoachRequest]
        /// How many requests came and went between this look and the last (the log dropped
        /// them before they could be seen).
        public var missed: Int
        /// Whether the mirror changed at all (new requests, or old ones dropped or cleared).
        public var changed: Bool
    }

    /// Applies a look at the log.
    public mutating func apply(_ look: CoachLogLook) -> Change {
        var missed = 0
        if let first = look.newer.first?.sequence, first > lastSequence + 1 { missed = first - lastSequence - 1 }
        requests += look.newer
        if let last = look.newer.last?.sequence { lastSequence = last }
        let dropped = look.oldestKept.map { oldest in requests.prefix { $0.sequence < oldest }.count } ?? requests.count
        if dropped > 0 { requests.removeFirst(dropped) }
        return Change(newer: look.newer, missed: missed, changed: !look.newer.isEmpty || dropped > 0)
    }

    /// The checklist and findings over the mirrored requests (what `GET /__emulator/coach` says
    /// for the same log).
    public mutating func report() -> CoachReport {
        evaluator.report(for: requests, cache: &cache)
    }
}
