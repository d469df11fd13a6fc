import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// Step 2 and Q-AUTH-HEADERS, Q-TOKEN-TTL, over a loopback socket.
@Suite struct AuthTests {
    @Test func authWrapsTheTokenInTheSuccessEnvelope() async throws {
        try await LiveSandbox.with { sandbox in
            let demo = sandbox.demo
            let reply = try await sandbox.raw(
                "POST", "/auth", headers: [("x-api-key", demo.apiKey), ("content-type", "application/json")],
                body: JSONValue.object(["client_id": .string(demo.clientID), "password": .string(demo.password)]).serialized()
            )
            #expect(reply.status == 200)
            #expect(reply.json["message"]?.stringValue == "Auth token")
            #expect(reply.json["data"]?["expires_in"]?.intValue == 3600)
            #expect(reply.json["data"]?["token_type"]?.stringValue == "Bearer")
            #expect((reply.json["data"]?["access_token"]?.stringValue?.count ?? 0) > 20)
        }
    }

    @Test func authNeedsTheApiKey() async throws {
        try await LiveSandbox.with { sandbox in
            let body = JSONValue.object(["client_id": .string(sandbox.demo.clientID), "password": .string(sandbox.demo.password)])
            let missing = try await sandbox.raw("POST", "/auth", headers: [("content-type", "application/json")], body: body.serialized())
            #expect(missing.status == 403)
            #expect(missing.json == ["message": "Forbidden"])
            let wrong = try await sandbox.raw("POST", "/auth", headers: [("x-api-key", "nope")], body: body.serialized())
            #expect(wrong.status == 403)
        }
    }

    @Test func badAuthInputIsA422AndWrongCredentialsA401() async throws {
        try await LiveSandbox.with { sandbox in
            let headers = [("x-api-key", sandbox.demo.apiKey), ("content-type", "application/json")]
            let notUUID = try await sandbox.raw("POST", "/auth", headers: headers, body: Array(#"{"client_id":"abc","password":"x"}"#.utf8))
            #expect(notUUID.status == 422)
            #expect(notUUID.json["message"]?.stringValue == "Invalid input data")
            #expect(notUUID.json["data"]?.arrayValue?.first?["loc"] == ["body", "client_id"])
            let malformed = try await sandbox.raw("POST", "/auth", headers: headers, body: Array("{nope".utf8))
            #expect(malformed.status == 422)
            let missing = try await sandbox.raw(
                "POST", "/auth", headers: headers, body: Array(#"{"client_id":"\#(sandbox.demo.clientID)"}"#.utf8))
            #expect(missing.status == 422)
            #expect(missing.json["data"]?.arrayValue?.first?["type"]?.stringValue == "missing")
            let wrong = try await sandbox.raw(
                "POST", "/auth", headers: headers,
                body: JSONValue.object(["client_id": .string(sandbox.demo.clientID), "password": "wrong"]).serialized()
            )
            #expect(wrong.status == 401)
            #expect(wrong.json == ["code": "unauthorized", "message": "Invalid client credentials"])
        }
    }

    @Test func v1CallsNeedApiKeyAndBearer() async throws {
        try await LiveSandbox.with { sandbox in
            let token = try await sandbox.token()
            let noKey = try await sandbox.raw("GET", "/v1/users", headers: [("authorization", "Bearer \(token)")])
            #expect(noKey.status == 403)
            #expect(noKey.json == ["message": "Forbidden"])
            let noBearer = try await sandbox.raw("GET", "/v1/users", headers: [("x-api-key", sandbox.demo.apiKey)])
            #expect(noBearer.status == 401)
            #expect(noBearer.json == ["code": "unauthorized", "message": "No authorization token provided"])
            let unknown = try await sandbox.raw(
                "GET", "/v1/users", headers: [("x-api-key", sandbox.demo.apiKey), ("authorization", "Bearer kat_nope")])
            #expect(unknown.status == 401)
            #expect(unknown.message == "Token expired")
            let both = try await sandbox.raw(
                "GET", "/v1/users", headers: [("x-api-key", sandbox.demo.apiKey), ("authorization", "Bearer \(token)")])
            #expect(both.status == 200)
        }
    }

    @Test func tokensExpireWithTheClock() async throws {
        try await LiveSandbox.with(SandboxConfiguration(tokenTTL: .seconds(120))) { sandbox in
            let client = try await sandbox.client()
            #expect(try await client.get("/v1/users").status == 200)
            try await sandbox.advance(119)
            #expect(try await client.get("/v1/users").status == 200)
            try await sandbox.advance(2)
            let expired = try await client.get("/v1/users")
            #expect(expired.status == 401)
            #expect(expired.json == ["code": "unauthorized", "message": "Token expired"])
            // Refreshing is calling /auth again.
            let fresh = try await sandbox.client()
            #expect(try await fresh.get("/v1/users").status == 200)
        }
    }

    @Test func expiresInFollowsTheConfiguredTTL() async throws {
        try await LiveSandbox.with(SandboxConfiguration(tokenTTL: .seconds(90))) { sandbox in
            let demo = sandbox.demo
            let reply = try await sandbox.raw(
                "POST", "/auth", headers: [("x-api-key", demo.apiKey)],
                body: JSONValue.object(["client_id": .string(demo.clientID), "password": .string(demo.password)]).serialized()
            )
            #expect(reply.json["data"]?["expires_in"]?.intValue == 90)
        }
    }

    @Test func aTokenOnlyWorksWithItsOwnTenantsKey() async throws {
        let other = TenantCredentials(apiKey: "other-key", clientID: "11111111-2222-4333-8444-555555555555", password: "pw")
        try await LiveSandbox.with(SandboxConfiguration(tenants: [.demo, other])) { sandbox in
            let demoToken = try await sandbox.token()
            let mixed = try await sandbox.raw(
                "GET", "/v1/users", headers: [("x-api-key", other.apiKey), ("authorization", "Bearer \(demoToken)")])
            #expect(mixed.status == 401)
            // A tenant's password does not open another tenant.
            let crossed = try await sandbox.raw(
                "POST", "/auth", headers: [("x-api-key", other.apiKey)],
                body: JSONValue.object(["client_id": .string(sandbox.demo.clientID), "password": .string(sandbox.demo.password)])
                    .serialized()
            )
            #expect(crossed.status == 401)
        }
    }
}

/// Step 3: Q-PIN-FIELD, Q-VERSION-HEADER, forward-only pins, per-version vocabulary.
@Suite struct VersioningTests {
    @Test func pinningIsIdempotentAndEchoed() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let before = try await client.get("/v1/users")
            #expect(before.header("x-api-version") == "2025-01-01")
            let first = try await client.post("/v1/versioning/upgrade", ["target_version": "2026-04-14"])
            #expect(first.status == 200)
            #expect(first.json == ["previous_version": "2025-01-01", "current_version": "2026-04-14"])
            let again = try await client.post("/v1/versioning/upgrade", ["target_version": "2026-04-14"])
            #expect(again.status == 200)
            #expect(again.json == first.json)
            let after = try await client.get("/v1/users")
            #expect(after.header("x-api-version") == "2026-04-14")
        }
    }

    @Test func theFieldIsTargetVersion() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let wrongField = try await client.post("/v1/versioning/upgrade", ["version": "2026-04-14"])
            #expect(wrongField.status == 400)
            #expect(wrongField.code == "validation_error")
            #expect(wrongField.message?.contains("target_version") == true)
            let unknown = try await client.post("/v1/versioning/upgrade", ["target_version": "2030-01-01"])
            #expect(unknown.status == 400)
            #expect(unknown.message?.contains("target_version") == true)
        }
    }

