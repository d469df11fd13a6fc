import AsyncHTTPClient
import Foundation
import HostNames
import KiraJSON
import NIOCore
import NIOHTTP1
import WalkthroughCore

/// Why the client cannot be used for a base URL.
public struct KiraClientError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// Timeouts and retry policy.
public struct KiraClientConfiguration: Sendable {
    /// Opening a connection.
    public var connectTimeout: Duration = .seconds(5)
    /// A whole request, connection included.
    public var requestTimeout: Duration = .seconds(30)
    /// Attempts for a request that is safe to retry (the first included).
    public var maxAttempts = 4
    /// The first backoff; each retry doubles it, with full jitter.
    public var baseBackoff: Duration = .milliseconds(250)
    /// The longest backoff, and the longest `Retry-After` honoured.
    public var maxBackoff: Duration = .seconds(8)
    /// Re-authenticate when less than this remains on the token (Q-TOKEN-TTL).
    public var refreshMargin: Double = 300
    /// Where each request runs (`nil`: the concurrency pool). A program that keeps the pool busy
    /// gives its requests threads of their own; the timeout is kept either way (`Deadline`).
    public var executor: (any TaskExecutor)?

    public init() {}
}

/// The outcome of one `send`: the final answer, and every exchange it took.
public struct ClientOutcome: Sendable {
    public enum Result: Sendable {
        case response(ResponseSummary)
        /// No usable answer after the retries that were safe.
        case failure(String)
    }

    public var result: Result
    /// Every request made, in order (re-authentication and retries included), redacted, with
    /// sequence numbers still to assign.
    public var exchanges: [ExchangeRecord]
    /// Why the client fetched a new token on the way (Q-TOKEN-TTL), once per renewal: an
    /// expiring token or a 401. Empty when it kept its token or fetched its first.
    public var renewals: [String] = []
}

