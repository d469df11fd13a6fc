import Foundation
import KiraClient
import KiraJSON
import SessionStore
import Testing
import WalkthroughPresentation

@testable import KiraSandbox
@testable import WalkthroughCore
@testable import WalkthroughRunner

/// The whole quickstart and each quirk, end to end against the emulator over loopback.
@Suite struct QuirkEndToEndTests {
    @Test func theWholeQuickstartCompletesWithOneOfEach() async throws {
        // The account stays pending for 3 s of the emulator's clock, which stands still but for
        // the walkthrough's waits: the first readiness check sees PENDING-ACT-ACCOUNT on any machine.
        try await WalkthroughFixture.with(SandboxConfiguration(virtualAccountReadyAfter: .seconds(3))) { fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            let outcome = await fixture.run(flow, presenter: presenter)
            #expect(outcome == .completed)
            let session = try #require(try fixture.store.load("test"))
            #expect(session.steps.allSatisfy { $0.state == .succeeded })
            let counts = await fixture.counts()
            #expect(counts["users"] == 1 && counts["virtual_accounts"] == 1 && counts["payouts"] == 1 && counts["recipients"] == 1)
            // Q-VA-READY: the account was seen pending, then real.
            let readiness = await presenter.exchanges.filter { $0.requestID == "va_ready" }
            #expect(readiness.first?.responseBody?.contains("PENDING-ACT-ACCOUNT") == true)
            #expect(readiness.last?.responseBody?.contains("PENDING-ACT-ACCOUNT") == false)
            let quirks = await Set(presenter.events.compactMap(\.quirkID))
            for id in [
                "Q-NO-AUTO-VERIFY", "Q-VA-READY", "Q-DEPOSIT-INVISIBLE", "Q-SETTLEMENT-FALSE", "Q-PAYOUT-STATUS-CASE", "Q-GATE-ON-STATUS",
            ] {
                #expect(quirks.contains(id), "\(id) explained")
            }
            // The deposit is not a failure: its step succeeded with its notes.
            #expect(session.steps[5].state == .succeeded)
            // Secrets never on disk.
            let files = fixture.stateDirectoryContents()
            let demo = TenantCredentials.demo
            #expect(!files.contains(demo.password))
            #expect(!files.contains(demo.apiKey))
            #expect(!files.contains("kat_"), "no access token")
            // X-Api-Version until the pin, not after.
            let exchanges = await presenter.exchanges
            let pinIndex = try #require(exchanges.firstIndex { $0.requestID == "pin" })
            #expect(exchanges[...pinIndex].allSatisfy { $0.requestHeaders.contains { $0[0] == "x-api-version" } })
            #expect(exchanges[(pinIndex + 1)...].allSatisfy { !$0.requestHeaders.contains { $0[0] == "x-api-version" } })
        }
    }

    @Test func aSecondVirtualAccountIsFoundAndReused() async throws {
        try await WalkthroughFixture.with { fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            // Someone created the user's VA outside the walkthrough just before it tries.
            await presenter.hook("/v1/virtual-accounts") {
                let users = (try? await fixture.call("GET", "/v1/users"))?["data"]?.arrayValue ?? []
                let user = users.first?["id"]?.stringValue ?? ""
                _ = try? await fixture.call(
                    "POST", "/v1/virtual-accounts",
                    body: ["user_id": .string(user), "type": "US_BANK", "provider": "act", "bank": "slovak_savings_bank", "mode": "fiat"],
                    key: UUID().uuidString
                )
            }
            #expect(await fixture.run(flow, presenter: presenter) == .completed)
            #expect(await presenter.blocked.contains { $0.quirkID == "Q-ONE-VA" })
            #expect(await fixture.counts()["virtual_accounts"] == 1)
            #expect(await presenter.exchanges.contains { $0.requestID == "find_existing_va" && $0.status == 200 })
        }
    }

    @Test func thePayoutMinimumIsFoundOnTheEmulator() async throws {
        try await WalkthroughFixture.with { fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            #expect(await fixture.run(flow, presenter: presenter, environment: ["KIRA_PAYOUT_AMOUNT": "1.00"]) == .completed)
            let previews = await presenter.exchanges.filter { $0.requestID == "preview" }
            #expect(previews.count - 2 <= 12, "at most 12 search calls")
            let session = try #require(try fixture.store.load("test"))
            #expect(session.inputs["payout_amount"] == "2.77")
            let payoutID = try #require(session.captures["payout_id"]?.stringValue)
            #expect(try await fixture.call("GET", "/v1/payouts/\(payoutID)")["amount"] == "2.77")
        }
    }

