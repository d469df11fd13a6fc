import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// The gateway's rules and bad input: clear 4xx answers, never a crash, never a 500 except
/// Q-LIMIT-100.
@Suite struct GatewayAndBadInputTests {
    @Test func patchIsA403WithAMisleadingBody() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let id = try await client.createUser()
            let reply = try await sandbox.raw("PATCH", "/v1/users/\(id)", headers: client.authHeaders, body: Array("{}".utf8))
            #expect(reply.status == 403)
            #expect(reply.json == ["message": "Invalid key=value pair (missing equal-sign) in Authorization header"])
        }
    }

    @Test func wrongPathsOutsideV1AreForbidden() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            for path in ["/countries", "/v2/users", "/"] {
                let reply = try await client.get(path)
                #expect(reply.status == 403, "\(path)")
                #expect(reply.json == ["message": "Forbidden"])
            }
            let outsideSandbox = try await sandbox.raw("GET", "/elsewhere", root: true)
            #expect(outsideSandbox.status == 403)
            let unknownV1 = try await client.get("/v1/widgets")
            #expect(unknownV1.status == 404)
            #expect(unknownV1.code == "not_found")
        }
    }

    @Test(arguments: ["/v1/users", "/v1/virtual-accounts", "/v1/recipients", "/v1/virtual-accounts/{va}/deposits"])
    func limitAbove100IsARaw500(path: String) async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let (_, account) = try await client.readyAccount()
            let resolved = path.replacingOccurrences(of: "{va}", with: account)
            let reply = try await client.get("\(resolved)?limit=101")
            #expect(reply.status == 500)
            #expect(reply.json == ["status": "error", "message": "Internal server error"])
            #expect(try await client.get("\(resolved)?limit=100").status == 200)
            #expect(try await client.get("\(resolved)?limit=abc").status == 400)
            #expect(try await client.get("\(resolved)?offset=-1").status == 400)
        }
    }

    @Test func malformedBodiesAreClear400s() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            // A fresh key per request: a failed answer is kept under its key too, so reusing one key
            // with another body would be an idempotency_key_reused 409 (Q-IDEMPOTENCY).
            var headers: [(String, String)] { client.authHeaders + [("content-type", "application/json"), ("idempotency-key", newKey())] }
            let malformed = try await sandbox.raw("POST", "/v1/users", headers: headers, body: Array(#"{"type": "individual",}"#.utf8))
            #expect(malformed.status == 400)
            #expect(malformed.code == "invalid_json")
            #expect(malformed.message?.contains("line 1, column") == true)
            let array = try await sandbox.raw("POST", "/v1/users", headers: headers, body: Array("[1,2]".utf8))
            #expect(array.status == 400)
            #expect(array.message?.contains("JSON object") == true)
            let empty = try await sandbox.raw("POST", "/v1/users", headers: headers, body: [])
            #expect(empty.status == 400)
        }
    }

    @Test func wrongTypesAndMissingFieldsNameTheField() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try #require(Fixtures.completeIndividual().objectValue)
            body["first_name"] = 42
            let wrongType = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(wrongType.status == 400)
            #expect(wrongType.json["errors"]?.arrayValue?.first?["field"] == "first_name")
            body["first_name"] = nil
            let missing = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(missing.status == 400)
            #expect(missing.message == "first_name: Required")
            let badVAUser = try await client.post(
                "/v1/virtual-accounts", ["user_id": "nope", "type": "US_BANK", "bank": "slovak_savings_bank"], key: newKey())
            #expect(badVAUser.status == 400)
            #expect(badVAUser.json["errors"]?.arrayValue?.first?["field"] == "user_id")
        }
    }

    @Test func unknownFieldsAreIgnored() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try #require(Fixtures.completeIndividual().objectValue)
            body["favourite_colour"] = "teal"
            let reply = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(reply.status == 201)
            #expect(reply.json["favourite_colour"] == nil)
        }
    }

    @Test func bodiesOver1MiBAre413() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let big = JSONValue.object(["type": "individual", "padding": .string(String(repeating: "x", count: (1 << 20) + 10))])
            let reply = try await sandbox.raw(
                "POST", "/v1/users", headers: client.authHeaders + [("content-type", "application/json"), ("idempotency-key", newKey())],
                body: big.serialized()
            )
            #expect(reply.status == 413)
            #expect(reply.code == "payload_too_large")
            // The emulator is still fine afterwards.
            #expect(try await client.get("/v1/users").status == 200)
        }
    }

    @Test func aNonJSONContentTypeIs415() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let reply = try await sandbox.raw(
                "POST", "/v1/versioning/upgrade", headers: client.authHeaders + [("content-type", "application/x-www-form-urlencoded")],
                body: Array("target_version=2026-04-14".utf8)
            )
            #expect(reply.status == 415)
        }
    }

    @Test func healthIdentifiesTheEmulator() async throws {
        try await LiveSandbox.with { sandbox in
            for path in ["/healthz", "/sandbox/healthz"] {
                let reply = try await sandbox.raw("GET", path, root: true)
                #expect(reply.status == 200)
                #expect(reply.json["service"] == "kira-sandbox-emulator")
                #expect(reply.json["emulator"] == true)
            }
        }
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        try await LiveSandbox.with(SandboxConfiguration(rateLimit: 3)) { sandbox in
            let client = try await sandbox.client()  // one request in this second
            var statuses: [Int] = []
            for _ in 0..<3 { statuses.append(try await client.get("/v1/users").status) }
            #expect(statuses == [200, 200, 429])
            let limited = try await client.get("/v1/users")
            #expect(limited.header("retry-after") == "1")
            try await sandbox.advance(1)
            #expect(try await client.get("/v1/users").status == 200)
        }
    }

    /// In-process: a fuzz-like sweep of odd bodies through every POST route never yields a 5xx.
    @Test func oddBodiesNeverCauseA500() async throws {
        let state = try SandboxState(clock: .fixed(at: testEpoch))
        let demo = TenantCredentials.demo
        let auth = await state.call(
            "POST", "/sandbox/auth", headers: ["x-api-key": demo.apiKey],
            body: ["client_id": .string(demo.clientID), "password": .string(demo.password)]
        )
        let token = try #require(auth.json["data"]?["access_token"]?.stringValue)
        let headers = ["x-api-key": demo.apiKey, "authorization": "Bearer \(token)", "content-type": "application/json"]
        let id = newKey()
        let paths = [
            "/sandbox/v1/users", "/sandbox/v1/virtual-accounts", "/sandbox/v1/recipients", "/sandbox/v1/versioning/upgrade",
            "/sandbox/v1/virtual-accounts/\(id)/simulate-deposit", "/sandbox/v1/virtual-accounts/\(id)/payout/preview",
            "/sandbox/v1/virtual-accounts/\(id)/payout", "/sandbox/webhooks/register", "/sandbox/auth",
        ]
        let bodies: [[UInt8]] = [
            [], Array("null".utf8), Array("\"x\"".utf8), Array("{\"type\":null}".utf8), Array("{\"type\":[]}".utf8),
            Array("{\"user_id\":{}}".utf8), Array("{\"amount\":1e400}".utf8), Array("{\"a\":\"\\ud800\"}".utf8),
            Array(repeating: UInt8(ascii: "["), count: 5000), [0xFF, 0xFE],
            Array("{\"type\":\"individual\",\"email\":\"a@b.co\",\"first_name\":\"\",\"last_name\":\" \"}".utf8),
            Array("{\"recipient_id\":\"\(id)\",\"amount\":\"00000000000000000000001.00\"}".utf8),
        ]
        for path in paths {
            for body in bodies {
                var all = headers
                all["idempotency-key"] = newKey()
                let response = await state.handle(SandboxRequest(method: "POST", path: path, headers: all, body: body)).response
                #expect(response.status < 500, "\(path) with \(String(decoding: body.prefix(40), as: UTF8.self)) → \(response.status)")
                #expect((try? JSONValue.parse(response.body)) != nil)
            }
        }
    }
}
