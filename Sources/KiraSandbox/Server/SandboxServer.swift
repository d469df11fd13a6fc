import AsyncHTTPClient
import Foundation
import HTTPTypes
import HostNames
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import UnixSignals

/// Why the emulator refused to start.
public struct SandboxServerError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// Where a running emulator listens.
public struct SandboxAddress: Sendable, Hashable {
    public var host: String
    public var port: Int

    /// The base URL clients use, for example `http://127.0.0.1:4010/sandbox`.
    public var baseURL: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "http://\(hostPart):\(port)/sandbox"
    }
}

/// The emulator's HTTP front: Hummingbird on a socket, feeding requests to a `SandboxState`,
/// applying injected delays and dropped connections, and delivering webhooks.
public struct SandboxServer: Sendable {
    /// The state every request goes to.
    public let state: SandboxState
    let host: String
    let port: Int
    let logger: Logger
    /// How the server waits (the ticker's period, an injected delay): `Task.sleep` unless the
    /// embedding program says otherwise.
    let sleep: @Sendable (Duration) async throws -> Void
    /// Webhooks waiting for the dispatcher, in the order they were emitted.
    let outgoing: AsyncStream<WebhookDelivery>
    let outgoingContinuation: AsyncStream<WebhookDelivery>.Continuation

    /// A server for `state` on `host:port` (`port` 0 picks a free one).
    ///
    /// `sleep` is how it waits; a test whose other work keeps the concurrency pool busy passes one
    /// that wakes without it, so that a webhook or an injected delay keeps its time.
    ///
    /// - Throws: `SandboxServerError` for a non-loopback host without an admin token: the
    ///   `/__emulator/` controls must never be open to a network.
    public init(
        state: SandboxState, host: String = "127.0.0.1", port: Int = 4010, logger: Logger? = nil,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) throws {
        guard HostName.isLoopback(host) || state.configuration.adminToken != nil else {
            throw SandboxServerError(
                description: "Refusing to listen on \(host): the /__emulator/ controls would be reachable from the network. "
                    + "Listen on 127.0.0.1, or pass --admin-token to require a token for them."
            )
        }
        guard (0...65535).contains(port) else { throw SandboxServerError(description: "Port \(port) is out of range 0-65535") }
        self.state = state
        self.sleep = sleep
        self.host = host
        self.port = port
        (self.outgoing, self.outgoingContinuation) = AsyncStream<WebhookDelivery>.makeStream()
        self.logger =
            logger
            ?? {
                var logger = Logger(label: "kira-sandbox")
                logger.logLevel = .warning
                return logger
            }()
    }

    /// Serves until `stop` is called on what `start` returned, or, with `handlingSignals`, until
    /// SIGINT/SIGTERM; calls `onReady` once the socket listens. Shuts down gracefully.
    public func run(handlingSignals: Bool = false, onReady: @escaping @Sendable (SandboxAddress) async -> Void) async throws {
        try await makeServiceGroup(handlingSignals: handlingSignals, onReady: onReady).run()
    }

    func makeServiceGroup(handlingSignals: Bool, onReady: @escaping @Sendable (SandboxAddress) async -> Void) -> ServiceGroup {
        let host = self.host
        let requestedPort = self.port
        let app = Application(
            responder: CallbackResponder<EmulatorRequestContext> { request, context in
                try await self.respond(to: request, context: context)
            },
            configuration: ApplicationConfiguration(address: .hostname(host, port: requestedPort), serverName: "kira-sandbox-emulator"),
            onServerRunning: { channel in
                await onReady(SandboxAddress(host: host, port: channel.localAddress?.port ?? requestedPort))
            },
            logger: logger
        )
        return ServiceGroup(
            services: [app, SandboxTicker(server: self), WebhookDispatcher(server: self)],
            gracefulShutdownSignals: handlingSignals ? [.sigterm, .sigint] : [],
            logger: logger
        )
    }