    @Test func aUserRejectedForMissingSourceOfFundsIsReplacedWithANewEmail() async throws {
        // Only the create's body loses source_of_funds (the PUT remedy's, indented deeper, keeps it).
        let flow = try quickstart(
            replacing: "receive_payments\n          source_of_funds: salary\n", with: "receive_payments\n")
        try await WalkthroughFixture.with { fixture in
            let presenter = RecordingPresenter()
            // Every new user of this flow is rejected too: the restart is taken until it is withdrawn
            // (three times), and then only stopping is left.
            guard case .blocked(let advice) = await fixture.run(flow, presenter: presenter) else {
                Issue.record("expected the run to stop for a person")
                return
            }
            #expect(advice.contains("rejected"))
            let rejection = try #require(await presenter.blocked.first { $0.quirkID == "Q-SOF-REJECT" })
            #expect(rejection.explanation.contains("source_of_funds"))
            #expect(rejection.explanation.contains("final"))
            #expect(rejection.remedies.first?.label.contains("new, complete user") == true)
            #expect(rejection.remedies.count == 2, "no operator remedy: REJECTED is final")
            // Each new user has a new email: no 409 resource_conflict, four users, four emails.
            let creations = await presenter.exchanges.filter { $0.requestID == "create_user" }
            #expect(creations.count == 4)
            #expect(creations.allSatisfy { $0.status == 201 }, "\(creations.map(\.status))")
            let emails = creations.compactMap { $0.requestBody.flatMap { try? JSONValue.parse($0) }?["email"]?.stringValue }
            #expect(Set(emails).count == 4, "\(emails)")
            #expect(await fixture.counts()["users"] == 4)
        }
    }

    @Test func offTheEmulatorAnUnverifiedUserStopsTheRunForAPerson() async throws {
        try await WalkthroughFixture.with { fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            // The user reaches REVIEW about 3 s after it is created; the wait's bound leaves room for a
            // loaded machine, so the run stops on the REVIEW rule (not on the wait running out of time).
            let outcome = await fixture.run(flow, presenter: presenter, isEmulator: false, waitTimeout: 30)
            guard case .blocked(let advice) = outcome else {
                Issue.record("expected blocked, got \(outcome)")
                return
            }
            #expect(advice.contains("resume"))
            let first = try #require(await presenter.blocked.first)
            #expect(first.quirkID == "Q-NO-AUTO-VERIFY")
            #expect(first.isTimeout == false, "the REVIEW rule, not the wait's timeout")
            #expect(first.remedies[0].available == false, "no operator on a real sandbox")
            let session = try #require(try fixture.store.load("test"))
            #expect(session.steps[3].state == .blocked)
            #expect(await fixture.counts()["virtual_accounts"] == 0)
        }
    }

    @Test func expiringTokensAreRenewedAndA401IsRetriedOnce() async throws {
        try await WalkthroughFixture.with(SandboxConfiguration(tokenTTL: .seconds(60), virtualAccountReadyAfter: .milliseconds(300))) {
            fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            // Let the token age past its TTL once, mid-run: the emulator's clock jumps 61 s, so the
            // client (which believes the token has a minute left) meets a 401, however slow the machine.
            await presenter.hook("/v1/users") { try? await fixture.advanceClock(seconds: 61) }
            var configuration = KiraClientConfigurationForTests.noRefreshMargin
            configuration.baseBackoff = .milliseconds(10)
            let outcome = await fixture.run(flow, presenter: presenter) { $0.clientConfiguration = configuration }
            #expect(outcome == .completed)
            let exchanges = await presenter.exchanges
            let unauthorized = try #require(exchanges.firstIndex { $0.status == 401 })
            #expect(exchanges[unauthorized + 1].requestID == "auth")
            #expect(exchanges[unauthorized + 1].note?.contains("Q-TOKEN-TTL") == true)
            #expect(exchanges[unauthorized + 2].requestID == exchanges[unauthorized].requestID, "the same request, sent again")
            #expect([200, 201].contains(exchanges[unauthorized + 2].status ?? 0))
            // Once: one 401 in the whole run, one re-authentication for it, one resend.
            #expect(exchanges.filter { $0.status == 401 }.count == 1)
            #expect(exchanges.filter { $0.requestID == "auth" && ($0.note?.contains("Q-TOKEN-TTL") ?? false) }.count == 1)
        }
    }

