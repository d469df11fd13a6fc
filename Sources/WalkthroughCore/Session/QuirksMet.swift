import Foundation

extension Flow {
    /// Every distinct quirk id the flow can raise: its requests' quirk rules, the quirks its waits
    /// and webhook waits name, in the order the flow first names them, then the quirk its API
    /// description names for a token renewal (`requests.explained_by.token_renewal`): any run can
    /// renew its token (a tour only makes it happen on purpose), so a run and a tour of the same
    /// flow count against the same total.
    public var raisableQuirkIDs: [String] {
        var ids: [String] = []
        func add(_ id: String?) {
            if let id, !ids.contains(id) { ids.append(id) }
        }
        for step in steps {
            for request in step.requests {
                for rule in request.quirks { add(rule.id) }
                add(request.wait?.quirk)
                add(request.webhook?.quirk)
            }
        }
        if !steps.isEmpty { add(api.ruleQuirks.tokenRenewal) }
        return ids
    }
}

/// What a learner met on a walkthrough: each quirk that fired (blocking ones and notes alike), in
/// the order first met, with the catalogue's one-line summary, against the quirks the flow can
/// raise. The last screen, `status` and the Markdown transcript show the same list.
public struct QuirksMet: Sendable, Equatable {
    /// One quirk met.
    public struct Entry: Sendable, Equatable {
        /// The quirk id.
        public var id: String
        /// The catalogue's one-line summary; `nil` when the catalogue does not list the id.
        public var summary: String?
        /// Whether it stopped a step (at least once), rather than only being noted.
        public var blocked: Bool

        /// Every field.
        public init(id: String, summary: String?, blocked: Bool) {
            self.id = id
            self.summary = summary
            self.blocked = blocked
        }
    }

    /// The quirks met, first met first.
    public var entries: [Entry]
    /// How many distinct quirk ids the flow can raise.
    public var total: Int

    /// Every field.
    public init(entries: [Entry], total: Int) {
        self.entries = entries
        self.total = total
    }

    /// The quirks the session's events name (a quirk that stopped a step or a note), with the
    /// summaries of the flow's API description.
    public init(session: Session, flow: Flow) {
        self.init(events: session.events, flow: flow)
    }

    /// The quirks `events` name, with the summaries of the flow's API description.
    public init(events: [SessionEvent], flow: Flow) {
        self.init(events: events, summaries: { flow.api.quirk($0)?.summary }, raisable: flow.raisableQuirkIDs)
    }

    /// The quirks `events` name, with `summaries` (the catalogue's), against the ids the flow can
    /// raise (`Flow.raisableQuirkIDs`).
    public init(events: [SessionEvent], summaries: (String) -> String?, raisable: [String]) {
        var entries: [Entry] = []
        for event in events where event.kind == .quirk || event.kind == .note {
            guard let id = event.quirkID else { continue }
            if let index = entries.firstIndex(where: { $0.id == id }) {
                if event.kind == .quirk { entries[index].blocked = true }
            } else {
                entries.append(Entry(id: id, summary: summaries(id), blocked: event.kind == .quirk))
            }
        }
        self.entries = entries
        total = Set(raisable).union(entries.map(\.id)).count
    }

    /// "N of M quirks of this flow".
    public var countLine: String { "\(entries.count) of \(total) quirks of this flow" }

    /// One line per quirk: `Q-ID  summary` (with "(stopped a step)" for a blocking one).
    public var lines: [String] {
        entries.map { entry in
            "\(entry.id)\(entry.summary.map { ": \($0)" } ?? "")\(entry.blocked ? " (stopped a step)" : "")"
        }
    }
}
