import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// Step 5 and 6: virtual accounts (Q-ONE-VA, Q-VA-READY) and simulated deposits
/// (Q-SETTLEMENT-FALSE, Q-DEPOSIT-INVISIBLE).
@Suite struct VirtualAccountTests {
    @Test func createNeedsAVerifiedUser() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let user = try await client.createUser()
            try await sandbox.advance(3)
            let inReview = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            #expect(inReview.status == 400)
            #expect(
                inReview.json == [
                    "code": "invalid_operation", "message": "User must be VERIFIED to create a virtual account (status: REVIEW)",
                ])
            let unknown = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: newKey()), key: newKey())
            #expect(unknown.status == 404)
        }
    }

    @Test func aNewAccountIsPendingUntilReady() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            #expect(try await client.post("/v1/versioning/upgrade", ["target_version": "2026-04-14"]).status == 200)
            let user = try await client.verifiedUser()
            let created = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            #expect(created.status == 201)
            let account = created.json
            #expect(account["status"] == "approved", "approved on 2026-04-14, yet not ready")
            #expect(account["account_number"] == "PENDING-ACT-ACCOUNT")
            #expect(account["routing_number"] == .null)
            #expect(account["currency"] == "USD")
            #expect(account["provider"] == "act")
            let id = try #require(account["id"]?.stringValue)
            let balance = try await client.get("/v1/virtual-accounts/\(id)/balance")
            #expect(balance.status == 400)
            #expect(balance.code == "invalid_operation")
            try await sandbox.advance(7)
            #expect(try await client.get("/v1/virtual-accounts/\(id)").json["account_number"] == "PENDING-ACT-ACCOUNT")
            try await sandbox.advance(1)
            let ready = try await client.get("/v1/virtual-accounts/\(id)").json
            let number = try #require(ready["account_number"]?.stringValue)
            #expect(number.count == 10 && number.allSatisfy(\.isNumber))
            #expect(ready["routing_number"]?.stringValue?.count == 9)
            #expect(ready["status"] == "approved")
            let funded = try await client.get("/v1/virtual-accounts/\(id)/balance")
            #expect(funded.status == 200)
            #expect(funded.json["available_balance"] == "2500.00")
            #expect(funded.json["currency"] == "USD")
            #expect(funded.json["virtual_account_id"]?.stringValue == id)
        }
    }

    @Test func theBaselineMovesFromActivatingToActive() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let user = try await client.verifiedUser()
            let created = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            #expect(created.json["status"] == "ACTIVATING")
            try await sandbox.advance(8)
            let id = try #require(created.json["id"]?.stringValue)
            #expect(try await client.get("/v1/virtual-accounts/\(id)").json["status"] == "ACTIVE")
        }
    }

    @Test func oneActAccountPerUser() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let user = try await client.verifiedUser()
            let first = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            #expect(first.status == 201)
            let second = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            #expect(second.status == 409)
            #expect(second.json == ["code": "resource_conflict", "message": "User already has an ACT virtual account"])
            // The way past it: find the existing one. List items carry null provider and currency.
            let list = try await client.get("/v1/virtual-accounts?user_id=\(user)").json
            let items = try #require(list["data"]?.arrayValue)
            #expect(items.count == 1)
            #expect(items[0]["id"] == first.json["id"])
            #expect(items[0]["provider"] == .null)
            #expect(items[0]["currency"] == .null)
            #expect(list["pagination"]?["total"] == 1)
            let id = try #require(items[0]["id"]?.stringValue)
            let byID = try await client.get("/v1/virtual-accounts/\(id)").json
            #expect(byID["provider"] == "act")
            #expect(byID["currency"] == "USD")
        }
    }

    @Test func bankRules() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let user = try await client.verifiedUser()
            var body = try #require(Fixtures.virtualAccount(user: user).objectValue)
            body["bank"] = nil
            let missing = try await client.post("/v1/virtual-accounts", .object(body), key: newKey())
            #expect(missing.status == 400)
            #expect(missing.message == "bank is required for US_BANK virtual accounts")
            body["bank"] = "portage"
            let portage = try await client.post("/v1/virtual-accounts", .object(body), key: newKey())
            #expect(portage.status == 400)
            #expect(portage.message == "Invalid bank")
        }
    }

    @Test func simulatedDepositsAreCompletedButInvisible() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let (_, account) = try await client.readyAccount()
            let deposit = try await client.post("/v1/virtual-accounts/\(account)/simulate-deposit", ["amount": "100.00"])
            #expect(deposit.status == 201)
            #expect(deposit.json["status"] == "completed")
            #expect(deposit.json["settlement_triggered"] == false)
            #expect(deposit.json["amount"] == "100.00")
            #expect(deposit.json["currency"] == "USD")
            #expect(deposit.json["virtual_account_id"]?.stringValue == account)
            #expect(deposit.json["deposit_id"]?.stringValue != nil)
            // Q-DEPOSIT-INVISIBLE: not in the list, not in the balance.
            let deposits = try await client.get("/v1/virtual-accounts/\(account)/deposits")
            #expect(deposits.status == 200)
            #expect(deposits.json == [])
            #expect(try await client.get("/v1/virtual-accounts/\(account)/balance").json["available_balance"] == "2500.00")
            // The operator still sees it.
            let state = try await sandbox.control("GET", "state").json
            #expect(state["tenants"]?.arrayValue?.first?["deposits"] == 1)
        }
    }

    @Test func depositValidation() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let user = try await client.verifiedUser()
            let created = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            let account = try #require(created.json["id"]?.stringValue)
            let notReady = try await client.post("/v1/virtual-accounts/\(account)/simulate-deposit", ["amount": "100.00"])
            #expect(notReady.status == 400)
            #expect(notReady.code == "invalid_operation")
            try await sandbox.advance(8)
            for amount: JSONValue in [100, "abc", "-5.00", "1.234", "0.00"] {
                let reply = try await client.post("/v1/virtual-accounts/\(account)/simulate-deposit", ["amount": amount])
                #expect(reply.status == 400, "amount \(amount)")
            }
            let unknown = try await client.post("/v1/virtual-accounts/\(newKey())/simulate-deposit", ["amount": "1.00"])
            #expect(unknown.status == 404)
        }
    }
}