    @Test func tokensCloseToExpiryAreRenewedBeforeUse() async throws {
        // With a 60 s TTL every token is "under 5 minutes", so each bearer call re-authenticates first.
        try await WalkthroughFixture.with(SandboxConfiguration(tokenTTL: .seconds(60), virtualAccountReadyAfter: .milliseconds(300))) {
            fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            #expect(await fixture.run(flow, presenter: presenter) == .completed)
            let exchanges = await presenter.exchanges
            #expect(exchanges.allSatisfy { $0.status != 401 })
            // Every call that carries a bearer token comes right after a renewal made for it.
            let bearerCalls = exchanges.indices.filter { index in exchanges[index].requestHeaders.contains { $0.first == "authorization" } }
            #expect(bearerCalls.count >= 10, "pin, user, polls, account, deposit, payout")
            for index in bearerCalls {
                let before = index > 0 ? exchanges[index - 1] : nil
                #expect(
                    before?.requestID == "auth" && (before?.note?.contains("Q-TOKEN-TTL") ?? false),
                    "\(exchanges[index].method) \(exchanges[index].url) was not renewed before use")
            }
        }
    }

    @Test func aPinNewerThanTheFlowsIsAcceptedForwardOnly() async throws {
        let flow = try quickstart(replacing: "api_version: \"2026-04-14\"", with: "api_version: \"2025-01-01\"")
        try await WalkthroughFixture.with { fixture in
            _ = try await fixture.call("POST", "/v1/versioning/upgrade", body: ["target_version": "2026-04-14"])
            let presenter = RecordingPresenter()
            #expect(await fixture.run(flow, presenter: presenter) == .completed)
            #expect(await presenter.blocked.contains { $0.quirkID == "Q-PIN-FORWARD-ONLY" })
        }
    }

    @Test func theWrongPinFieldStopsWithAdvice() async throws {
        // The rules read status, code and the field the error names, never the emulator's prose: a
        // refusal over target_version is explained with both causes, and stopping gives the body.
        let flow = try quickstart(replacing: "target_version: \"{{ api_version }}\"", with: "version: \"{{ api_version }}\"")
        try await WalkthroughFixture.with { fixture in
            let presenter = RecordingPresenter(remedyFor: ["Q-PIN-FORWARD-ONLY": 1])
            guard case .blocked(let advice) = await fixture.run(flow, presenter: presenter) else {
                Issue.record("expected blocked")
                return
            }
            #expect(advice.contains("target_version"))
            let block = try #require(await presenter.blocked.first)
            #expect(block.quirkID == "Q-PIN-FORWARD-ONLY")
            #expect(block.explanation.contains("Q-PIN-FIELD"), "the misnamed field is named as the other cause")
        }
    }

    @Test func aPinRefusedWithoutAFieldNameIsTheFieldQuirk() async throws {
        // A refusal that names no field (as a gateway or another surface may answer) is Q-PIN-FIELD.
        let flow = try quickstart()
        try await WalkthroughFixture.with { fixture in
            try await fixture.control(
                "faults",
                body: [
                    "path": "/v1/versioning/upgrade", "count": 1, "kind": "status", "status": 400,
                    "body": ["code": "validation_error", "message": "Bad request"],
                ])
            let presenter = RecordingPresenter()
            guard case .blocked = await fixture.run(flow, presenter: presenter) else {
                Issue.record("expected blocked")
                return
            }
            #expect(await presenter.blocked.first?.quirkID == "Q-PIN-FIELD")
        }
    }

    @Test func anUnknownProvisionedRecipientIsExplainedAsSeedIds() async throws {
        try await WalkthroughFixture.with { fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            let outcome = await fixture.run(flow, presenter: presenter, environment: ["KIRA_RECIPIENT_ID": UUID().uuidString])
            guard case .blocked = outcome else {
                Issue.record("expected blocked, got \(outcome)")
                return
            }
            let seed = try #require(await presenter.blocked.first { $0.quirkID == "Q-SEED-IDS" })
            #expect(seed.explanation.contains("tenant-scoped"))
        }
    }

    @Test func aProvisionedRecipientIsValidatedAndUsed() async throws {
        try await WalkthroughFixture.with { fixture in
            let flow = try quickstart()
            let provisioned = try await JSONValue.parse(
                Array(await fixture.running.state.handle(SandboxRequest(method: "POST", path: "/__emulator/provision")).response.body)
            )
            let recipient = try #require(provisioned["recipient_id"]?.stringValue)
            let presenter = RecordingPresenter()
            #expect(await fixture.run(flow, presenter: presenter, environment: ["KIRA_RECIPIENT_ID": recipient]) == .completed)
            #expect(await presenter.exchanges.contains { $0.requestID == "check_recipient" && $0.status == 200 })
            #expect(await !presenter.exchanges.contains { $0.requestID == "create_recipient" })
        }
    }
}

/// Client settings for tests.
enum KiraClientConfigurationForTests {
    /// Never renews early: only a 401 makes the client re-authenticate.
    static var noRefreshMargin: KiraClientConfiguration {
        var configuration = KiraClientConfiguration()
        configuration.refreshMargin = 0
        return configuration
    }
}
