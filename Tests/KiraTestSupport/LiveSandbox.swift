import AsyncHTTPClient
import Foundation
import KiraClient
import KiraJSON
import KiraSandbox
import NIOCore
import NIOHTTP1
import Testing

/// A response as a test sees it.
package struct Reply: Sendable {
    package var status: Int
    package var headers: HTTPHeaders
    package var bytes: [UInt8]

    /// The body parsed as JSON (`.null` when it is not JSON).
    package var json: JSONValue { (try? JSONValue.parse(bytes)) ?? .null }
    package var text: String { String(decoding: bytes, as: UTF8.self) }
    package func header(_ name: String) -> String? { headers.first(name: name) }
    package var code: String? { json["code"]?.stringValue }
    package var message: String? { json["message"]?.stringValue }
}

/// A fixed start for the injected clock, so timestamps and expiry are deterministic.
package let testEpoch = Date(timeIntervalSince1970: 1_800_000_000)

/// The API version the quickstart pins.
package let apiVersion = "2026-04-14"

/// A fresh idempotency key.
package func newKey() -> String { UUID().uuidString.lowercased() }

/// An emulator listening on a free loopback port for the duration of a test.
package struct LiveSandbox: Sendable {
    package let state: SandboxState
    package let address: SandboxAddress
    /// The threads the emulator and the test run on (see `TestThreads`).
    package let threads: TestThreads
    package var baseURL: String { address.baseURL }
    package var rootURL: String { "http://\(address.host):\(address.port)" }
    package let demo = TenantCredentials.demo

    /// Runs `body` against a fresh emulator, stopping it afterwards (also when `body` throws).
    ///
    /// The emulator and `body` run on `threads` (see `TestThreads`): `.timing` for a test whose
    /// expectations are about time, so that they hold however busy the other tests keep the
    /// machine; `.computing`, the default, for the rest, which are many and start all at once.
    package static func with<T: Sendable>(
        _ configuration: SandboxConfiguration = SandboxConfiguration(),
        clock: SandboxClock = .fixed(at: testEpoch),
        on threads: TestThreads = .computing,
        _ body: (LiveSandbox) async throws -> T
    ) async throws -> T {
        try await withTaskExecutorPreference(threads) {
            let state = try SandboxState(configuration: configuration, clock: clock)
            let server = try SandboxServer(state: state, host: "127.0.0.1", port: 0, sleep: TestThreads.sleeper)
            let running = try await server.start(on: threads)
            do {
                let result = try await body(LiveSandbox(state: state, address: running.address, threads: threads))
                await running.stop()
                return result
            } catch {
                await running.stop()
                throw error
            }
        }
    }

    /// Any request, with exactly the headers given.
    ///
    /// The default timeout only bounds how long a failing test takes: tests of what the emulator
    /// answers must not fail because a parallel run on two cores answered slowly (fifty parallel
    /// creates passed 10 s in such a run). Tests of timeouts give their own.
    package func raw(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil, root: Bool = false,
        timeout: TimeAmount = .seconds(60)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: (root ? rootURL : baseURL) + path)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        // The deadline kept on time however busy the pool is (see `Deadline`).
        let limit = Duration.nanoseconds(timeout.nanoseconds)
        let sending = request
        return try await Deadline.race(limit, on: HTTPClient.shared.eventLoopGroup.any(), executor: threads) {
            let response = try await HTTPClient.shared.execute(sending, timeout: timeout)
            let bytes = Array(buffer: try await response.body.collect(upTo: 8 << 20))
            return Reply(status: Int(response.status.code), headers: response.headers, bytes: bytes)
        }
    }

    /// `POST /auth` for `tenant`; returns the access token.
    package func token(for tenant: TenantCredentials = .demo) async throws -> String {
        let reply = try await raw(
            "POST", "/auth", headers: [("x-api-key", tenant.apiKey), ("content-type", "application/json")],
            body: JSONValue.object(["client_id": .string(tenant.clientID), "password": .string(tenant.password)]).serialized()
        )
        #expect(reply.status == 200, "auth failed: \(reply.text)")
        return try #require(reply.json["data"]?["access_token"]?.stringValue)
    }

    /// A client of the API as one tenant: api key and bearer on every call.
    package func client(_ tenant: TenantCredentials = .demo) async throws -> APIClient {
        APIClient(sandbox: self, tenant: tenant, token: try await token(for: tenant))
    }

    /// Calls an `/__emulator/` control.
    @discardableResult
    package func control(_ method: String, _ path: String, _ body: JSONValue? = nil, headers: [(String, String)] = []) async throws
        -> Reply
    {
        try await raw(
            method, "/__emulator/" + path, headers: [("content-type", "application/json")] + headers,
            body: body?.serialized(), root: true
        )
    }

    /// Advances the emulator's clock through its control.
    package func advance(_ seconds: Double) async throws {
        let reply = try await control("POST", "clock", ["advance_seconds": .number(String(seconds))])
        #expect(reply.status == 200)
    }

    /// Injects a fault through `POST /__emulator/faults`.
    package func fault(_ fault: JSONValue) async throws {
        let reply = try await control("POST", "faults", fault)
        #expect(reply.status == 201, "fault not added: \(reply.text)")
    }

    /// How many times each injected fault can still fire, in the order they were added.
    package func remainingFaults() async throws -> [Int] {
        let reply = try await control("GET", "faults")
        return (reply.json["faults"]?.arrayValue ?? []).compactMap { $0["remaining"]?.intValue }
    }

    /// The demo tenant's counts from `GET /__emulator/state`.
    package func demoCounts() async throws -> JSONValue {
        let reply = try await control("GET", "state")
        let tenants = reply.json["tenants"]?.arrayValue ?? []
        return try #require(tenants.first { $0["client_id"]?.stringValue == demo.clientID })
    }
}