/// The Kira API over AsyncHTTPClient: the headers of Q-AUTH-HEADERS, `X-Api-Version` until the
/// pin (Q-VERSION-HEADER), the token lifecycle of Q-TOKEN-TTL, timeouts, and bounded retries with
/// jitter only where a retry cannot duplicate anything.
public actor KiraAPIClient {
    public let baseURL: String
    let configuration: KiraClientConfiguration
    let apiVersion: String
    let http: HTTPClient
    var apiKey: String
    var clientID: String
    var password: String
    var token: (value: String, expiresAt: Date)?
    var pinnedVersion: String?
    /// The error of the last attempt that got no answer.
    var lastError: (any Error)?
    /// Called for every backoff (injected so tests need not sleep).
    let sleep: @Sendable (Duration) async -> Void
    /// The data URLs of the flow's embedded files, by the placeholder its bodies hold
    /// (`Flow.embeddedDataURLs`): filled in on the wire only, never in records.
    let embeddedFiles: [String: String]

    /// A client for `baseURL`; anything but loopback must be https.
    public init(
        baseURL: String, apiVersion: String, apiKey: String, clientID: String, password: String,
        configuration: KiraClientConfiguration = KiraClientConfiguration(), embeddedFiles: [String: String] = [:],
        sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
    ) throws {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), let host = url.host else {
            throw KiraClientError(description: "\(baseURL) is not a URL such as https://api.balampay.com/sandbox")
        }
        guard scheme == "https" || (scheme == "http" && HostName.isLoopback(host)) else {
            throw KiraClientError(description: "\(baseURL) must use https: only loopback addresses may use plain http")
        }
        self.baseURL = base
        self.apiVersion = apiVersion
        self.apiKey = apiKey
        self.clientID = clientID
        self.password = password
        self.configuration = configuration
        self.sleep = sleep
        self.embeddedFiles = embeddedFiles
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.timeout = .init(connect: .nanoseconds(configuration.connectTimeout.nanoseconds), read: nil)
        httpConfiguration.redirectConfiguration = .disallow
        // A refused connection fails at once: the client's own retries (bounded, only where
        // safe) decide whether to try again, not the pool until the connect timeout.
        httpConfiguration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
    }

    /// Releases the connection pool.
    public func shutdown() async {
        try? await http.shutdown()
    }

    /// Adopts a token captured from `/auth`.
    public func setToken(_ value: String, lifetime: Double?) {
        if token?.value == value { return }
        token = (value, Date().addingTimeInterval(lifetime ?? 3600))
    }

    /// After the pin, `X-Api-Version` is no longer sent.
    public func setPinnedVersion(_ version: String?) { pinnedVersion = version }

    /// Secret values to mask in records.
    var redactor: Redactor { Redactor(values: [apiKey, password, clientID, token?.value].compactMap { $0 }) }

    /// Sends a rendered request, filling secret references with `secret`.
    public func send(_ request: RenderedRequest, secret: @Sendable (String) -> String?) async -> ClientOutcome {
        var exchanges: [ExchangeRecord] = []
        var renewals: [String] = []
        if request.auth == .bearer {
            let remaining = token.map { $0.expiresAt.timeIntervalSinceNow } ?? -1
            let hadToken = token != nil
            if remaining < configuration.refreshMargin {
                let note =
                    token == nil
                    ? "authenticate (no token in this run yet)"
                    : "re-authenticate: the token has \(Int(max(0, remaining))) s left (Q-TOKEN-TTL)"
                if let failure = await authenticate(request, note: note, exchanges: &exchanges) {
                    return ClientOutcome(result: .failure(failure), exchanges: exchanges)
                }
                if hadToken {
                    renewals.append(
                        "it had \(Int(max(0, remaining))) s left, so the walkthrough called /auth again before \(request.requestID)")
                }
            }
        }
        var outcome = await sendWithRetries(request, secret: secret, note: nil, exchanges: &exchanges)
        if request.auth == .bearer, case .response(let response) = outcome, response.status == 401 {
            // Once: re-authenticate and try again (Q-TOKEN-TTL).
            if let failure = await authenticate(request, note: "re-authenticate after a 401 (Q-TOKEN-TTL)", exchanges: &exchanges) {
                return ClientOutcome(result: .failure(failure), exchanges: exchanges)
            }
            let said = response.json?["message"]?.stringValue.map { " (\($0))" } ?? ""
            renewals.append(
                "\(request.method) \(request.path) answered 401\(said), so the walkthrough called /auth again and sent \(request.requestID) once more"
            )
            outcome = await sendWithRetries(request, secret: secret, note: "sent again after re-authenticating", exchanges: &exchanges)
        }
        return ClientOutcome(result: outcome, exchanges: exchanges, renewals: renewals)
    }

    /// `POST /auth` for the client's own token; returns why it failed, if it did.
    func authenticate(_ cause: RenderedRequest, note: String, exchanges: inout [ExchangeRecord]) async -> String? {
        let auth = RenderedRequest(
            stepID: cause.stepID, requestID: "auth", label: note, method: "POST", path: "/auth", auth: .apiKey, idempotencyKey: nil,
            body: ["client_id": "{{ client_id }}", "password": "{{ password }}"], repeatable: true
        )
        let password = self.password
        let clientID = self.clientID
        let result = await sendWithRetries(
            auth, secret: { $0 == "password" ? password : ($0 == "client_id" ? clientID : nil) }, note: note, exchanges: &exchanges
        )
        guard case .response(let response) = result else {
            if case .failure(let message) = result { return "Re-authentication failed: \(message)" }
            return "Re-authentication failed"
        }
        guard response.status == 200, let json = response.json,
            let value = (json["data"]?["access_token"] ?? json["access_token"])?.stringValue
        else {
            let message = response.json?["message"]?.stringValue ?? "HTTP \(response.status)"
            return "Re-authentication failed: \(message)"
        }
        let lifetime = (json["data"]?["expires_in"] ?? json["expires_in"])?.doubleValue
        token = (value, Date().addingTimeInterval(lifetime ?? 3600))
        return nil
    }

    /// One logical request: retried with backoff and jitter when that is safe.
    func sendWithRetries(
        _ request: RenderedRequest, secret: @Sendable (String) -> String?, note: String?, exchanges: inout [ExchangeRecord]
    ) async -> ClientOutcome.Result {
        // GETs, keyed POSTs, and requests the flow marks safe to repeat (its /auth).
        let retryable = request.repeatable
        var attempt = 1
        var attemptNote = note
        // The first network failure, shown once: a retry that fails the same way says so briefly.
        var firstFailure: (message: String, error: any Error)?
        while true {
            let attemptOutcome = await attemptOnce(request, secret: secret, note: attemptNote)
            let (result, retryAfter) = (attemptOutcome.0, attemptOutcome.2)
            var exchange = attemptOutcome.1
            if case .failure(let message) = result, let first = firstFailure, first.message == message {
                exchange.error = "The same failure again (as attempt 1)"
            }
            exchanges.append(exchange)
            let transient: String?
            switch result {
            case .failure(let message):
                if firstFailure == nil, let error = lastError { firstFailure = (message, error) }
                transient = firstFailure?.message == message && attempt > 1 ? "the same failure" : message
            case .response(let response):
                transient = [429, 502, 503, 504].contains(response.status) ? "HTTP \(response.status)" : nil
            }
            guard let reason = transient, retryable, attempt < configuration.maxAttempts else {
                // A network failure is explained once, at the end: the host and what to check.
                if case .failure(let message) = result, let first = firstFailure, first.message == message,
                    let url = URL(string: exchange.url), let advice = NetworkFailure.advice(for: first.error, url: url, attempts: attempt)
                {
                    return .failure(message + advice)
                }
                return result
            }
            let exponential = configuration.baseBackoff * (1 << (attempt - 1))
            var delay = min(configuration.maxBackoff, .nanoseconds(Int64.random(in: 0...max(1, exponential.nanoseconds))))
            if let retryAfter { delay = min(configuration.maxBackoff, .seconds(retryAfter)) }
            await sleep(delay)
            attempt += 1
            attemptNote = "retry \(attempt - 1) after \(reason)\(retryAfter.map { " (Retry-After: \($0) s)" } ?? "")"
        }
    }

    /// One HTTP round trip, recorded.
    func attemptOnce(_ request: RenderedRequest, secret: @Sendable (String) -> String?, note: String?) async -> (
        ClientOutcome.Result, ExchangeRecord, Int?
    ) {
        let url = baseURL + request.path
        let headers = Self.headers(for: request, apiKey: apiKey, token: token?.value, pinnedVersion: pinnedVersion, apiVersion: apiVersion)
        let bodyBytes = request.body.map { DataURL.embedding(embeddedFiles, in: Self.fill($0, secret: secret)).serialized() } ?? []
        var httpRequest = HTTPClientRequest(url: url)
        httpRequest.method = HTTPMethod(rawValue: request.method)
        for (name, value) in headers { httpRequest.headers.add(name: name, value: value) }
        if !bodyBytes.isEmpty { httpRequest.body = .bytes(ByteBuffer(bytes: bodyBytes)) }

        let redactor = self.redactor
        let started = Date()
        let clock = ContinuousClock()
        let begin = clock.now
        var record = ExchangeRecord(
            sequence: 0, stepID: request.stepID, requestID: request.requestID, note: note, method: request.method, url: url,
            requestHeaders: redactor.redact(headers: headers),
            requestBody: request.body.map { redactor.redact(DataURL.shortening(Self.mask(secretReferencesIn: $0))).text(.pretty) },
            status: nil,
            responseHeaders: [], responseBody: nil, error: nil, startedAt: started, durationMilliseconds: 0
        )
        do {
            let http = self.http
            let sending = httpRequest
            let timeout = configuration.requestTimeout
            let (response, body) = try await Deadline.race(timeout, on: http.eventLoopGroup.any(), executor: configuration.executor) {
                let response = try await http.execute(sending, timeout: .nanoseconds(timeout.nanoseconds))
                return (response, Array(buffer: try await response.body.collect(upTo: 16 << 20)))
            }
            let elapsed = clock.now - begin
            record.durationMilliseconds = elapsed.milliseconds
            record.status = Int(response.status.code)
            record.responseHeaders = redactor.redact(headers: response.headers.map { ($0.name, $0.value) })
            record.responseBody = redactor.recordable(body: body)
            let json = try? JSONValue.parse(body)
            if json == nil, !body.isEmpty {
                let type = response.headers.first(name: "content-type") ?? "unknown type"
                record.error = "The body is not JSON (\(type)); shown as text."
            }
            let retryAfter = response.headers.first(name: "retry-after").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            return (
                .response(ResponseSummary(status: Int(response.status.code), json: json, text: String(decoding: body, as: UTF8.self))),
                record, retryAfter
            )
        } catch {
            lastError = error
            record.durationMilliseconds = (clock.now - begin).milliseconds
            let message = Self.describe(error, url: url)
            record.error = message
            return (.failure(message), record, nil)
        }
    }

    /// The headers a request carries (Q-AUTH-HEADERS, Q-VERSION-HEADER, Q-IDEMPOTENCY).
    public static func headers(
        for request: RenderedRequest, apiKey: String, token: String?, pinnedVersion: String?, apiVersion: String
    ) -> [(String, String)] {
        var headers: [(String, String)] = [("accept", "application/json"), ("user-agent", "kira-walkthrough")]
        if request.auth != .none { headers.append(("x-api-key", apiKey)) }
        if request.auth == .bearer { headers.append(("authorization", "Bearer \(token ?? "<token from step 2>")")) }
        if pinnedVersion == nil { headers.append(("x-api-version", apiVersion)) }
        if let key = request.idempotencyKey { headers.append(("idempotency-key", key)) }
        if request.body != nil { headers.append(("content-type", "application/json")) }
        // The flow's own headers last: `x-api-version: null` leaves the version out even before
        // the pin, a value sets it even after (Q-VERSION-HEADER).
        return RenderedHeader.apply(request.headers, to: headers)
    }

    /// What a request will look like on the wire, for showing before sending. Secrets are real
    /// here (memory only); `secrets` lists them so the presenter can mask them.
    public func preview(_ request: RenderedRequest, secret: (String) -> String?) -> RequestPreview {
        let headers = Self.headers(for: request, apiKey: apiKey, token: token?.value, pinnedVersion: pinnedVersion, apiVersion: apiVersion)
        return RequestPreview(
            method: request.method, url: baseURL + request.path, headers: headers.map { (name: $0.0, value: $0.1) },
            body: request.body.map { Self.fill($0, secret: secret) }, editableBody: request.body, label: request.label,
            idempotencyKey: request.idempotencyKey, secrets: [apiKey, password, clientID, token?.value].compactMap { $0 },
            requestID: request.requestID
        )
    }

    /// When the current token expires, if there is one.
    public var tokenExpiresAt: Date? { token?.expiresAt }

    static func describe(_ error: any Error, url: String) -> String {
        let text = String(describing: error)
        if text.contains("deadlineExceeded") || text.contains("readTimeout") || text.contains("writeTimeout") {
            return "No answer from \(url) in time (timed out)"
        }
        // A deadline that passed while the request still waited for a connection.
        if text.contains("connectTimeout") || text.contains("getConnectionFromPoolTimeout") {
            return "Could not connect to \(url) in time"
        }
        switch NetworkFailure.kind(of: error) {
        case .refused:
            return "Connection refused by \(url)"
        case .tls:
            // BoringSSL's own text names a source file of the machine that built the binary;
            // its reason code is the part a person can look up.
            let reason = NetworkFailure.tlsReason(of: error).map { " (\($0))" } ?? ""
            return "The TLS handshake with \(url) failed\(reason)"
        case .dropped:
            return "The connection to \(url) was dropped before a complete answer"
        case .nameResolution, .timeout, .other:
            return "Request to \(url) failed: \(text)"
        }
    }

    /// Fills `{{ name }}` secret references in a body.
    static func fill(_ value: JSONValue, secret: (String) -> String?) -> JSONValue {
        switch value {
        case .string(let text):
            guard text.contains("{{"), let template = try? Template(parsing: text) else { return value }
            return .string(template.render { secret($0) ?? "" } ?? text)
        case .array(let items): return .array(items.map { fill($0, secret: secret) })
        case .object(let object): return .object(JSONObject(object.entries.map { ($0.key, fill($0.value, secret: secret)) }))
        default: return value
        }
    }

    /// Secret references shown as the mask in records.
    static func mask(secretReferencesIn value: JSONValue) -> JSONValue {
        fill(value) { _ in Redactor.mask }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var milliseconds: Double { Double(nanoseconds) / 1_000_000 }
}

