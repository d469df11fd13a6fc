import AsyncHTTPClient
import Foundation
import KiraJSON
import NIOCore
import NIOHTTP1
import SessionStore
import Testing
import WalkthroughPresentation

@testable import KiraSandbox
@testable import WalkthroughCore
@testable import WalkthroughRunner

/// Issue 10: an answer nobody documented, on any step that sends, stops the run for a person, and
/// a resumed run completes without creating anything twice. Provisioned ids are used as they are.
@Suite struct UndocumentedAnswerEndToEndTests {
    /// Every request of the quickstart that sends, and the emulator path its fault matches.
    static let sendingRequests: [(requestID: String, method: String, path: String)] = [
        ("auth", "POST", "/auth"),
        ("pin", "POST", "/v1/versioning/upgrade"),
        ("create_user", "POST", "/v1/users"),
        ("user_verified", "GET", "/v1/users/*"),
        ("create_va", "POST", "/v1/virtual-accounts"),
        ("va_ready", "GET", "/v1/virtual-accounts/*"),
        ("deposit", "POST", "/v1/virtual-accounts/*/simulate-deposit"),
        ("deposits_list", "GET", "/v1/virtual-accounts/*/deposits"),
        ("create_recipient", "POST", "/v1/recipients"),
        ("preview", "POST", "/v1/virtual-accounts/*/payout/preview"),
        ("create_payout", "POST", "/v1/virtual-accounts/*/payout"),
        ("read_payout", "GET", "/v1/payouts/*"),
    ]

    @Test func theListCoversEverySendingRequestOfTheFlow() throws {
        let flow = try quickstart()
        // The provisioned-id checks only send with an id set; the tests below cover them.
        let sending = flow.steps.flatMap(\.requests).filter { $0.condition?.whenSet != true }.map(\.id)
        #expect(Set(sending) == Set(Self.sendingRequests.map(\.requestID)))
    }

