import AsyncHTTPClient
import Foundation
import KiraJSON
import KiraTestSupport
import NIOCore
import Testing

@testable import KiraSandbox

/// `POST /__emulator/faults`: each kind, over a real socket.
@Suite struct FaultTests {
    @Test func statusFaultWithRetryAfterHitsOnlyTheNextN() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let added = try await sandbox.control(
                "POST", "faults", ["method": "GET", "path": "/v1/users", "count": 2, "kind": "status", "status": 503, "retry_after": 7]
            )
            #expect(added.status == 201)
            let first = try await client.get("/v1/users")
            #expect(first.status == 503)
            #expect(first.header("retry-after") == "7")
            #expect(try await client.get("/v1/users").status == 503)
            #expect(try await client.get("/v1/users").status == 200)
        }
    }

    @Test func a429WithRetryAfterAndACustomBody() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            _ = try await sandbox.control(
                "POST", "faults",
                ["path": "/v1/users", "kind": "status", "status": 429, "retry_after": 2, "body": ["message": "Too Many Requests"]]
            )
            let reply = try await client.post("/v1/users", Fixtures.completeIndividual(), key: newKey())
            #expect(reply.status == 429)
            #expect(reply.header("retry-after") == "2")
            #expect(reply.json == ["message": "Too Many Requests"])
            // The faulted request did not reach the API: nothing was created.
            #expect(try await client.get("/v1/users").json["pagination"]?["total"] == 0)
        }
    }

    @Test func anHTMLBadGateway() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            _ = try await sandbox.control("POST", "faults", ["path": "/v1/users/*", "kind": "html"])
            let reply = try await client.get("/v1/users/\(newKey())")
            #expect(reply.status == 502)
            #expect(reply.header("content-type") == "text/html")
            #expect(reply.text.contains("<title>502 Bad Gateway</title>"))
            #expect(reply.json == .null)
        }
    }

    @Test func malformedJSON() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            _ = try await sandbox.control("POST", "faults", ["method": "POST", "path": "/auth", "kind": "malformed_json"])
            let reply = try await sandbox.raw("POST", "/auth", headers: client.authHeaders, body: Array("{}".utf8))
            #expect(reply.status == 200)
            #expect(reply.header("content-type") == "application/json")
            #expect((try? JSONValue.parse(reply.bytes)) == nil)
        }
    }

    /// The client gives up once the emulator has handled the request (its state shows the user),
    /// not after a fixed time: a fixed 300 ms could pass before a loaded machine even read the
    /// request, and then the retry met the delay itself and created the user anew.
    @Test func aDelayedResponseStillHappened() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let client = try await sandbox.client()
            _ = try await sandbox.control("POST", "faults", ["method": "POST", "path": "/v1/users", "kind": "delay", "delay_ms": 6000])
            let key = newKey()
            let body = Fixtures.completeIndividual()
            let headers = client.authHeaders + [("content-type", "application/json"), ("idempotency-key", key)]
            let late = Task(executorPreference: TestThreads.timing) {
                try await sandbox.raw("POST", "/v1/users", headers: headers, body: body.serialized())
            }
            var handled = false
            let deadline = ContinuousClock.now + .seconds(30)
            while !handled, ContinuousClock.now < deadline {
                handled = try await sandbox.demoCounts()["users"]?.intValue == 1
                if !handled { try await TestThreads.sleep(for: .milliseconds(20)) }
            }
            try #require(handled, "the emulator never handled the first request")
            late.cancel()
            await #expect(throws: (any Error).self) { _ = try await late.value }
            // The request was processed even though the answer came too late: a retry with the same
            // key replays it instead of creating a second user.
            let retry = try await client.post("/v1/users", body, key: key)
            #expect(retry.status == 201)
            #expect(retry.header("idempotent-replayed") == "true")
            #expect(try await client.get("/v1/users").json["pagination"]?["total"] == 1)
        }
    }

    @Test func aDroppedConnection() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            _ = try await sandbox.control("POST", "faults", ["method": "GET", "path": "/v1/users", "kind": "drop"])
            await #expect(throws: (any Error).self) { _ = try await client.get("/v1/users") }
            #expect(try await client.get("/v1/users").status == 200)
        }
    }

    @Test func faultsAreListedAndCleared() async throws {
        try await LiveSandbox.with { sandbox in
            _ = try await sandbox.control("POST", "faults", ["path": "/v1/users", "kind": "status", "status": 500, "count": 3])
            let listed = try await sandbox.control("GET", "faults").json["faults"]?.arrayValue ?? []
            #expect(listed.count == 1)
            #expect(listed.first?["remaining"] == 3)
            _ = try await sandbox.control("DELETE", "faults")
            #expect(try await sandbox.control("GET", "faults").json["faults"] == [])
            let invalid = try await sandbox.control("POST", "faults", ["path": "/v1/users", "kind": "status"])
            #expect(invalid.status == 400)
            let unknownKind = try await sandbox.control("POST", "faults", ["path": "/v1/users", "kind": "explode"])
            #expect(unknownKind.status == 400)
        }
    }
}