/// What a failure to reach the API means, in words a person can act on: which host, what kind of
/// failure (a name that does not resolve, a refused connection, a TLS handshake, no answer in
/// time), and what to check. Shown once, after the last retry, instead of with every attempt.
enum NetworkFailure {
    /// The kinds of network failure the advice tells apart.
    enum Kind: Equatable {
        case nameResolution, refused, tls, timeout, dropped, other
    }

    /// The kind of `error` (AsyncHTTPClient and NIO errors, read from their descriptions).
    static func kind(of error: any Error) -> Kind {
        let text = String(describing: error) + " " + String(reflecting: error)
        let lower = text.lowercased()
        if lower.contains("unknown(host") || lower.contains("dnsaerror") || lower.contains("dnsaaaaerror")
            || lower.contains("name or service not known") || lower.contains("nodename nor servname")
            || lower.contains("no address associated") || lower.contains("temporary failure in name resolution")
        {
            return .nameResolution
        }
        if lower.contains("connectionrefused") || lower.contains("connection refused") { return .refused }
        // NIOSSLError.uncleanShutdown: the peer closed the connection after the handshake.
        if lower.contains("uncleanshutdown") { return .dropped }
        if lower.contains("ssl") || lower.contains("tls") || lower.contains("handshake") || lower.contains("certificate") {
            return .tls
        }
        if lower.contains("timeout") || lower.contains("deadlineexceeded") { return .timeout }
        if lower.contains("closed") || lower.contains("reset") { return .dropped }
        return .other
    }

