import ArgumentParser
import AsyncHTTPClient
import Foundation
import KiraJSON
import KiraSandbox
import Logging
import NIOCore
import NIOHTTP1

/// `kira-walkthrough sandbox …`: the local emulator and its operator commands.
struct Sandbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the local Kira sandbox emulator, and act on it as a Kira operator.",
        subcommands: [
            Serve.self, VerifyUser.self, RejectUser.self, Provision.self, RequestInformation.self, ClearRequest.self,
            DeactivateAccount.self,
        ]
    )
}

extension Sandbox {
    /// `sandbox serve`.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the emulator until interrupted.",
            discussion: "Prints one line with the base URL and the demo credentials once it listens."
        )

        @Option(help: "Address to listen on. Anything but loopback needs --admin-token.")
        var host = "127.0.0.1"

        @Option(help: "Port to listen on; 0 picks a free one.")
        var port = 4010

        @Option(help: "The demo tenant's api key.")
        var apiKey: String?

        @Option(help: "The demo tenant's client_id (a UUID).")
        var clientId: String?

        @Option(help: "The demo tenant's password.")
        var password: String?

        @Option(help: "A JSON file with tenants: [{\"api_key\",\"client_id\",\"password\",\"webhook_secret\"?}].")
        var tenants: String?

        @Option(help: "Access token lifetime in seconds.")
        var tokenTtl: Double = 3600

        @OptionGroup var emulatorOptions: EmulatorOptions

        @Option(
            help: "Verify users automatically this many seconds after they reach REVIEW (off by default, as in the real sandbox)."
        )
        var autoVerifyAfter: Double?

        @Option(
            help:
                "Seconds after verification triggers before a user without source_of_funds, or with an image that is not a decodable JPEG or PNG of at least 200x200, is REJECTED."
        )
        var rejectAfter: Double = 2

        @Option(help: "Seconds between a payout's status changes.")
        var payoutStepInterval: Double = 3

        @Option(help: "Keep state in this JSON file across restarts.")
        var stateFile: String?

        @Option(help: "Requests per second per api key before 429 (off by default).")
        var rateLimit: Int?

        @Option(help: "Require this token in x-admin-token for /__emulator/.")
        var adminToken: String?

        @Option(help: "Log level on standard error (trace, debug, info, notice, warning, error, critical).")
        var logLevel: String = "warning"

        func validate() throws {
            for (name, value) in [
                ("--token-ttl", tokenTtl), ("--payout-step-interval", payoutStepInterval), ("--reject-after", rejectAfter),
            ]
            where !(value >= 0 && value.isFinite) {
                throw ValidationError("\(name) must be a non-negative number of seconds")
            }
            if let autoVerifyAfter, !(autoVerifyAfter >= 0 && autoVerifyAfter.isFinite) {
                throw ValidationError("--auto-verify-after must be a non-negative number of seconds")
            }
            if let clientId, UUID(uuidString: clientId) == nil { throw ValidationError("--client-id must be a UUID") }
            if let rateLimit, rateLimit < 1 { throw ValidationError("--rate-limit must be at least 1") }
            if Logger.Level(rawValue: logLevel) == nil {
                throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
            }
        }

        func run() async throws {
            let (server, configuration) = try makeEmulator()
            try await server.run(handlingSignals: true) { address in
                printLine(Self.readinessLine(address: address, configuration: configuration))
            }
        }

        /// The emulator these options describe, not yet listening (`coach` serves it too).
        func makeEmulator() throws -> (SandboxServer, SandboxConfiguration) {
            let level = Logger.Level(rawValue: logLevel) ?? .warning
            LogSetup.bootstrap(level: level)
            var logger = Logger(label: "kira-sandbox")
            logger.logLevel = level
            var tenantList = try loadTenants()
            let demo = tenantList[0]
            tenantList[0] = TenantCredentials(
                apiKey: apiKey ?? demo.apiKey, clientID: clientId ?? demo.clientID, password: password ?? demo.password,
                webhookSecret: demo.webhookSecret
            )
            guard Set(tenantList.map(\.apiKey)).count == tenantList.count, Set(tenantList.map(\.clientID)).count == tenantList.count
            else {
                throw ValidationError("--api-key or --client-id repeats another tenant's api_key or client_id")
            }
            let configuration = SandboxConfiguration(
                tenants: tenantList,
                tokenTTL: .seconds(tokenTtl),
                virtualAccountReadyAfter: .seconds(emulatorOptions.vaReadyAfter),
                autoVerifyAfter: autoVerifyAfter.map { .seconds($0) },
                rejectAfter: .seconds(rejectAfter),
                payoutStepInterval: .seconds(payoutStepInterval),
                rateLimit: rateLimit,
                adminToken: adminToken,
                stateFile: stateFile
            )
            let state: SandboxState
            do {
                state = try SandboxState(configuration: configuration)
            } catch {
                throw ValidationError("\(error)")
            }
            let server: SandboxServer
            do {
                server = try SandboxServer(state: state, host: host, port: port, logger: logger)
            } catch {
                throw ValidationError("\(error)")
            }
            return (server, configuration)
        }

        /// The line printed once the emulator listens: the base URL and the demo credentials.
        static func readinessLine(address: SandboxAddress, configuration: SandboxConfiguration) -> String {
            let first = configuration.tenants[0]
            return "Kira sandbox emulator ready at \(address.baseURL) — demo tenant: KIRA_API_KEY=\(first.apiKey) "
                + "KIRA_CLIENT_ID=\(first.clientID) KIRA_PASSWORD=\(first.password)"
                + (configuration.tenants.count > 1 ? " (+\(configuration.tenants.count - 1) more tenants)" : "")
        }

        func loadTenants() throws -> [TenantCredentials] {
            guard let tenants else { return [.demo] }
            guard let data = FileManager.default.contents(atPath: tenants) else {
                throw ValidationError("Cannot read the tenants file \(tenants)")
            }
            let list: [TenantCredentials]
            do {
                list = try JSONDecoder().decode([TenantCredentials].self, from: data)
            } catch {
                throw ValidationError("The tenants file \(tenants) is not a JSON array of {api_key, client_id, password}: \(error)")
            }
            guard !list.isEmpty else { throw ValidationError("The tenants file \(tenants) lists no tenant") }
            guard Set(list.map(\.apiKey)).count == list.count, Set(list.map(\.clientID)).count == list.count else {
                throw ValidationError("The tenants file \(tenants) repeats an api_key or a client_id")
            }
            return list
        }
    }

    /// Options shared by the operator commands.
    struct OperatorOptions: ParsableArguments {
        @Option(help: "The running emulator's base URL, as `sandbox serve` printed it.")
        var url: String

        @Option(help: "The emulator's admin token, when it was started with one.")
        var adminToken: String?

        @Flag(help: "Print the emulator's JSON answer.")
        var json = false
    }

    /// `sandbox verify-user ID`.
    struct VerifyUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Flip a user to VERIFIED, as your Kira contact would.")

        @Argument(help: "The user's id.")
        var id: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            let user = try await OperatorCall.post("users/\(id)/verify", options: options)
            printLine(options.json ? user.text(.pretty) : "User \(id) is now \(user["status"]?.stringValue ?? "?")")
        }
    }

    /// `sandbox reject-user ID`.
    struct RejectUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Flip a user to REJECTED, as a Kira operator would.")

        @Argument(help: "The user's id.")
        var id: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            let user = try await OperatorCall.post("users/\(id)/reject", options: options)
            printLine(options.json ? user.text(.pretty) : "User \(id) is now \(user["status"]?.stringValue ?? "?")")
        }
    }

    /// `sandbox provision`.
    struct Provision: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a VERIFIED user with a ready virtual account and a SWIFT recipient, and print their ids."
        )

        @OptionGroup var options: OperatorOptions

        @Option(help: "The tenant to provision for (default: the demo tenant).")
        var clientId: String?

        func run() async throws {
            let body: JSONValue = clientId.map { ["client_id": .string($0)] } ?? [:]
            let ids = try await OperatorCall.post("provision", body: body, options: options)
            if options.json {
                printLine(ids.text(.pretty))
            } else {
                // Lines a POSIX shell can eval: ids are UUIDs, so no quoting is needed.
                for (name, key) in [
                    ("KIRA_USER_ID", "user_id"), ("KIRA_VA_ID", "virtual_account_id"), ("KIRA_RECIPIENT_ID", "recipient_id"),
                ] {
                    guard let id = ids[key]?.stringValue, UUID(uuidString: id) != nil else {
                        throw OperatorError(message: "The emulator's provision answer has no \(key)")
                    }
                    printLine("\(name)=\(id)")
                }
            }
        }
    }

    /// Prints a virtual account an operator action answered: whole with `--json`, else its new status.
    static func printAccount(_ account: JSONValue, id: String, options: OperatorOptions) {
        printLine(options.json ? account.text(.pretty) : "Virtual account \(id) is now \(account["status"]?.stringValue ?? "?")")
    }

    /// `sandbox rfi-account ID`.
    struct RequestInformation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rfi-account",
            abstract: "Put a virtual account on hold with a request for information (rfi), as the provider would.",
            discussion: "Deposits and payouts on it answer 400 invalid_operation until `sandbox clear-rfi`."
        )

        @Argument(help: "The virtual account's id.")
        var id: String

        @Option(help: "Why the provider asks (sent in the webhook).")
        var reason: String?

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            let body: JSONValue = reason.map { ["reason": .string($0)] } ?? [:]
            let account = try await OperatorCall.post("virtual-accounts/\(id)/rfi", body: body, options: options)
            Sandbox.printAccount(account, id: id, options: options)
        }
    }

    /// `sandbox clear-rfi ID`.
    struct ClearRequest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clear-rfi",
            abstract: "Clear a virtual account's request for information: it is approved (ACTIVE) again."
        )

        @Argument(help: "The virtual account's id.")
        var id: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            let account = try await OperatorCall.post("virtual-accounts/\(id)/clear-rfi", options: options)
            Sandbox.printAccount(account, id: id, options: options)
        }
    }

    /// `sandbox deactivate-account ID`.
    struct DeactivateAccount: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deactivate-account",
            abstract: "Deactivate a virtual account for good; the user's next POST /v1/virtual-accounts creates a new one."
        )

        @Argument(help: "The virtual account's id.")
        var id: String

        @Option(help: "Why it is closed (sent in the webhook).")
        var reason: String?

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            let body: JSONValue = reason.map { ["reason": .string($0)] } ?? [:]
            let account = try await OperatorCall.post("virtual-accounts/\(id)/deactivate", body: body, options: options)
            Sandbox.printAccount(account, id: id, options: options)
        }
    }
}

