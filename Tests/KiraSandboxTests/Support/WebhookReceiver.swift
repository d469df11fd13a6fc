import Foundation
import Hummingbird
import KiraJSON
import KiraTestSupport
import Logging

/// A real HTTP endpoint on loopback that records the webhooks it receives.
actor WebhookReceiver {
    struct Received: Sendable {
        var body: [UInt8]
        var signature: String?
        var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
        var event: String? { json["event"]?.stringValue }
    }

    private(set) var received: [Received] = []
    var status: Int = 200

    func record(_ item: Received) { received.append(item) }

    /// Waits (bounded) until an event called `event` arrived.
    ///
    /// The bound is generous: it only decides how long a failing test takes. The emulator sends
    /// webhooks one at a time, and in a parallel test run on two cores the ones queued before this
    /// event took more than 5 s to leave (a fresh-clone CI run at `631becc`).
    func waitFor(_ event: String, timeout: Duration = .seconds(30)) async throws -> Received? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let hit = received.first(where: { $0.event == event }) { return hit }
            try await TestThreads.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Serves on a free loopback port while `body` runs; passes the URL to register.
    static func with<T: Sendable>(_ body: (WebhookReceiver, String) async throws -> T) async throws -> T {
        let receiver = WebhookReceiver()
        let router = Router()
        router.post("/hooks") { request, _ -> Response in
            var request = request
            let bytes = try await request.collectBody(upTo: 1 << 20)
            await receiver.record(Received(body: Array(buffer: bytes), signature: request.headers[.init("x-signature-sha256")!]))
            return Response(status: .init(code: await receiver.status))
        }
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
            logger: {
                // Stopped by cancellation at the end of a test: that is expected, not worth a log line.
                var logger = Logger(label: "webhook-receiver")
                logger.logLevel = .critical
                return logger
            }()
        )
        let task = Task(executorPreference: TestThreads.timing) { try await app.run() }
        defer { task.cancel() }
        var port = 0
        for await value in stream {
            port = value
            break
        }
        return try await body(receiver, "http://127.0.0.1:\(port)/hooks")
    }
}
