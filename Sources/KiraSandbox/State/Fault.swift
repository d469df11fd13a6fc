import KiraJSON

/// An injected fault: the next `remaining` requests that match answer differently.
struct Fault: Sendable {
    enum Action: Sendable {
        /// Answer this instead of the API.
        case respond(SandboxResponse)
        /// Handle the request, but send the answer this much later.
        case delay(Duration)
        /// Close the connection without an answer.
        case drop
    }

    var method: String
    /// Path segments after `/sandbox`; `*` matches one segment.
    var pattern: [String]
    var remaining: Int
    var action: Action
    var kind: String

    func matches(_ request: SandboxRequest) -> Bool {
        guard method == "*" || method == request.method else { return false }
        var segments = request.path.split(separator: "/").map(String.init)
        if segments.first == "sandbox" { segments.removeFirst() }
        guard segments.count == pattern.count else { return false }
        return zip(pattern, segments).allSatisfy { $0 == "*" || $0 == $1 }
    }

    var json: JSONValue {
        [
            "method": .string(method), "path": .string("/" + pattern.joined(separator: "/")), "kind": .string(kind),
            "remaining": .int(remaining),
        ]
    }

    /// The HTML page a gateway answers with when the upstream is down.
    static func htmlErrorPage(status: Int) -> [UInt8] {
        let reasons = [500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"]
        let title = "\(status) \(reasons[status] ?? "Error")"
        return Array(
            """
            <html>
            <head><title>\(title)</title></head>
            <body>
            <center><h1>\(title)</h1></center>
            <hr><center>awselb/2.0</center>
            </body>
            </html>

            """.utf8
        )
    }

    /// Parses `POST /__emulator/faults`.
    ///
    /// `{"method","path","count","kind":"status"|"html"|"malformed_json"|"delay"|"drop","status","body","retry_after","delay_ms"}`
    static func parse(_ body: BodyFields) throws(APIError) -> Fault {
        let method = (try body.string("method") ?? "*").uppercased()
        let path = try body.requiredString("path")
        var pattern = path.split(separator: "/").map(String.init)
        if pattern.first == "sandbox" { pattern.removeFirst() }
        func integer(_ key: String) throws(APIError) -> Int? {
            guard let value = body.object[key], value != .null else { return nil }
            guard let number = value.intValue else { throw APIError.validation(key, "Must be an integer") }
            return number
        }
        let count = try integer("count") ?? 1
        guard count >= 1, count <= 10_000 else { throw APIError.validation("count", "Must be between 1 and 10000") }
        let kind = try body.requiredEnumeration("kind", ["status", "html", "malformed_json", "delay", "drop"])
        var headers: [(name: String, value: String)] = []
        if let retryAfter = try integer("retry_after") {
            headers.append(("retry-after", String(retryAfter)))
        }
        let status = try integer("status")
        if let status, !(100...599).contains(status) { throw APIError.validation("status", "Must be an HTTP status code") }
        let action: Action
        switch kind {
        case "status":
            guard let status else { throw APIError.validation("status", "Required for kind 'status'") }
            let payload: [UInt8]
            var contentType = "application/json"
            switch body.object["body"] {
            case .none, .some(.null): payload = JSONValue.object(["message": .string("Injected fault: HTTP \(status)")]).serialized()
            case .some(.string(let text)):
                payload = Array(text.utf8)
                contentType = "text/plain; charset=utf-8"
            case .some(let json): payload = json.serialized()
            }
            action = .respond(SandboxResponse(status: status, headers: [("content-type", contentType)] + headers, body: payload))
        case "html":
            action = .respond(
                SandboxResponse(
                    status: status ?? 502, headers: [("content-type", "text/html")] + headers, body: htmlErrorPage(status: status ?? 502))
            )
        case "malformed_json":
            action = .respond(
                SandboxResponse(
                    status: status ?? 200, headers: [("content-type", "application/json")] + headers,
                    body: Array("{\"data\": {\"id\": \"3f0c".utf8)
                )
            )
        case "delay":
            guard let milliseconds = try integer("delay_ms"), milliseconds >= 0, milliseconds <= 600_000 else {
                throw APIError.validation("delay_ms", "Required for kind 'delay': milliseconds between 0 and 600000")
            }
            action = .delay(.milliseconds(milliseconds))
        default:
            action = .drop
        }
        return Fault(method: method, pattern: pattern, remaining: count, action: action, kind: kind)
    }
}

extension SandboxState {
    /// Consumes one use of the first fault that matches.
    func takeFault(matching request: SandboxRequest) -> Fault.Action? {
        guard !faults.isEmpty, !request.path.hasPrefix("/__emulator"),
            let index = faults.firstIndex(where: { $0.matches(request) })
        else { return nil }
        let action = faults[index].action
        faults[index].remaining -= 1
        if faults[index].remaining == 0 { faults.remove(at: index) }
        return action
    }
}