/// `/__emulator/` controls: state, provision, reset, clock, admin token.
@Suite struct OperatorControlTests {
    @Test func provisionGivesAVerifiedUserAReadyAccountAndARecipient() async throws {
        try await LiveSandbox.with { sandbox in
            let reply = try await sandbox.control("POST", "provision")
            #expect(reply.status == 201)
            let ids = reply.json
            let client = try await sandbox.client()
            let user = try #require(ids["user_id"]?.stringValue)
            let account = try #require(ids["virtual_account_id"]?.stringValue)
            let recipient = try #require(ids["recipient_id"]?.stringValue)
            #expect(try await client.get("/v1/users/\(user)").json["status"] == "VERIFIED")
            #expect(try await client.get("/v1/virtual-accounts/\(account)/balance").status == 200)
            #expect(try await client.get("/v1/recipients/\(recipient)").json["account"]?["account_type"] == "SWIFT")
            // Usable at once for step 6 and 7.
            #expect(try await client.post("/v1/virtual-accounts/\(account)/simulate-deposit", ["amount": "100.00"]).status == 201)
            let payout = try await client.post(
                "/v1/virtual-accounts/\(account)/payout", ["recipient_id": .string(recipient), "amount": "50.00"], key: newKey()
            )
            #expect(payout.status == 201)
        }
    }

    @Test func stateCountsPerTenantAndResetEmptiesIt() async throws {
        try await LiveSandbox.with { sandbox in
            _ = try await sandbox.control("POST", "provision")
            let state = try await sandbox.control("GET", "state").json
            let tenant = try #require(state["tenants"]?.arrayValue?.first)
            #expect(tenant["client_id"]?.stringValue == sandbox.demo.clientID)
            #expect(tenant["users"] == 1)
            #expect(tenant["virtual_accounts"] == 1)
            #expect(tenant["recipients"] == 1)
            #expect(tenant["payouts"] == 0)
            #expect(tenant["deposits"] == 0)
            #expect(try await sandbox.control("POST", "reset").status == 200)
            let after = try await sandbox.control("GET", "state").json["tenants"]?.arrayValue?.first
            #expect(after?["users"] == 0)
            #expect(after?["virtual_accounts"] == 0)
        }
    }

    @Test func theClockOnlyMovesForward() async throws {
        try await LiveSandbox.with { sandbox in
            let moved = try await sandbox.control("POST", "clock", ["advance_seconds": 90])
            #expect(moved.status == 200)
            #expect(moved.json["offset_seconds"]?.doubleValue == 90)
            #expect(try await sandbox.control("POST", "clock", ["advance_seconds": -5]).status == 400)
        }
    }

    @Test func anAdminTokenGuardsTheControls() async throws {
        try await LiveSandbox.with(SandboxConfiguration(adminToken: "let-me-in")) { sandbox in
            let anonymous = try await sandbox.control("GET", "state")
            #expect(anonymous.status == 401)
            #expect(try await sandbox.control("GET", "state", headers: [("x-admin-token", "wrong")]).status == 401)
            #expect(try await sandbox.control("GET", "state", headers: [("x-admin-token", "let-me-in")]).status == 200)
        }
    }

    @Test func aNonLoopbackHostNeedsAnAdminToken() throws {
        let open = try SandboxState()
        #expect(throws: SandboxServerError.self) { _ = try SandboxServer(state: open, host: "0.0.0.0", port: 0) }
        let guarded = try SandboxState(configuration: SandboxConfiguration(adminToken: "t"))
        // These two must not throw: the test fails if they do.
        _ = try SandboxServer(state: guarded, host: "0.0.0.0", port: 0)
        _ = try SandboxServer(state: open, host: "127.0.0.1", port: 0)
    }
}