/// A call to a running emulator's `/__emulator/` controls.
enum OperatorCall {
    static func post(_ control: String, body: JSONValue = [:], options: Sandbox.OperatorOptions) async throws -> JSONValue {
        try await call(
            .POST, control, body: body, url: options.url, adminToken: options.adminToken, program: "the emulator",
            command: "kira-walkthrough sandbox serve", answerLimit: 1 << 20)
    }

    /// `method /__emulator/<control>` on the emulator at `url` (its base URL, with or without
    /// `/sandbox`); its JSON answer, or an `OperatorError` that says what to check.
    static func call(
        _ method: HTTPMethod, _ control: String, body: JSONValue? = nil, url: String, adminToken: String?, program: String,
        command: String, answerLimit: Int
    ) async throws -> JSONValue {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/sandbox") { base.removeLast("/sandbox".count) }
        guard let parsed = URL(string: base), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
            throw ValidationError("--url must be \(program)'s base URL, such as http://127.0.0.1:4010/sandbox")
        }
        var request = HTTPClientRequest(url: "\(base)/__emulator/\(control)")
        request.method = method
        if let adminToken { request.headers.add(name: "x-admin-token", value: adminToken) }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.serialized()))
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        } catch {
            throw OperatorError(message: "Cannot reach \(program) at \(base): \(error). Is `\(command)` running?")
        }
        let bytes = Array(buffer: try await response.body.collect(upTo: answerLimit))
        let json = try? JSONValue.parse(bytes)
        guard (200..<300).contains(Int(response.status.code)) else {
            let message = json?["message"]?.stringValue ?? String(decoding: bytes, as: UTF8.self)
            throw OperatorError(message: "The emulator answered \(response.status.code): \(message)")
        }
        guard let json else { throw OperatorError(message: "The emulator answered with something that is not JSON") }
        return json
    }
}

/// A failed operator command: printed as is, exit code 1.
struct OperatorError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
