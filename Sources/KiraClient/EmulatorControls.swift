import AsyncHTTPClient
import Foundation
import KiraJSON
import NIOCore
import NIOHTTP1
import WalkthroughCore

/// Calls to this project's emulator beside the API: whether a target is one, and the operator
/// actions ("play the Kira contact").
public enum EmulatorControls {
    /// Like `HTTPClient.shared`, except that a refused connection fails at once instead of being
    /// retried until the deadline: the emulator is either listening or not. Never shut down, as
    /// `HTTPClient.shared` is not.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// The root of a base URL (`http://127.0.0.1:4010/sandbox` → `http://127.0.0.1:4010`).
    public static func root(of baseURL: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/sandbox") { base.removeLast("/sandbox".count) }
        return base
    }

    /// Whether `baseURL` answers `/healthz` as the kira-sandbox emulator, within `timeout` at the
    /// most: a refused port, a silent server or a slow body all answer `false` by then.
    public static func isEmulator(_ baseURL: String, timeout: Duration = .seconds(2)) async -> Bool {
        let url = root(of: baseURL) + "/healthz"
        return await withTaskGroup(of: Bool?.self) { group in
            group.addTask { await probe(url, timeout: timeout) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? false
        }
    }

    /// One `GET /healthz`; `false` for anything but this emulator's answer.
    static func probe(_ url: String, timeout: Duration) async -> Bool {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        guard let response = try? await http.execute(request, timeout: .nanoseconds(timeout.nanoseconds)),
            response.status.code == 200,
            let bytes = try? await response.body.collect(upTo: 64 * 1024),
            let json = try? JSONValue.parse(Array(buffer: bytes))
        else { return false }
        return json["service"] == "kira-sandbox-emulator"
    }

    /// Performs an operator action; returns why it failed, if it did.
    public static func perform(_ action: OperatorRequest, baseURL: String, adminToken: String? = nil) async -> String? {
        let control = action.verb.control
        return await Self.control(
            "/\(control.collection)/\(action.id)/\(control.action)", body: nil, baseURL: baseURL, adminToken: adminToken)
    }

    /// Moves the emulator's clock `seconds` forward (`POST /__emulator/clock`); returns why it
    /// failed, if it did.
    public static func advanceClock(by seconds: Double, baseURL: String, adminToken: String? = nil) async -> String? {
        await control("/clock", body: ["advance_seconds": .number(String(seconds))], baseURL: baseURL, adminToken: adminToken)
    }

    /// Adds a fault (`POST /__emulator/faults`, the body as the control takes it); returns why it
    /// failed, if it did.
    public static func injectFault(_ fault: JSONValue, baseURL: String, adminToken: String? = nil) async -> String? {
        await control("/faults", body: fault, baseURL: baseURL, adminToken: adminToken)
    }

    /// `POST /__emulator<path>` with an optional JSON body; returns why it failed, if it did.
    static func control(_ path: String, body: JSONValue?, baseURL: String, adminToken: String?) async -> String? {
        var request = HTTPClientRequest(url: root(of: baseURL) + "/__emulator" + path)
        request.method = .POST
        if let adminToken { request.headers.add(name: "x-admin-token", value: adminToken) }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.serialized()))
        }
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            let bytes = Array(buffer: try await response.body.collect(upTo: 1 << 20))
            guard (200..<300).contains(Int(response.status.code)) else {
                let message = (try? JSONValue.parse(bytes))?["message"]?.stringValue ?? "HTTP \(response.status.code)"
                return message
            }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
