import Foundation
import Testing

@testable import WalkthroughCore

/// What the last screen, `status` and the transcript list: the quirks met against the flow's.
@Suite struct QuirksMetTests {
    func event(_ kind: SessionEvent.Kind, _ id: String?, step: String = "s") -> SessionEvent {
        SessionEvent(at: Date(timeIntervalSince1970: 0), stepID: step, kind: kind, quirkID: id, text: "t")
    }

    @Test func theFlowsQuirksAreItsRulesWaitsAndWebhooksOnce() throws {
        let flow = try quickstart()
        let ids = flow.raisableQuirkIDs
        #expect(Set(ids).count == ids.count, "distinct")
        for id in ["Q-SHAPES", "Q-NO-AUTO-VERIFY", "Q-SOF-REJECT", "Q-VA-READY", "Q-DEPOSIT-INVISIBLE"] {
            #expect(ids.contains(id), "\(id)")
        }
        let fromRules = Set(flow.steps.flatMap(\.requests).flatMap(\.quirks).map(\.id))
        #expect(fromRules.isSubset(of: Set(ids)))
        #expect(Set(ids).isSubset(of: flow.api.quirkIDs), "every id is in the catalogue")
    }

    /// A tour renews the token on purpose; a run may renew it too. Both count against the same
    /// total: the renewal's quirk is one of the flow's.
    @Test func theTokenRenewalsQuirkIsOneOfTheFlows() throws {
        let flow = try quickstart()
        let renewal = try #require(flow.api.ruleQuirks.tokenRenewal)
        #expect(flow.raisableQuirkIDs.contains(renewal))
        let met = QuirksMet(events: [event(.note, renewal)], flow: flow)
        #expect(met.total == Set(flow.raisableQuirkIDs).count, "a renewal met adds nothing to the total")
    }

    @Test func blockingAndNoteQuirksAreListedOnceFirstMetFirstWithTheCatalogueSummary() throws {
        let flow = try quickstart()
        let events = [
            event(.note, "Q-SHAPES"), event(.remedy, "Q-NO-AUTO-VERIFY"), event(.quirk, "Q-NO-AUTO-VERIFY"), event(.note, "Q-SHAPES"),
            event(.note, nil), event(.input, "Q-ONE-VA"),
        ]
        let met = QuirksMet(events: events, flow: flow)
        #expect(met.entries.map(\.id) == ["Q-SHAPES", "Q-NO-AUTO-VERIFY"])
        #expect(met.entries[0].summary == flow.api.quirk("Q-SHAPES")?.summary)
        #expect(met.entries[0].summary != nil)
        #expect(met.entries.map(\.blocked) == [false, true])
        #expect(met.total == Set(flow.raisableQuirkIDs).count)
        #expect(met.countLine == "2 of \(met.total) quirks of this flow")
        #expect(met.lines[1].hasPrefix("Q-NO-AUTO-VERIFY: ") && met.lines[1].hasSuffix("(stopped a step)"))
    }

    @Test func aQuirkTheFlowDoesNotNameStillCounts() throws {
        let met = QuirksMet(events: [event(.note, "Q-WAIT-TIMEOUT")], summaries: { _ in nil }, raisable: ["Q-A", "Q-B"])
        #expect(met.countLine == "1 of 3 quirks of this flow")
        #expect(met.lines == ["Q-WAIT-TIMEOUT"])
    }
}
