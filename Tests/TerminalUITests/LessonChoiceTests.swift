import Foundation
import KiraTestSupport
import Testing
import WalkthroughCore

@testable import TerminalUI

/// Which notes get a lesson card: a quirk's own note does; a webhook's outcome that names the
/// quirk it confirms does not (the card waits for the quirk's rule).
@Suite struct LessonChoiceTests {
    static func quickstart() throws -> Flow {
        let directory = KiraBinary.packageRoot.appendingPathComponent("flows")
        func path(_ reference: String) -> URL { directory.appendingPathComponent(reference) }
        let text = try String(contentsOf: path("quickstart.yaml"), encoding: .utf8)
        return try FlowLoader.load(
            text, file: path("quickstart.yaml").path, readFile: { try? String(contentsOf: path($0), encoding: .utf8) },
            readData: { try? Data(contentsOf: path($0)) })
    }

    static func note(_ quirk: String, step: String) -> SessionEvent {
        SessionEvent(at: Date(), stepID: step, kind: .note, quirkID: quirk, text: "…")
    }

    @Test func theDepositsWebhookIsNotTheLessonOfTheInvisibleDepositItsRuleIs() throws {
        let flow = try Self.quickstart()
        let step = try #require(flow.steps.first { $0.id == "simulate_deposit" })
        let deposit = try #require(step.requests.first { $0.webhook != nil })
        let quirk = try #require(deposit.webhook?.quirk)
        #expect(quirk == "Q-DEPOSIT-INVISIBLE")
        // Right after the deposit: the webhook's outcome, no card.
        #expect(!TerminalWalkthrough.isLesson(Self.note(quirk, step: step.id), step: step, lastRequestID: deposit.id))
        // After the list that shows the deposit is not there: the rule's note, the card.
        let list = try #require(step.requests.first { request in request.quirks.contains { $0.id == quirk && $0.effect == .note } })
        #expect(TerminalWalkthrough.isLesson(Self.note(quirk, step: step.id), step: step, lastRequestID: list.id))
        // Another step's notes are lessons as before.
        let payout = try #require(flow.steps.first { $0.id == "payout" })
        #expect(TerminalWalkthrough.isLesson(Self.note("Q-PAYOUT-STATUS-CASE", step: payout.id), step: payout, lastRequestID: "read_payout"))
        // Only notes with a quirk.
        #expect(!TerminalWalkthrough.isLesson(SessionEvent(at: Date(), stepID: step.id, kind: .note, quirkID: nil, text: "x"), step: step, lastRequestID: nil))
    }
}
