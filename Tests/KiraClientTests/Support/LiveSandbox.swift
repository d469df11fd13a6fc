import AsyncHTTPClient
import Foundation
import KiraJSON
import NIOCore
import NIOHTTP1
import Testing

@testable import KiraClient
@testable import KiraSandbox
@testable import WalkthroughCore

// Copied from Tests/KiraSandboxTests/Support/LiveSandbox.swift (test targets cannot import each
// other) and trimmed to what the client tests need, plus the client-side harness.

/// A response as a test sees it, fetched beside the client under test.
struct Reply: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var bytes: [UInt8]

    /// The body parsed as JSON (`.null` when it is not JSON).
    var json: JSONValue { (try? JSONValue.parse(bytes)) ?? .null }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// A fixed start for the injected clock, so token expiry moves only when a test advances it.
let testEpoch = Date(timeIntervalSince1970: 1_800_000_000)

/// The API version the quickstart pins.
let apiVersion = "2026-04-14"

/// An emulator listening on a free loopback port for the duration of a test.
struct LiveSandbox: Sendable {
    let state: SandboxState
    let address: SandboxAddress
    var baseURL: String { address.baseURL }
    var rootURL: String { "http://\(address.host):\(address.port)" }
    let demo = TenantCredentials.demo

    /// Runs `body` against a fresh emulator, stopping it afterwards (also when `body` throws).
    static func with<T: Sendable>(
        _ configuration: SandboxConfiguration = SandboxConfiguration(),
        clock: SandboxClock = .fixed(at: testEpoch),
        _ body: (LiveSandbox) async throws -> T
    ) async throws -> T {
        let state = try SandboxState(configuration: configuration, clock: clock)
        let server = try SandboxServer(state: state, host: "127.0.0.1", port: 0)
        let running = try await server.start()
        do {
            let result = try await body(LiveSandbox(state: state, address: running.address))
            await running.stop()
            return result
        } catch {
            await running.stop()
            throw error
        }
    }

