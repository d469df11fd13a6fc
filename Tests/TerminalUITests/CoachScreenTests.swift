import Coach
import Foundation
import KiraJSON
import Testing

@testable import TerminalUI

/// The coach's screen, rendered into the in-memory grid (no terminal).
@Suite struct CoachScreenTests {
    static func request(_ sequence: Int, _ method: String, _ path: String, status: Int, tenant: String = "tenant 1") -> CoachRequest {
        CoachRequest(
            sequence: sequence, at: Date(timeIntervalSince1970: 1_800_000_000), method: method, path: path,
            headers: ["x-api-key": "***"], body: Array(#"{"name":"thing"}"#.utf8), status: status,
            response: Array(#"{"id":"1"}"#.utf8), latencyMilliseconds: 1.5, tenant: tenant, facts: ["ready": false]
        )
    }

    static func view(tenants: [String] = ["tenant 1"]) -> CoachView {
        let requests = (1...4).map { request($0, "GET", "/things/\($0)", status: $0 == 3 ? 404 : 200, tenant: tenants[$0 % tenants.count]) }
        let finding = CoachFinding(
            rule: "r", severity: .error, quirk: "Q-THING", message: "it broke", why: "because", fix: "do it right", request: requests[2],
            count: 2)
        let report = CoachReport(
            steps: [
                CoachStepState(id: "a", title: "First thing", done: true, completedBy: 1),
                CoachStepState(id: "b", title: "Second thing", done: false, completedBy: nil),
            ], findings: [finding], requestCount: 4)
        return CoachView(header: "coach at http://x — SECRET-HEADER", report: report, requests: requests)
    }

    @Test func theChecklistFindingsAndRequestsShow() {
        let text = CoachScreen.render(Self.view(), width: 100, height: 24).text
        #expect(text.contains("Checklist 1/2"))
        #expect(text.contains("[x] 1. First thing"))
        #expect(text.contains("[ ] 2. Second thing"))
        #expect(text.contains("Findings: 1 error(s), 0 warning(s)"))
        #expect(text.contains("ERROR Q-THING GET /things/3 → 404 (×2): it broke"))
        #expect(text.contains("fix: do it right"))
        #expect(text.contains("Requests (4)"))
        #expect(text.contains("GET    /things/4"))
        #expect(!text.contains("tenant 1"), "one tenant: no tenant column")
    }

    @Test func severalTenantsAreNamedOnEachRequest() {
        let text = CoachScreen.render(Self.view(tenants: ["tenant 1", "tenant 2"]), width: 100, height: 24).text
        #expect(text.contains("tenant 1"))
        #expect(text.contains("tenant 2"))
    }

    @Test func aSelectedRequestOpensWholeWithoutTheHeader() {
        var view = Self.view()
        view.moveSelection(by: -3)
        #expect(view.selectedRequest?.sequence == 1)
        view.detailOpen = true
        let text = CoachScreen.render(view, width: 100, height: 30).text
        #expect(text.contains("Request #1: GET /things/1 → 200"))
        #expect(text.contains("\"x-api-key\": \"***\""))
        #expect(text.contains("\"name\": \"thing\""))
        #expect(text.contains("\"ready\": false"))
        #expect(!text.contains("SECRET-HEADER"))
        view.moveSelection(by: 10)
        #expect(view.selected == nil, "back at the newest, the selection follows new requests")
    }

    @Test func aTinyTerminalSaysSo() {
        #expect(CoachScreen.render(Self.view(), width: 10, height: 5).text.contains("Terminal"))
    }
}
