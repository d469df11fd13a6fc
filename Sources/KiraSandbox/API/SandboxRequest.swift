/// A request as the emulator sees it, independent of the HTTP server that carried it.
public struct SandboxRequest: Sendable {
    /// The method in upper case.
    public var method: String
    /// The path without the query, for example `/sandbox/v1/users`.
    public var path: String
    /// Decoded query parameters (the last value wins).
    public var query: [String: String]
    /// Header fields with lower-case names.
    public var headers: [String: String]
    /// The raw body.
    public var body: [UInt8]

    public init(
        method: String,
        path: String,
        query: [String: String] = [:],
        headers: [String: String] = [:],
        body: [UInt8] = []
    ) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        var lowered: [String: String] = [:]
        for (name, value) in headers { lowered[name.lowercased()] = value }
        self.headers = lowered
        self.body = body
    }
}

/// A response the emulator produced.
public struct SandboxResponse: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// Header fields, in order.
    public var headers: [(name: String, value: String)]
    /// The raw body.
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of the first header called `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// What the HTTP front must do with a handled request.
public struct SandboxReply: Sendable {
    /// The response to send.
    public var response: SandboxResponse
    /// Wait this long before sending it (an injected fault).
    public var delay: Duration?
    /// Close the connection instead of answering (an injected fault).
    public var dropConnection: Bool
    /// Webhooks to deliver now that the request was handled.
    public var deliveries: [WebhookDelivery]

    public init(response: SandboxResponse, delay: Duration? = nil, dropConnection: Bool = false, deliveries: [WebhookDelivery] = []) {
        self.response = response
        self.delay = delay
        self.dropConnection = dropConnection
        self.deliveries = deliveries
    }
}