    /// The TLS library's reason code in `error` (`WRONG_VERSION_NUMBER`, `CERTIFICATE_VERIFY_FAILED`),
    /// read from BoringSSL's `error:…:SSL routines:OPENSSL_internal:REASON at file:line` text.
    static func tlsReason(of error: any Error) -> String? {
        let text = String(describing: error)
        guard let marker = text.range(of: "OPENSSL_internal:") else { return nil }
        let reason = text[marker.upperBound...].prefix { $0.isUppercase || $0.isNumber || $0 == "_" }
        return reason.isEmpty ? nil : String(reason)
    }

    /// The sentence added to the failure: the host, how many attempts, and what to check; `nil`
    /// for a failure the message already explains (a timeout, a dropped connection).
    static func advice(for error: any Error, url: URL, attempts: Int) -> String? {
        let host = url.host ?? url.absoluteString
        let place = url.port.map { "\(host):\($0)" } ?? host
        let tries = attempts > 1 ? " (\(attempts) attempts, all failing the same way)" : ""
        switch kind(of: error) {
        case .nameResolution:
            return "\(tries). The name \(host) does not resolve. What to check: the spelling of the base URL (--target), "
                + "your network connection, and your DNS (a VPN or proxy may be needed to reach it)."
        case .refused:
            return "\(tries). Nothing accepts connections at \(place). What to check: the base URL and port (--target), "
                + "that the server (or `kira-walkthrough sandbox serve`) is running, and any firewall in between."
        case .tls where tlsReason(of: error) == "WRONG_VERSION_NUMBER" && url.scheme == "https":
            // The first bytes back were not a TLS record: the server speaks plain HTTP there.
            return "\(tries). The server at \(place) answered in plain HTTP, not TLS. What to check: the scheme of the "
                + "base URL (--target): http:// instead of https:// (the local emulator, `kira-walkthrough sandbox serve`, "
                + "speaks plain http)."
        case .tls:
            return "\(tries). The TLS handshake with \(host) failed. What to check: that the URL names the right host, "
                + "the system clock, and any proxy that intercepts TLS (its certificate authority must be trusted)."
        case .timeout, .dropped, .other:
            return nil
        }
    }
}