    /// Adds a fault through the emulator's `/__emulator/faults` over HTTP.
    static func inject(_ fixture: WalkthroughFixture, _ fault: JSONValue) async throws {
        var request = HTTPClientRequest(url: fixture.root + "/__emulator/faults")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: fault.serialized()))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(response.status == .created)
    }

    @Test(arguments: sendingRequests.map(\.requestID))
    func anUndocumented4xxOnAnyStepStopsAndAResumeCompletesWithoutDuplicates(_ requestID: String) async throws {
        let target = try #require(Self.sendingRequests.first { $0.requestID == requestID })
        try await WalkthroughFixture.with { fixture in
            let flow = try quickstart()
            try await Self.inject(
                fixture,
                [
                    "method": .string(target.method), "path": .string(target.path), "kind": "status", "status": 422,
                    "body": ["code": "compliance_hold", "message": "Held for review", "errors": [["field": "x", "message": "y"]]],
                ])
            let first = RecordingPresenter()
            let outcome = await fixture.run(flow, presenter: first, session: "undoc")
            guard case .blocked(let advice) = outcome else {
                Issue.record("\(requestID): expected a stop for a person, got \(outcome)")
                return
            }
            #expect(advice.contains("HTTP 422"))
            let blocked = try #require(await first.blocked.last)
            #expect(blocked.quirkID == WalkthroughEngine.unexpectedAnswerID)
            #expect(blocked.requestID == requestID)
            #expect(blocked.answer?.code == "compliance_hold")
            #expect(blocked.explanation.contains("Held for review") && blocked.explanation.contains("\"errors\""))
            let before = await fixture.counts()

            // A new run: it sends nothing by itself; for a request safe to repeat it recommends
            // sending it again, which the unattended presenter takes.
            let repeatable = try #require(flow.steps.flatMap(\.requests).first { $0.id == requestID }).repeatable
            let second = RecordingPresenter()
            let resumed = await fixture.run(flow, presenter: second, session: "undoc")
            if repeatable {
                #expect(resumed == .completed, "\(requestID): \(resumed)")
            } else {
                // A request that could duplicate waits for a person: the same stop, nothing sent.
                guard case .blocked = resumed else {
                    Issue.record("\(requestID): expected the stop again, got \(resumed)")
                    return
                }
                #expect(await second.exchanges.isEmpty)
                #expect(await fixture.counts() == before)
                let person = RecordingPresenter(remedyFor: [WalkthroughEngine.unexpectedAnswerID: 0])
                #expect(await fixture.run(flow, presenter: person, session: "undoc") == .completed)
            }
            let counts = await fixture.counts()
            for kind in ["users", "virtual_accounts", "recipients", "payouts", "deposits"] {
                #expect(counts[kind] == 1, "\(requestID): \(kind) \(counts)")
            }
            let session = try #require(try fixture.store.load("undoc"))
            #expect(session.isComplete)
            // The faulted request: one refused answer, and it was not sent again before a choice.
            let answers = session.exchanges.filter { $0.requestID == requestID && $0.note == nil }.compactMap(\.status)
            #expect(answers.first == 422 && answers.filter { $0 == 422 }.count == 1, "\(requestID): \(answers)")
            if flow.steps.flatMap(\.requests).first(where: { $0.id == requestID })?.method == "POST" {
                #expect(answers.count == 2, "\(requestID) sent once more, after the choice: \(answers)")
            }
        }
    }

    /// A refusal the emulator's API itself gave (not an injected fault) is stored under the
    /// request's idempotency key, as the contract says keys replay refused answers. Sending again
    /// with that key would only bring the refusal back; the walkthrough sends with a new one, and
    /// the request goes through once the cause is gone.
    @Test func aRefusalStoredUnderItsKeyIsSentAgainWithANewKey() async throws {
        // The flow goes on from the user's creation without waiting for VERIFIED, so the account
        // is asked for too early: 400 invalid_operation, which no rule of create_va explains.
        let flow = try quickstart(
            replacing: "until: { field: status, equals: VERIFIED }", with: "until: { field: status, not_in: [REJECTED] }")
        try await WalkthroughFixture.with { fixture in
            let first = RecordingPresenter()
            guard case .blocked = await fixture.run(flow, presenter: first, session: "refused") else {
                Issue.record("expected a stop for a person")
                return
            }
            let blocked = try #require(await first.blocked.last)
            #expect(blocked.requestID == "create_va" && blocked.answer?.code == "invalid_operation", "\(blocked.explanation)")
            // The person fixes the cause (an operator verifies the user), then sends it again.
            let userID = try #require(try fixture.store.load("refused")?.captures["user_id"]?.stringValue)
            var verify = HTTPClientRequest(url: fixture.root + "/__emulator/users/\(userID)/verify")
            verify.method = .POST
            #expect(try await HTTPClient.shared.execute(verify, timeout: .seconds(10)).status == .ok)
            let person = RecordingPresenter(remedyFor: [WalkthroughEngine.unexpectedAnswerID: 0])
            #expect(await fixture.run(flow, presenter: person, session: "refused") == .completed)
            let session = try #require(try fixture.store.load("refused"))
            let attempts = session.exchanges.filter { $0.requestID == "create_va" && $0.note == nil }
            #expect(attempts.compactMap(\.status) == [400, 201], "\(attempts.map { ($0.status, $0.responseBody ?? "") })")
            let keys = attempts.map { $0.requestHeaders.first { $0.first?.lowercased() == "idempotency-key" }?.last ?? "" }
            #expect(keys.count == 2 && !keys[0].isEmpty && keys[0] != keys[1], "\(keys)")
            #expect(await fixture.counts()["virtual_accounts"] == 1)
        }
    }

    /// Provisioned ids (Q-SEED-IDS): with KIRA_USER_ID, KIRA_VA_ID and KIRA_RECIPIENT_ID set, the
    /// flow checks them with GETs and uses them; it creates no user, account or recipient.
    @Test func provisionedIDsAreCheckedAndUsedAsTheyAre() async throws {
        try await WalkthroughFixture.with { fixture in
            let flow = try quickstart()
            var provision = HTTPClientRequest(url: fixture.root + "/__emulator/provision")
            provision.method = .POST
            let reply = try await HTTPClient.shared.execute(provision, timeout: .seconds(10))
            let ids = try JSONValue.parse(Array(buffer: try await reply.body.collect(upTo: 1 << 20)))
            let user = try #require(ids["user_id"]?.stringValue)
            let account = try #require(ids["virtual_account_id"]?.stringValue)
            let recipient = try #require(ids["recipient_id"]?.stringValue)
            let before = await fixture.counts()
            let presenter = RecordingPresenter()
            let outcome = await fixture.run(
                flow, presenter: presenter,
                environment: ["KIRA_USER_ID": user, "KIRA_VA_ID": account, "KIRA_RECIPIENT_ID": recipient])
            #expect(outcome == .completed)
            let after = await fixture.counts()
            for kind in ["users", "virtual_accounts", "recipients"] { #expect(after[kind] == before[kind], "no new \(kind)") }
            #expect(after["payouts"] == 1)
            let sent = await presenter.exchanges.map(\.requestID)
            for created in ["create_user", "create_va", "create_recipient"] { #expect(!sent.contains(created)) }
            for checked in ["check_user", "check_va", "check_recipient"] { #expect(sent.contains(checked)) }
            let session = try #require(try fixture.store.load("test"))
            #expect(session.captures["user_id"] == .string(user))
            #expect(session.captures["va_id"] == .string(account))
            #expect(session.inputs["recipient_id"] == recipient)
            let exchanges = await presenter.exchanges
            #expect(exchanges.contains { $0.requestID == "deposit" && $0.url.contains("/v1/virtual-accounts/\(account)/simulate-deposit") })
            #expect(exchanges.contains { $0.requestID == "create_payout" && ($0.requestBody ?? "").contains(recipient) })
        }
    }

    /// An id that does not exist in the tenant is Q-SEED-IDS: the run stops for a person.
    @Test(arguments: ["KIRA_USER_ID", "KIRA_VA_ID"])
    func aMadeUpIDIsExplainedAsSeedIDs(_ variable: String) async throws {
        try await WalkthroughFixture.with { fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            let outcome = await fixture.run(flow, presenter: presenter, environment: [variable: UUID().uuidString.lowercased()])
            guard case .blocked = outcome else {
                Issue.record("expected a stop, got \(outcome)")
                return
            }
            let seed = try #require(await presenter.blocked.first { $0.quirkID == "Q-SEED-IDS" })
            #expect(seed.requestID == (variable == "KIRA_USER_ID" ? "check_user" : "check_va"))
            #expect(seed.explanation.contains("tenant-scoped"))
            // Nothing made up is replaced by a resource of the walkthrough's own.
            #expect(await fixture.counts()[variable == "KIRA_USER_ID" ? "users" : "virtual_accounts"] == 0)
        }
    }
}
