import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// Step 5's holds and ends over HTTP: an operator puts a virtual account in `rfi`, clears it, or
/// deactivates it for good; funds do not move meanwhile; a deactivated account frees the user for
/// a new one.
@Suite struct AccountHoldTests {
    /// The webhook events of the demo tenant, oldest first, with their `data`.
    static func events(_ sandbox: LiveSandbox, prefix: String = "virtual_account.") async throws -> [(String, JSONValue)] {
        let log = try await sandbox.control("GET", "webhooks").json["deliveries"]?.arrayValue ?? []
        return log.compactMap { entry in
            guard let event = entry["event"]?.stringValue, event.hasPrefix(prefix) else { return nil }
            return (event, entry["body"]?["data"] ?? .null)
        }
    }

    @Test func anRFIHoldsFundsUntilCleared() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            #expect(try await client.post("/v1/versioning/upgrade", ["target_version": "2026-04-14"]).status == 200)
            let (user, account) = try await client.readyAccount()
            let recipient = try await client.recipient(user: user)
            let held = try await sandbox.control("POST", "virtual-accounts/\(account)/rfi", ["reason": "proof of income"])
            #expect(held.status == 200)
            #expect(held.json["status"] == "rfi")
            #expect(held.json["id"]?.stringValue == account)
            #expect(try await client.get("/v1/virtual-accounts/\(account)").json["status"] == "rfi")
            #expect(
                try await client.get("/v1/virtual-accounts/\(account)", headers: [("x-api-version", "2025-01-01")]).json["status"]
                    == "RFI"
            )

            let deposit = try await client.post("/v1/virtual-accounts/\(account)/simulate-deposit", ["amount": "10.00"])
            #expect(deposit.status == 400)
            #expect(deposit.code == "invalid_operation")
            #expect(deposit.message?.contains("rfi") == true, "\(deposit.text)")
            let payoutBody: JSONValue = ["recipient_id": .string(recipient), "amount": "50.00"]
            let preview = try await client.post("/v1/virtual-accounts/\(account)/payout/preview", payoutBody)
            #expect(preview.status == 400)
            #expect(preview.code == "invalid_operation")
            let payout = try await client.post("/v1/virtual-accounts/\(account)/payout", payoutBody, key: newKey())
            #expect(payout.status == 400)
            #expect(payout.code == "invalid_operation")

            let again = try await sandbox.control("POST", "virtual-accounts/\(account)/rfi")
            #expect(again.status == 409)
            #expect(again.code == "invalid_operation")

            let cleared = try await sandbox.control("POST", "virtual-accounts/\(account)/clear-rfi")
            #expect(cleared.status == 200)
            #expect(cleared.json["status"] == "approved")
            #expect(try await client.post("/v1/virtual-accounts/\(account)/simulate-deposit", ["amount": "10.00"]).status == 201)
            #expect(try await client.post("/v1/virtual-accounts/\(account)/payout", payoutBody, key: newKey()).status == 201)
            #expect(try await sandbox.control("POST", "virtual-accounts/\(account)/clear-rfi").status == 409)

            let events = try await Self.events(sandbox).filter { $0.0 != "virtual_account.created" }
            #expect(
                events.map(\.0) == [
                    "virtual_account.activated", "virtual_account.rfi_requested", "virtual_account.activated",
                    "virtual_account.deposit_funds_received",
                ]
            )
            #expect(events[1].1["status"] == "rfi")
            #expect(events[1].1["reason"] == "proof of income")
            #expect(events[1].1["virtual_account_id"]?.stringValue == account)
            #expect(events[2].1["status"] == "approved")
        }
    }

    @Test func deactivatedIsFinalAndTheUserGetsANewAccount() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let (user, account) = try await client.readyAccount()
            let recipient = try await client.recipient(user: user)
            let second = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            #expect(second.status == 409, "one VA per user while it is open")

            let closed = try await sandbox.control("POST", "virtual-accounts/\(account)/deactivate")
            #expect(closed.status == 200)
            #expect(closed.json["status"] == "DEACTIVATED", "the baseline vocabulary until pinned")
            for action in ["rfi", "clear-rfi", "deactivate"] {
                let refused = try await sandbox.control("POST", "virtual-accounts/\(account)/\(action)")
                #expect(refused.status == 409, "\(action)")
                #expect(refused.message?.contains("DEACTIVATED") == true, "\(action): \(refused.text)")
            }
            let deposit = try await client.post("/v1/virtual-accounts/\(account)/simulate-deposit", ["amount": "10.00"])
            #expect(deposit.status == 400)
            #expect(deposit.code == "invalid_operation")
            let payout = try await client.post(
                "/v1/virtual-accounts/\(account)/payout", ["recipient_id": .string(recipient), "amount": "50.00"], key: newKey()
            )
            #expect(payout.status == 400)

            let replacement = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            #expect(replacement.status == 201, "\(replacement.text)")
            let newID = try #require(replacement.json["id"]?.stringValue)
            #expect(newID != account)
            #expect(try await client.get("/v1/virtual-accounts/\(account)").json["status"] == "DEACTIVATED")
            let list = try await client.get("/v1/virtual-accounts?user_id=\(user)").json["data"]?.arrayValue ?? []
            #expect(list.compactMap { $0["id"]?.stringValue } == [account, newID])
            let third = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            #expect(third.status == 409, "the new account counts for the one-VA rule")

            let events = try await Self.events(sandbox).map(\.0)
            #expect(events.contains("virtual_account.deactivated"))
        }
    }

    @Test func anAccountHeldWhileOpeningKeepsItsHoldWhenReady() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let user = try await client.verifiedUser()
            let created = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            let account = try #require(created.json["id"]?.stringValue)
            #expect(try await sandbox.control("POST", "virtual-accounts/\(account)/rfi").json["status"] == "RFI")
            try await sandbox.advance(9)
            let ready = try await client.get("/v1/virtual-accounts/\(account)").json
            #expect(ready["status"] == "RFI")
            #expect(ready["account_number"] != "PENDING-ACT-ACCOUNT")
            #expect(try await sandbox.control("POST", "virtual-accounts/\(account)/clear-rfi").json["status"] == "ACTIVE")
        }
    }

    @Test func holdControlsNeedAKnownAccount() async throws {
        try await LiveSandbox.with { sandbox in
            let unknown = try await sandbox.control("POST", "virtual-accounts/\(newKey())/rfi")
            #expect(unknown.status == 404)
            let malformed = try await sandbox.control("POST", "virtual-accounts/nope/rfi")
            #expect(malformed.status == 400)
            let noSuchAction = try await sandbox.control("POST", "virtual-accounts/\(newKey())/freeze")
            #expect(noSuchAction.status == 404)
        }
    }

    /// Webhooks follow the account's pinned version, never the request's header.
    @Test func webhooksUseThePinnedVocabularyNotTheRequestHeader() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let user = try await client.verifiedUser()
            let header = [("x-api-version", "2026-04-14")]
            let created = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey(), headers: header)
            #expect(created.json["status"] == "approved", "the response follows the header")
            let account = try #require(created.json["id"]?.stringValue)
            try await sandbox.advance(9)
            var events = try await Self.events(sandbox)
            #expect(events.map(\.0) == ["virtual_account.created", "virtual_account.activated"])
            #expect(events.compactMap { $0.1["status"]?.stringValue } == ["ACTIVATING", "ACTIVE"], "unpinned: the baseline vocabulary")

            // Pinned to 2026-04-14, a request with the baseline header: webhooks say "approved".
            #expect(try await client.post("/v1/versioning/upgrade", ["target_version": "2026-04-14"]).status == 200)
            let baseline = [("x-api-version", "2025-01-01")]
            let held = try await client.get("/v1/virtual-accounts/\(account)", headers: baseline)
            #expect(held.json["status"] == "ACTIVE")
            _ = try await sandbox.control("POST", "virtual-accounts/\(account)/rfi")
            _ = try await sandbox.control("POST", "virtual-accounts/\(account)/clear-rfi")
            let other = try await client.verifiedUser()
            let second = try await client.post(
                "/v1/virtual-accounts", Fixtures.virtualAccount(user: other), key: newKey(), headers: baseline
            )
            #expect(second.json["status"] == "ACTIVATING", "the response follows the header")
            events = Array(try await Self.events(sandbox).dropFirst(2))
            #expect(events.map(\.0) == ["virtual_account.rfi_requested", "virtual_account.activated", "virtual_account.created"])
            #expect(events.compactMap { $0.1["status"]?.stringValue } == ["rfi", "approved", "approved"])
        }
    }
}
