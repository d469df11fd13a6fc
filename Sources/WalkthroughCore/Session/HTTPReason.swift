/// The reason phrases of the HTTP statuses an exchange can show, for status lines
/// (`201 Created`) in the terminal interface, the plain output, transcripts and HAR files.
public enum HTTPReason {
    static let phrases: [Int: String] = [
        200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
        413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity", 429: "Too Many Requests",
        500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
    ]

    /// The reason phrase of `status`, or an empty string for a status not listed.
    public static func text(_ status: Int) -> String { phrases[status] ?? "" }
}
