import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// Q-IDEMPOTENCY, tenant isolation, and concurrency.
@Suite struct IdempotencyTests {
    @Test func sameKeySameBodyReplays() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let client = try await sandbox.client()
            let key = newKey()
            let body = Fixtures.completeIndividual()
            let first = try await client.post("/v1/users", body, key: key)
            try await sandbox.advance(5)
            let second = try await client.post("/v1/users", body, key: key)
            #expect(first.status == 201)
            #expect(second.status == 201)
            #expect(second.bytes == first.bytes, "the original body, byte for byte, even though the user has moved on")
            #expect(second.header("idempotent-replayed") == "true")
            #expect(try await client.get("/v1/users").json["pagination"]?["total"] == 1)
        }
    }

    /// A failed answer is kept as well: the same key and body replay the 400 or the 409 even once
    /// the cause is gone; a different body under the key is a conflict.
    @Test func failedAnswersAreReplayedToo() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let client = try await sandbox.client()
            let user = try await client.createUser()
            let key = newKey()
            let body = Fixtures.virtualAccount(user: user)
            let refused = try await client.post("/v1/virtual-accounts", body, key: key)
            #expect(refused.status == 400)
            #expect(refused.code == "invalid_operation")
            #expect(try await sandbox.control("POST", "users/\(user)/verify").status == 200)
            let replayed = try await client.post("/v1/virtual-accounts", body, key: key)
            #expect(replayed.status == 400, "the original status, although the user is VERIFIED now")
            #expect(replayed.bytes == refused.bytes)
            #expect(replayed.header("idempotent-replayed") == "true")
            var other = try #require(body.objectValue)
            other["mode"] = "fiat"
            other["bank"] = "portage"
            let reused = try await client.post("/v1/virtual-accounts", .object(other), key: key)
            #expect(reused.status == 409)
            #expect(reused.code == "idempotency_key_reused")
            // A new key is a new request.
            #expect(try await client.post("/v1/virtual-accounts", body, key: newKey()).status == 201)

            let email = Fixtures.completeIndividual(email: "taken@example.com")
            _ = try await client.createUser(email)
            let conflictKey = newKey()
            let conflict = try await client.post("/v1/users", email, key: conflictKey)
            #expect(conflict.status == 409)
            #expect(conflict.code == "resource_conflict")
            let again = try await client.post("/v1/users", email, key: conflictKey)
            #expect(again.status == 409)
            #expect(again.bytes == conflict.bytes)
            #expect(again.header("idempotent-replayed") == "true")
        }
    }

    @Test func sameKeyOtherBodyIsAConflict() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let client = try await sandbox.client()
            let key = newKey()
            #expect(try await client.post("/v1/users", Fixtures.completeIndividual(), key: key).status == 201)
            let reused = try await client.post("/v1/users", Fixtures.completeIndividual(), key: key)
            #expect(reused.status == 409)
            #expect(reused.code == "idempotency_key_reused")
        }
    }

    @Test func keyOrderDoesNotMakeABodyDifferent() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let client = try await sandbox.client()
            let key = newKey()
            let body = try #require(Fixtures.completeIndividual().objectValue)
            let reversed = JSONObject(body.entries.reversed().map { ($0.key, $0.value) })
            #expect(try await client.post("/v1/users", .object(body), key: key).status == 201)
            #expect(try await client.post("/v1/users", .object(reversed), key: key).header("idempotent-replayed") == "true")
        }
    }

    @Test(arguments: ["/v1/users", "/v1/virtual-accounts", "/v1/recipients"])
    func theKeyIsRequired(path: String) async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let client = try await sandbox.client()
            let reply = try await client.post(path, ["anything": true])
            #expect(reply.status == 400)
            #expect(reply.json == ["code": "validation_error", "message": "Idempotency key is required"])
        }
    }

    @Test func keysExpireAfter24Hours() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            var client = try await sandbox.client()
            let key = newKey()
            #expect(try await client.post("/v1/users", Fixtures.completeIndividual(), key: key).status == 201)
            try await sandbox.advance(24 * 3600 + 1)
            client = try await sandbox.client()
            // The key is free again: a different body under it is a new request, not a conflict.
            #expect(try await client.post("/v1/users", Fixtures.completeIndividual(), key: key).status == 201)
        }
    }

    @Test func keysAreScopedToTheTenant() async throws {
        let other = TenantCredentials(apiKey: "other-key", clientID: "11111111-2222-4333-8444-555555555555", password: "pw")
        try await LiveSandbox.with(SandboxConfiguration(tenants: [.demo, other]), on: .timing) { sandbox in
            let demo = try await sandbox.client()
            let second = try await sandbox.client(other)
            let key = newKey()
            let body = Fixtures.completeIndividual(email: "shared@example.com")
            let mine = try await demo.post("/v1/users", body, key: key)
            let theirs = try await second.post("/v1/users", body, key: key)
            #expect(mine.status == 201)
            #expect(theirs.status == 201)
            #expect(theirs.header("idempotent-replayed") == nil)
            #expect(theirs.json["id"] != mine.json["id"])
        }
    }

    @Test func fiftyParallelCreatesWithOneKeyCreateOneUser() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let client = try await sandbox.client()
            let key = newKey()
            let body = Fixtures.completeIndividual()
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<50 { group.addTask { try await client.post("/v1/users", body, key: key) } }
                return try await group.reduce(into: [Reply]()) { $0.append($1) }
            }
            #expect(replies.count == 50)
            #expect(replies.allSatisfy { $0.status == 201 })
            #expect(Set(replies.compactMap { $0.json["id"]?.stringValue }).count == 1)
            #expect(replies.filter { $0.header("idempotent-replayed") == nil }.count == 1)
            let state = try await sandbox.control("GET", "state").json
            #expect(state["tenants"]?.arrayValue?.first?["users"] == 1)
        }
    }

    @Test func parallelCreatesWithDistinctKeysAllLand() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let client = try await sandbox.client()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<40 { group.addTask { _ = try await client.createUser() } }
                try await group.waitForAll()
            }
            #expect(try await client.get("/v1/users").json["pagination"]?["total"] == 40)
        }
    }
}

