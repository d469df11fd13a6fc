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
    ///
    /// The answer is due at the timeout whatever the probe is doing: the timer is the event loop's
    /// (a `Task.sleep` wakes through the concurrency pool's queue), and a probe still running then
    /// is cancelled and left to unwind on its own rather than awaited. The probe runs on `executor`
    /// when one is given (a caller whose concurrency pool is busy gives it threads of its own).
    public static func isEmulator(
        _ baseURL: String, timeout: Duration = .seconds(2), on executor: (any TaskExecutor)? = nil
    ) async -> Bool {
        let url = root(of: baseURL) + "/healthz"
        let answer = try? await Deadline.race(timeout, on: http.eventLoopGroup.any(), executor: executor) {
            await probe(url, timeout: timeout)
        }
        return answer ?? false
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
            "\(control.collection)/\(action.id)/\(control.action)", baseURL: baseURL, adminToken: adminToken
        ).failureMessage
    }

    /// Moves the emulator's clock `seconds` forward (`POST /__emulator/clock`); returns why it
    /// failed, if it did.
    public static func advanceClock(by seconds: Double, baseURL: String, adminToken: String? = nil) async -> String? {
        await control("clock", body: ["advance_seconds": .number(String(seconds))], baseURL: baseURL, adminToken: adminToken)
            .failureMessage
    }

    /// Adds a fault (`POST /__emulator/faults`, the body as the control takes it); returns why it
    /// failed, if it did.
    public static func injectFault(_ fault: JSONValue, baseURL: String, adminToken: String? = nil) async -> String? {
        await control("faults", body: fault, baseURL: baseURL, adminToken: adminToken).failureMessage
    }

    /// What the provider does to a virtual account, played by the emulator's operator.
    public enum VirtualAccountHold: String, Sendable, CaseIterable {
        /// A request for information (`rfi`): deposits and payouts are refused until it is cleared.
        case requestInformation = "rfi"
        /// The request for information is answered: the account is `approved` (`ACTIVE`) again.
        case clearRequest = "clear-rfi"
        /// Closed for good; the user's next `POST /v1/virtual-accounts` creates a new account.
        case deactivate
    }

    /// Puts a virtual account on hold, clears the hold, or deactivates it; returns the account as
    /// the emulator answers it (in its tenant's pinned vocabulary).
    public static func hold(
        _ action: VirtualAccountHold, virtualAccountID: String, reason: String? = nil, baseURL: String, adminToken: String? = nil
    ) async -> Result<JSONValue, ControlFailure> {
        let body: JSONValue = reason.map { ["reason": .string($0)] } ?? [:]
        return await control(
            "virtual-accounts/\(virtualAccountID)/\(action.rawValue)", body: body, baseURL: baseURL, adminToken: adminToken)
    }

    /// The ids a Kira contact hands over (a `VERIFIED` user, its ready virtual account, a SWIFT
    /// recipient), as `sandbox provision` prints them.
    public struct ProvisionedIDs: Sendable, Hashable {
        public var userID: String
        public var virtualAccountID: String
        public var recipientID: String

        /// `KIRA_USER_ID=…`, `KIRA_VA_ID=…`, `KIRA_RECIPIENT_ID=…`: lines a POSIX shell can `eval`.
        public var shellAssignments: String {
            "KIRA_USER_ID=\(userID)\nKIRA_VA_ID=\(virtualAccountID)\nKIRA_RECIPIENT_ID=\(recipientID)\n"
        }
    }

    /// Provisions a verified user with a ready virtual account and a recipient, for `clientID`
    /// (default: the emulator's demo tenant).
    public static func provision(clientID: String? = nil, baseURL: String, adminToken: String? = nil) async -> Result<
        ProvisionedIDs, ControlFailure
    > {
        let body: JSONValue = clientID.map { ["client_id": .string($0)] } ?? [:]
        return await control("provision", body: body, baseURL: baseURL, adminToken: adminToken).flatMap { json in
            guard let user = json["user_id"]?.stringValue, let account = json["virtual_account_id"]?.stringValue,
                let recipient = json["recipient_id"]?.stringValue
            else { return .failure(ControlFailure(status: nil, message: "The emulator's provision answer lacks an id")) }
            return .success(ProvisionedIDs(userID: user, virtualAccountID: account, recipientID: recipient))
        }
    }

    /// Why an operator control failed: the emulator's status and message, or the transport error.
    public struct ControlFailure: Error, Sendable, Hashable, CustomStringConvertible {
        /// The HTTP status, when the emulator answered.
        public var status: Int?
        public var message: String
        public var description: String { status.map { "HTTP \($0): \(message)" } ?? message }
    }

    /// `POST /__emulator/<path>` with a JSON body; the answer's JSON, or why it failed.
    static func control(_ path: String, body: JSONValue? = nil, baseURL: String, adminToken: String?) async -> Result<
        JSONValue, ControlFailure
    > {
        var request = HTTPClientRequest(url: root(of: baseURL) + "/__emulator/" + path)
        request.method = .POST
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.serialized()))
        }
        if let adminToken { request.headers.add(name: "x-admin-token", value: adminToken) }
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            let bytes = Array(buffer: try await response.body.collect(upTo: 1 << 20))
            let json = try? JSONValue.parse(bytes)
            let status = Int(response.status.code)
            guard (200..<300).contains(status) else {
                return .failure(ControlFailure(status: status, message: json?["message"]?.stringValue ?? "HTTP \(status)"))
            }
            return .success(json ?? .null)
        } catch {
            return .failure(ControlFailure(status: nil, message: "\(error)"))
        }
    }
}

extension Result where Failure == EmulatorControls.ControlFailure {
    /// The failure's message, or nil on success: what the `String?`-answering controls return.
    var failureMessage: String? {
        if case .failure(let failure) = self { return failure.message }
        return nil
    }
}