/// Calls as one authenticated tenant.
package struct APIClient: Sendable {
    package let sandbox: LiveSandbox
    package let tenant: TenantCredentials
    package var token: String

    package var authHeaders: [(String, String)] { [("x-api-key", tenant.apiKey), ("authorization", "Bearer \(token)")] }

    package func get(_ path: String, headers: [(String, String)] = []) async throws -> Reply {
        try await sandbox.raw("GET", path, headers: authHeaders + headers)
    }

    /// A POST with a JSON body; `key` is the Idempotency-Key (`nil` sends none).
    package func post(_ path: String, _ body: JSONValue, key: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        var all = authHeaders + [("content-type", "application/json")] + headers
        if let key { all.append(("idempotency-key", key)) }
        return try await sandbox.raw("POST", path, headers: all, body: body.serialized())
    }

    /// Creates a user with a fresh key and returns its id.
    package func createUser(_ body: JSONValue = Fixtures.completeIndividual()) async throws -> String {
        let reply = try await post("/v1/users", body, key: newKey())
        #expect(reply.status == 201, "create user: \(reply.text)")
        return try #require(reply.json["id"]?.stringValue)
    }

    /// Creates a user and has the operator verify it.
    package func verifiedUser() async throws -> String {
        let id = try await createUser()
        let reply = try await sandbox.control("POST", "users/\(id)/verify")
        #expect(reply.status == 200)
        return id
    }

    /// A verified user with a virtual account that is ready (the clock is advanced past readiness).
    package func readyAccount() async throws -> (user: String, account: String) {
        let user = try await verifiedUser()
        let reply = try await post("/v1/virtual-accounts", Fixtures.virtualAccount(user: user), key: newKey())
        #expect(reply.status == 201, "create VA: \(reply.text)")
        let account = try #require(reply.json["id"]?.stringValue)
        try await sandbox.advance(sandbox.state.configuration.virtualAccountReadyAfter.secondsValue + 1)
        return (user, account)
    }

    /// Creates a recipient on `rail` for `user`.
    package func recipient(user: String, rail: String = "SWIFT") async throws -> String {
        let reply = try await post("/v1/recipients", Fixtures.recipient(user: user, rail: rail), key: newKey())
        #expect(reply.status == 201, "create recipient: \(reply.text)")
        return try #require(reply.json["recipient_id"]?.stringValue)
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    package var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Request bodies that pass validation.
package enum Fixtures {
    package static func completeIndividual(email: String = "ada.\(UUID().uuidString.prefix(8).lowercased())@example.com") -> JSONValue {
        [
            "type": "individual", "first_name": "Ada", "last_name": "Lovelace", "email": .string(email),
            "birth_date": "1990-12-10", "phone": "+14155550123", "nationality": "USA", "address_street": "1 Main St",
            "address_city": "Springfield", "address_state": "IL", "address_zip_code": "62701", "address_country": "USA",
            "document_type": "passport", "document_number": "X1234567", "document_country": "USA",
            "employment_status": "employed", "occupation": "Engineer", "account_purpose": "receive_payments",
            "source_of_funds": "salary", "gender": "female", "pep_status": "not_pep",
            "identifying_information": .array(identifyingInformation()),
        ]
    }

    /// The `identifying_information` a complete individual needs: an SSN, a passport with its
    /// front image (a real JPEG) and a proof of address (a real PNG), both 240×240.
    package static func identifyingInformation(
        passportFront: String = goodJPEG, proofOfAddress: String = goodPNG
    ) -> [JSONValue] {
        [
            ["type": "ssn", "issuing_country": "USA", "number": "123-45-6789"],
            ["type": "passport", "issuing_country": "USA", "number": "X1234567", "image_front": .string(passportFront)],
            ["type": "file_proof_of_address", "file": .string(proofOfAddress)],
        ]
    }

    /// `TestImages.goodJPEG`, made once.
    package static let goodJPEG = TestImages.goodJPEG

    /// `TestImages.goodPNG`, made once.
    package static let goodPNG = TestImages.goodPNG

    package static func virtualAccount(user: String) -> JSONValue {
        ["user_id": .string(user), "type": "US_BANK", "provider": "act", "bank": "slovak_savings_bank", "mode": "fiat"]
    }

    package static func recipient(user: String, rail: String = "SWIFT") -> JSONValue {
        var account: JSONObject = [
            "account_type": .string(rail), "account_number": "GB29NWBK60161331926819", "bank_name": "NatWest",
            "bank_address": ["street_name": "250 Bishopsgate", "city": "London", "country": "GB"],
        ]
        if rail == "SWIFT" { account["swift_code"] = "NWBKGB2L" } else { account["routing_number"] = "021000021" }
        return [
            "type": "individual", "user_id": .string(user), "first_name": "Grace", "last_name": "Hopper",
            "email": "grace@example.com", "phone": "+442071234567",
            "address": ["street_name": "10 Downing St", "city": "London", "postal_code": "SW1A 2AA", "country": "GB"],
            "account": .object(account),
        ]
    }
}