    @Test func upgradesAreForwardOnly() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            #expect(try await client.post("/v1/versioning/upgrade", ["target_version": "2026-04-14"]).status == 200)
            let back = try await client.post("/v1/versioning/upgrade", ["target_version": "2025-01-01"])
            #expect(back.status == 400)
            #expect(
                back.json["message"]
                    == "target_version 2025-01-01 is older than the pinned version 2026-04-14; upgrades are forward-only"
            )
        }
    }

    @Test func headerBeatsPinBeatsBaseline() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let (_, account) = try await client.readyAccount()
            // Baseline: the raw upper-case enum.
            let baseline = try await client.get("/v1/virtual-accounts/\(account)")
            #expect(baseline.header("x-api-version") == "2025-01-01")
            #expect(baseline.json["status"] == "ACTIVE")
            // The header wins over the (absent) pin.
            let header = try await client.get("/v1/virtual-accounts/\(account)", headers: [("X-Api-Version", "2026-04-14")])
            #expect(header.header("x-api-version") == "2026-04-14")
            #expect(header.json["status"] == "approved")
            // The pin becomes the default…
            #expect(try await client.post("/v1/versioning/upgrade", ["target_version": "2026-04-14"]).status == 200)
            let pinned = try await client.get("/v1/virtual-accounts/\(account)")
            #expect(pinned.json["status"] == "approved")
            // …and the header still overrides it per request.
            let overridden = try await client.get("/v1/virtual-accounts/\(account)", headers: [("X-Api-Version", "2025-01-01")])
            #expect(overridden.header("x-api-version") == "2025-01-01")
            #expect(overridden.json["status"] == "ACTIVE")
        }
    }

    @Test func anUnknownVersionHeaderIsA400() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let reply = try await client.get("/v1/users", headers: [("X-Api-Version", "yesterday")])
            #expect(reply.status == 400)
            #expect(reply.code == "validation_error")
        }
    }

    @Test func pinsAreTenantScoped() async throws {
        let other = TenantCredentials(apiKey: "other-key", clientID: "11111111-2222-4333-8444-555555555555", password: "pw")
        try await LiveSandbox.with(SandboxConfiguration(tenants: [.demo, other])) { sandbox in
            let demo = try await sandbox.client()
            let second = try await sandbox.client(other)
            #expect(try await demo.post("/v1/versioning/upgrade", ["target_version": "2026-04-14"]).status == 200)
            #expect(try await second.get("/v1/users").header("x-api-version") == "2025-01-01")
        }
    }
}
