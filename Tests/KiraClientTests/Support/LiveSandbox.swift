import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraClient
@testable import KiraSandbox
@testable import WalkthroughCore

// The emulator on a loopback port lives in KiraTestSupport; this is the client-side harness.

extension LiveSandbox {
    /// Runs `body` with a `KiraAPIClient` for this emulator, shutting it down afterwards (an
    /// `HTTPClient` dropped without `shutdown()` traps in debug builds).
    func withClient<T: Sendable>(
        _ configuration: KiraClientConfiguration = KiraClientConfiguration(),
        password: String? = nil,
        sleeps: SleepLog = SleepLog(),
        _ body: (KiraAPIClient) async throws -> T
    ) async throws -> T {
        var configuration = configuration
        configuration.executor = configuration.executor ?? threads
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
    static func createUser(key: String?, body: JSONValue = Fixtures.completeIndividual()) -> RenderedRequest {
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