    /// Any request, with exactly the headers given (not through the client under test).
    func raw(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil, root: Bool = false,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: (root ? rootURL : baseURL) + path)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let bytes = Array(buffer: try await response.body.collect(upTo: 8 << 20))
        return Reply(status: Int(response.status.code), headers: response.headers, bytes: bytes)
    }

    /// `POST /auth` for the demo tenant, outside the client; returns the access token.
    func token() async throws -> String {
        let reply = try await raw(
            "POST", "/auth", headers: [("x-api-key", demo.apiKey), ("content-type", "application/json")],
            body: JSONValue.object(["client_id": .string(demo.clientID), "password": .string(demo.password)]).serialized()
        )
        #expect(reply.status == 200, "auth failed: \(reply.text)")
        return try #require(reply.json["data"]?["access_token"]?.stringValue)
    }

    /// Calls an `/__emulator/` control.
    @discardableResult
    func control(_ method: String, _ path: String, _ body: JSONValue? = nil, headers: [(String, String)] = []) async throws -> Reply {
        try await raw(
            method, "/__emulator/" + path, headers: [("content-type", "application/json")] + headers,
            body: body?.serialized(), root: true
        )
    }

    /// Injects a fault through `POST /__emulator/faults`.
    func fault(_ fault: JSONValue) async throws {
        let reply = try await control("POST", "faults", fault)
        #expect(reply.status == 201, "fault not added: \(reply.text)")
    }

    /// How many times each injected fault can still fire, in the order they were added.
    func remainingFaults() async throws -> [Int] {
        let reply = try await control("GET", "faults")
        return (reply.json["faults"]?.arrayValue ?? []).compactMap { $0["remaining"]?.intValue }
    }

    /// Advances the emulator's clock through its control.
    func advance(_ seconds: Double) async throws {
        let reply = try await control("POST", "clock", ["advance_seconds": .number(String(seconds))])
        #expect(reply.status == 200)
    }

    /// The demo tenant's counts from `GET /__emulator/state`.
    func demoCounts() async throws -> JSONValue {
        let reply = try await control("GET", "state")
        let tenants = reply.json["tenants"]?.arrayValue ?? []
        return try #require(tenants.first { $0["client_id"]?.stringValue == demo.clientID })
    }

    /// Runs `body` with a `KiraAPIClient` for this emulator, shutting it down afterwards (an
    /// `HTTPClient` dropped without `shutdown()` traps in debug builds).
    func withClient<T: Sendable>(
        _ configuration: KiraClientConfiguration = KiraClientConfiguration(),
        password: String? = nil,
        sleeps: SleepLog = SleepLog(),
        _ body: (KiraAPIClient) async throws -> T
    ) async throws -> T {
        let client = try KiraAPIClient(
            baseURL: baseURL, apiVersion: apiVersion, apiKey: demo.apiKey, clientID: demo.clientID,
            password: password ?? demo.password, configuration: configuration, sleep: sleeps.sleep
        )
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

/// Records every backoff the client asks for and returns at once, so retry tests never wait.
final class SleepLog: @unchecked Sendable {
    // Guarded by `lock`.
    private var recorded: [Duration] = []
    private let lock = NSLock()
    /// Runs instead of waiting (for example, moves the emulator's clock on by the same amount).
    private let instead: (@Sendable (Duration) async -> Void)?

    init(instead: (@Sendable (Duration) async -> Void)? = nil) {
        self.instead = instead
    }

    var durations: [Duration] { lock.withLock { recorded } }

    var sleep: @Sendable (Duration) async -> Void {
        { [self] duration in
            lock.withLock { recorded.append(duration) }
            await instead?(duration)
        }
    }
}

/// Requests as the walkthrough renders them.
enum Requests {
    static func listUsers(limit: Int = 5) -> RenderedRequest {
        RenderedRequest(
            stepID: "create_user", requestID: "list_users", label: "List users", method: "GET", path: "/v1/users?limit=\(limit)",
            auth: .bearer, idempotencyKey: nil, body: nil, repeatable: true
        )
    }

    static func getUser(_ id: String) -> RenderedRequest {
        RenderedRequest(
            stepID: "create_user", requestID: "user_verified", label: "Check the user", method: "GET", path: "/v1/users/\(id)",
            auth: .bearer, idempotencyKey: nil, body: nil, repeatable: true
        )
    }

    /// `POST /v1/users`; `key` nil sends no Idempotency-Key, and then it is not safe to repeat
    /// (as `FlowRequest.repeatable` decides: GET, an idempotency key, or `safe_to_repeat`).
    static func createUser(key: String?, body: JSONValue = completeIndividual()) -> RenderedRequest {
        RenderedRequest(
            stepID: "create_user", requestID: "create_user", label: "Create a user", method: "POST", path: "/v1/users",
            auth: .bearer, idempotencyKey: key, body: body, repeatable: key != nil
        )
    }

    /// `POST /v1/versioning/upgrade`: a POST without an Idempotency-Key that the flow marks
    /// `safe_to_repeat` (the upgrade is idempotent).
    static func pin(_ version: String = apiVersion) -> RenderedRequest {
        RenderedRequest(
            stepID: "pin_version", requestID: "pin", label: "Pin the API version", method: "POST", path: "/v1/versioning/upgrade",
            auth: .bearer, idempotencyKey: nil, body: ["target_version": .string(version)], repeatable: true
        )
    }

    /// The flow's own `POST /auth`, with the client id and password as secret references.
    static func auth() -> RenderedRequest {
        RenderedRequest(
            stepID: "authenticate", requestID: "auth", label: "Exchange client_id and password for an access token", method: "POST",
            path: "/auth", auth: .apiKey, idempotencyKey: nil, body: ["client_id": "{{ client_id }}", "password": "{{ password }}"],
            repeatable: true
        )
    }

    static func completeIndividual(email: String = "ada.\(UUID().uuidString.prefix(8).lowercased())@example.com") -> JSONValue {
        [
            "type": "individual", "first_name": "Ada", "last_name": "Lovelace", "email": .string(email),
            "birth_date": "1990-12-10", "phone": "+14155550123", "nationality": "USA", "address_street": "1 Main St",
            "address_city": "Springfield", "address_state": "IL", "address_zip_code": "62701", "address_country": "USA",
            "document_type": "passport", "document_number": "X1234567", "document_country": "USA",
            "employment_status": "employed", "occupation": "Engineer", "account_purpose": "receive_payments",
            "source_of_funds": "salary",
        ]
    }
}

/// The secrets the walkthrough holds in memory, looked up by reference name.
let demoSecrets: @Sendable (String) -> String? = { name in
    switch name {
    case "password": TenantCredentials.demo.password
    case "api_key": TenantCredentials.demo.apiKey
    case "client_id": TenantCredentials.demo.clientID
    default: nil
    }
}

func newKey() -> String { UUID().uuidString.lowercased() }

extension ClientOutcome {
    /// The response, when there was one.
    var response: ResponseSummary? {
        if case .response(let response) = result { return response }
        return nil
    }

    /// The failure message, when there was no usable answer.
    var failure: String? {
        if case .failure(let message) = result { return message }
        return nil
    }

    /// The exchanges other than the client's own `/auth` calls.
    var apiExchanges: [ExchangeRecord] { exchanges.filter { $0.url.hasSuffix("/auth") == false } }
    var authExchanges: [ExchangeRecord] { exchanges.filter { $0.url.hasSuffix("/auth") } }
}

extension ExchangeRecord {
    /// A recorded header's value (names are lower case on the way out).
    func requestHeader(_ name: String) -> String? {
        requestHeaders.first { $0.first?.lowercased() == name }.flatMap { $0.count > 1 ? $0[1] : nil }
    }

    func responseHeader(_ name: String) -> String? {
        responseHeaders.first { $0.first?.lowercased() == name }.flatMap { $0.count > 1 ? $0[1] : nil }
    }
}