/// Step 7: recipients, payout preview (Q-PAYOUT-MIN), payout create and read-back
/// (Q-PAYOUT-STATUS-CASE).
@Suite struct PayoutTests {
    @Test func recipientsCreateGetAndList() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let user = try await client.verifiedUser()
            let id = try await client.recipient(user: user)
            let fetched = try await client.get("/v1/recipients/\(id)")
            #expect(fetched.status == 200)
            #expect(fetched.json["recipient_id"]?.stringValue == id)
            #expect(fetched.json["account"]?["account_type"] == "SWIFT")
            let list = try await client.get("/v1/recipients?user_id=\(user)").json
            #expect(list["total"] == 1)
            #expect(list["recipients"]?.arrayValue?.first?["recipient_id"]?.stringValue == id)
            #expect(try await client.get("/v1/recipients/\(newKey())").status == 404)
        }
    }

    @Test func recipientValidationMessages() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let user = try await client.verifiedUser()
            var body = try #require(Fixtures.recipient(user: user).objectValue)
            var account = try #require(body["account"]?.objectValue)
            account["bank_address"] = nil
            body["account"] = .object(account)
            let noBankAddress = try await client.post("/v1/recipients", .object(body), key: newKey())
            #expect(noBankAddress.status == 400)
            #expect(noBankAddress.message == "account.bank_address: Required")

            body = try #require(Fixtures.recipient(user: user).objectValue)
            body["address"] = ["street_name": "1 A St", "city": "London", "country": "GBR"]
            let country = try await client.post("/v1/recipients", .object(body), key: newKey())
            #expect(country.status == 400)
            #expect(country.message?.contains("Country must be a 2-character ISO code") == true)

            for (field, value) in [("swift_code", "NWB"), ("account_number", "123")] {
                body = try #require(Fixtures.recipient(user: user).objectValue)
                account = try #require(body["account"]?.objectValue)
                account[field] = .string(value)
                body["account"] = .object(account)
                let reply = try await client.post("/v1/recipients", .object(body), key: newKey())
                #expect(reply.status == 400, "\(field)")
                #expect(reply.json["errors"]?.arrayValue?.first?["field"]?.stringValue == "account.\(field)")
            }
        }
    }

    @Test func previewBreaksDownTheFees() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let (user, account) = try await client.readyAccount()
            let recipient = try await client.recipient(user: user)
            let preview = try await client.post(
                "/v1/virtual-accounts/\(account)/payout/preview", ["recipient_id": .string(recipient), "amount": "50.00"]
            )
            #expect(preview.status == 200)
            #expect(preview.json["amount"] == "50.00")
            #expect(preview.json["fees"]?["base_fees"] == ["fixed_fee": "2.50", "percentage_fee": "0.25", "fx_markup": "0.00"])
            #expect(preview.json["fees"]?["client_markup"]?["fixed_fee"] == "0.25")
            #expect(preview.json["fees"]?["total_fees"] == "3.00")
            #expect(preview.json["recipient_amount"] == "47.00")
            #expect(preview.json["recipient_currency"] == "USD")
        }
    }

    @Test(arguments: [("SWIFT", "2.76", "2.77"), ("WIRE", "20.10", "20.11"), ("ACH", "0.75", "0.76")])
    func belowTheHiddenMinimumPreviewSays400(rail: String, below: String, minimum: String) async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let (user, account) = try await client.readyAccount()
            let recipient = try await client.recipient(user: user, rail: rail)
            let tooSmall = try await client.post(
                "/v1/virtual-accounts/\(account)/payout/preview", ["recipient_id": .string(recipient), "amount": .string(below)]
            )
            #expect(tooSmall.status == 400)
            #expect(tooSmall.json == ["code": "bad_request", "message": "Total fees exceed or equal the payout amount"])
            let enough = try await client.post(
                "/v1/virtual-accounts/\(account)/payout/preview", ["recipient_id": .string(recipient), "amount": .string(minimum)]
            )
            #expect(enough.status == 200)
        }
    }

    @Test func payoutStatusCasingDiffersAndProgresses() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let (user, account) = try await client.readyAccount()
            let recipient = try await client.recipient(user: user)
            let noKey = try await client.post(
                "/v1/virtual-accounts/\(account)/payout", ["recipient_id": .string(recipient), "amount": "50.00"])
            #expect(noKey.status == 400)
            #expect(noKey.message == "Idempotency key is required")
            let created = try await client.post(
                "/v1/virtual-accounts/\(account)/payout", ["recipient_id": .string(recipient), "amount": "50.00", "currency": "USD"],
                key: newKey()
            )
            #expect(created.status == 201)
            #expect(created.json["status"] == "created")
            let id = try #require(created.json["payout_id"]?.stringValue)
            var seen: [String] = []
            for _ in 0..<4 {
                seen.append(try await client.get("/v1/payouts/\(id)").json["status"]?.stringValue ?? "?")
                try await sandbox.advance(3)
            }
            #expect(seen == ["CREATED", "PENDING", "PROCESSING", "COMPLETED"])
            #expect(try await client.get("/v1/payouts/\(newKey())").status == 404)
        }
    }

    @Test func oneLargeClockJumpPlaysEveryPayoutStep() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let (user, account) = try await client.readyAccount()
            let recipient = try await client.recipient(user: user)
            let created = try await client.post(
                "/v1/virtual-accounts/\(account)/payout", ["recipient_id": .string(recipient), "amount": "50.00"], key: newKey()
            )
            let id = try #require(created.json["payout_id"]?.stringValue)
            try await sandbox.advance(60)
            #expect(try await client.get("/v1/payouts/\(id)").json["status"] == "COMPLETED")
            let events = (try await sandbox.control("GET", "webhooks").json["deliveries"]?.arrayValue ?? [])
                .compactMap { $0["event"]?.stringValue }.filter { $0.hasPrefix("payout.") }
            #expect(
                events == ["payout.created", "payout.status_changed", "payout.status_changed", "payout.status_changed", "payout.completed"])
        }
    }

    @Test func payoutsAboveTheBalanceAreRefused() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let (user, account) = try await client.readyAccount()
            let recipient = try await client.recipient(user: user)
            let tooMuch = try await client.post(
                "/v1/virtual-accounts/\(account)/payout", ["recipient_id": .string(recipient), "amount": "2490.00"], key: newKey()
            )
            #expect(tooMuch.status == 400)
            #expect(tooMuch.code == "insufficient_funds")
        }
    }
}