/// `--state-file`: durable state across restarts, bounded memory over long runs.
@Suite struct DurabilityTests {
    func temporaryPath() -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kira-sandbox-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("state.json").path
    }

    @Test func stateSurvivesARestart() async throws {
        let path = temporaryPath()
        let configuration = SandboxConfiguration(stateFile: path)
        let (user, account, key) = try await LiveSandbox.with(configuration) { sandbox in
            let client = try await sandbox.client()
            #expect(try await client.post("/v1/versioning/upgrade", ["target_version": "2026-04-14"]).status == 200)
            let key = newKey()
            let created = try await client.post("/v1/users", Fixtures.completeIndividual(email: "kept@example.com"), key: key)
            let user = try #require(created.json["id"]?.stringValue)
            _ = try await sandbox.control("POST", "users/\(user)/verify")
            let va = try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
            return (user, try #require(va.json["id"]?.stringValue), key)
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(TenantCredentials.demo.password))
        #expect(!text.contains(TenantCredentials.demo.apiKey))
        #expect(!text.contains("kat_"), "tokens are never written")

        try await LiveSandbox.with(configuration) { sandbox in
            let client = try await sandbox.client()
            let fetched = try await client.get("/v1/users/\(user)")
            #expect(fetched.json["status"] == "VERIFIED")
            #expect(fetched.header("x-api-version") == "2026-04-14", "the pin survived")
            // The pending readiness transition survived too.
            try await sandbox.advance(9)
            #expect(try await client.get("/v1/virtual-accounts/\(account)/balance").status == 200)
            // And so did the idempotency record.
            let replay = try await client.post("/v1/users", Fixtures.completeIndividual(email: "kept@example.com"), key: key)
            #expect(replay.header("idempotent-replayed") == "true")
            #expect(try await client.post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey()).status == 409)
        }
    }

    @Test func aCorruptOrNewerStateFileIsRefusedAndLeftAlone() throws {
        let path = temporaryPath()
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: SandboxStateFileError.self) { _ = try SandboxState(configuration: SandboxConfiguration(stateFile: path)) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{not json")
        try Data(#"{"schema_version": 99, "tenants": {}}"#.utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try SandboxState(configuration: SandboxConfiguration(stateFile: path))
            Issue.record("a newer schema must be refused")
        } catch {
            #expect("\(error)".contains("newer"))
        }
    }

    @Test func resourcesOfTenantsNotConfiguredThisRunAreKept() async throws {
        let path = temporaryPath()
        let other = TenantCredentials(apiKey: "other-key", clientID: "11111111-2222-4333-8444-555555555555", password: "pw")
        let user = try await LiveSandbox.with(SandboxConfiguration(stateFile: path)) { sandbox in
            try await sandbox.client().createUser()
        }
        // A run with only another tenant must not wipe the demo tenant's data…
        try await LiveSandbox.with(SandboxConfiguration(tenants: [other], stateFile: path)) { sandbox in
            _ = try await sandbox.client(other).createUser()
        }
        // …which the next run with the demo tenant finds again.
        try await LiveSandbox.with(SandboxConfiguration(stateFile: path)) { sandbox in
            let found = try await sandbox.client().get("/v1/users/\(user)")
            #expect(found.status == 200)
        }
    }

    @Test func anUnwritableStateFileFailsAtStart() {
        let path = "/proc/definitely/not/writable/state.json"
        #expect(throws: SandboxStateFileError.self) { _ = try SandboxState(configuration: SandboxConfiguration(stateFile: path)) }
    }

    @Test func recordsStayBoundedOverLongRuns() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let state = try SandboxState(configuration: SandboxConfiguration(recordLimit: 50), clock: .fixed(at: testEpoch))
            let demo = TenantCredentials.demo
            let auth = await state.call(
                "POST", "/sandbox/auth", headers: ["x-api-key": demo.apiKey],
                body: ["client_id": .string(demo.clientID), "password": .string(demo.password)]
            )
            let token = try #require(auth.json["data"]?["access_token"]?.stringValue)
            var lastID = ""
            for index in 0..<500 {
                let response = await state.call(
                    "POST", "/sandbox/v1/users",
                    headers: ["x-api-key": demo.apiKey, "authorization": "Bearer \(token)", "idempotency-key": newKey()],
                    body: Fixtures.completeIndividual(email: "u\(index)@example.com")
                )
                #expect(response.status == 201)
                lastID = response.json["id"]?.stringValue ?? ""
            }
            let summary = await state.stateSummary()
            #expect(summary["tenants"]?.arrayValue?.first?["users"] == 50)
            let counts = await state.tenants[demo.clientID]!.resources
            #expect(counts.idempotency.count == 50)
            #expect(counts.userByEmail.count == 50)
            #expect(counts.users[lastID] != nil, "the newest are kept")
            #expect(await state.webhookLog.count <= state.configuration.webhookLogLimit)

        }
    }
}
