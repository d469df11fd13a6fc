import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import KiraJSON
import Logging
import NIOCore
import WalkthroughCore

/// A local endpoint that receives Kira webhooks for a walkthrough run.
///
/// It verifies `x-signature-sha256` (hex HMAC-SHA256 of the raw body, compared in constant time)
/// with the secret the run registered, drops repeats of a `data.event_id`, always answers 2xx, and
/// keeps every event (name, id, time, verified or not, redacted body) for the session.
public actor WebhookInbox {
    /// The secret the run registered with (memory only).
    public let secret: String
    private(set) var events: [WebhookEventRecord] = []
    private var seen: Set<String> = []
    private var delivered = 0
    private let onEvent: @Sendable (WebhookEventRecord) async -> Void
    private var running: (task: Task<Void, any Error>, group: ServiceGroupHandle)?
    /// Where it listens, once started.
    public private(set) var url: String?

    public init(
        secret: String = "whsec_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(),
        onEvent: @escaping @Sendable (WebhookEventRecord) async -> Void = { _ in }
    ) {
        self.secret = secret
        self.onEvent = onEvent
    }

    /// Starts listening on `host:port` (0 picks a free port); returns the URL to register.
    public func start(host: String, port: Int) async throws -> String {
        let router = Router()
        router.post("/**") { request, _ -> Response in
            var request = request
            let body = Array(buffer: try await request.collectBody(upTo: 1 << 20))
            let signature = request.headers[HTTPField.Name("x-signature-sha256")!]
            await self.receive(body: body, signature: signature)
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"received\":true}"))
            )
        }
        var logger = Logger(label: "kira-walkthrough.webhooks")
        logger.logLevel = .critical
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "kira-walkthrough-webhooks"),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? port) }, logger: logger
        )
        let handle = ServiceGroupHandle()
        let task = Task { try await handle.run(app, logger: logger) }
        for await bound in stream {
            let hostPart = host.contains(":") ? "[\(host)]" : host
            let url = "http://\(hostPart):\(bound)/webhooks/kira"
            self.url = url
            running = (task, handle)
            return url
        }
        try await task.value
        throw WebhookInboxError(description: "The webhook listener stopped before it listened on \(host):\(port)")
    }

    /// Stops listening.
    public func stop() async {
        guard let running else { return }
        await running.group.stop()
        _ = try? await running.task.value
        self.running = nil
    }

    /// Handles one delivery (also the entry point for tests of the verification).
    func receive(body: [UInt8], signature: String?) async {
        let json = try? JSONValue.parse(body)
        let eventID = json?["data"]?["event_id"]?.stringValue ?? "unknown-\(delivered)"
        delivered += 1
        guard seen.insert(eventID).inserted else { return }
        let record = WebhookEventRecord(
            event: json?["event"]?.stringValue ?? "(not JSON)", eventID: eventID,
            verified: Self.verify(body: body, signature: signature, secret: secret),
            receivedAt: Date(), body: json.map { Redactor(values: [secret]).redact($0) }
        )
        events.append(record)
        await onEvent(record)
    }

    /// Events received so far, after `index`.
    public func events(after index: Int) -> [WebhookEventRecord] {
        index < events.count ? Array(events[index...]) : []
    }

    /// Whether `signature` is the hex HMAC-SHA256 of `body` keyed with `secret` (constant time).
    public static func verify(body: [UInt8], signature: String?, secret: String) -> Bool {
        guard let signature, let given = Self.bytes(fromHex: signature.trimmingCharacters(in: .whitespaces)) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: body, using: SymmetricKey(data: Array(secret.utf8)))
    }

    static func bytes(fromHex text: String) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// Why the inbox could not start.
public struct WebhookInboxError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