/// Tenants never see each other's resources.
@Suite struct TenantIsolationTests {
    static let other = TenantCredentials(apiKey: "other-key", clientID: "11111111-2222-4333-8444-555555555555", password: "pw")

    @Test func anotherTenantsResourcesAre404AndPayouts403() async throws {
        try await LiveSandbox.with(SandboxConfiguration(tenants: [.demo, Self.other]), on: .timing) { sandbox in
            let demo = try await sandbox.client()
            let intruder = try await sandbox.client(Self.other)
            let (user, account) = try await demo.readyAccount()
            let recipient = try await demo.recipient(user: user)
            let payout = try await demo.post(
                "/v1/virtual-accounts/\(account)/payout", ["recipient_id": .string(recipient), "amount": "10.00"], key: newKey()
            )
            let payoutID = try #require(payout.json["payout_id"]?.stringValue)
            #expect(try await intruder.get("/v1/users/\(user)").status == 404)
            #expect(try await intruder.get("/v1/virtual-accounts/\(account)").status == 404)
            #expect(try await intruder.get("/v1/virtual-accounts/\(account)/balance").status == 404)
            #expect(try await intruder.get("/v1/recipients/\(recipient)").status == 404)
            #expect(try await intruder.post("/v1/virtual-accounts/\(account)/simulate-deposit", ["amount": "1.00"]).status == 404)
            let foreignPayout = try await intruder.get("/v1/payouts/\(payoutID)")
            #expect(foreignPayout.status == 403)
            #expect(foreignPayout.code == "forbidden")
            #expect(try await intruder.get("/v1/users").json["pagination"]?["total"] == 0)
            #expect(try await intruder.get("/v1/virtual-accounts").json["data"] == [])
            #expect(try await intruder.get("/v1/recipients").json["total"] == 0)
            // Creating a VA for another tenant's user: that user does not exist here.
            #expect(try await intruder.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey()).status == 404)
            let counts = try await sandbox.control("GET", "state").json["tenants"]?.arrayValue ?? []
            #expect(counts.map { $0["users"] } == [1, 0])
        }
    }
}