    /// Starts the server in the background and returns once it listens.
    ///
    /// For embedding the emulator in another program or a test; `stop()` the result when done.
    /// With `executor`, the server's tasks prefer it to the global pool: a program whose own work
    /// keeps the pool busy gives the emulator threads that answer on time.
    public func start(on executor: (any TaskExecutor)? = nil) async throws -> RunningSandbox {
        let (stream, continuation) = AsyncStream<SandboxAddress>.makeStream()
        let group = makeServiceGroup(handlingSignals: false) { address in continuation.yield(address) }
        let task = Task(executorPreference: executor) {
            defer { continuation.finish() }
            try await group.run()
        }
        for await address in stream { return RunningSandbox(address: address, state: state, group: group, task: task) }
        // The stream ended without an address: the server failed before listening.
        try await task.value
        throw SandboxServerError(description: "The emulator stopped before it listened on \(host):\(port)")
    }

    /// Applies due transitions a few times a second so time-based webhooks leave on their own.
    func tickLoop() async {
        while !Task.isCancelled {
            do {
                try await sleep(.milliseconds(100))
            } catch {
                return
            }
            deliver(await state.tick())
        }
    }

    func respond(to request: Request, context: EmulatorRequestContext) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: SandboxState.maxBodyBytes)
        } catch {
            return Self.response(SandboxState.payloadTooLarge)
        }
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { "\($0), \(field.value)" } ?? field.value
        }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let sandboxRequest = SandboxRequest(
            method: request.method.rawValue, path: request.uri.path, query: query, headers: headers,
            body: Array(buffer: body)
        )
        let reply = await state.handle(sandboxRequest)
        deliver(reply.deliveries)
        if let delay = reply.delay { try await sleep(delay) }
        if reply.dropConnection {
            context.channel.close(promise: nil)
            throw SandboxServerError(description: "connection dropped by an injected fault")
        }
        return Self.response(reply.response)
    }

    static func response(_ response: SandboxResponse) -> Response {
        var fields = HTTPFields()
        for header in response.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: response.status),
            headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: response.body))
        )
    }

    /// Queues webhooks for the dispatcher, which sends them one at a time, in order.
    func deliver(_ deliveries: [WebhookDelivery]) {
        for delivery in deliveries { outgoingContinuation.yield(delivery) }
    }

    /// Sends one webhook once (no retry, as on the 2026-04-14 pin) and logs the outcome.
    func send(_ delivery: WebhookDelivery) async {
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "kira-sandbox-emulator")
        request.headers.add(name: "x-signature-sha256", value: delivery.signature)
        request.body = .bytes(ByteBuffer(bytes: delivery.body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            await state.recordDelivery(sequence: delivery.sequence, responseStatus: Int(response.status.code), error: nil)
        } catch {
            await state.recordDelivery(sequence: delivery.sequence, responseStatus: nil, error: String(describing: error))
        }
    }
}

/// An emulator running in the background.
public struct RunningSandbox: Sendable {
    /// Where it listens.
    public let address: SandboxAddress
    /// Its state, for in-process inspection.
    public let state: SandboxState
    let group: ServiceGroup
    let task: Task<Void, any Error>

    /// Stops accepting connections, finishes the ones in flight, and waits until it has stopped.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// The ticker as a service of the emulator's group: it stops on graceful shutdown.
struct SandboxTicker: Service {
    let server: SandboxServer

    func run() async throws {
        await cancelWhenGracefulShutdown { await server.tickLoop() }
    }
}

/// Sends queued webhooks in emission order, so `payout.completed` never overtakes the
/// `payout.status_changed` before it.
struct WebhookDispatcher: Service {
    let server: SandboxServer

    func run() async throws {
        for await delivery in server.outgoing.cancelOnGracefulShutdown() {
            await server.send(delivery)
        }
    }
}

/// Hummingbird's basic context plus the channel, so an injected fault can drop the connection.
struct EmulatorRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
