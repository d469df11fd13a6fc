import KiraJSON

/// An error response of the emulated API: a status and the exact body the sandbox sends.
struct APIError: Error, Sendable {
    var status: Int
    var body: JSONValue
    var headers: [(name: String, value: String)] = []

    /// The docs.kirafin.ai error body: `{"code","message","errors"?}`.
    static func api(_ status: Int, _ code: String, _ message: String, errors: [(field: String, message: String)] = []) -> APIError {
        var object: JSONObject = ["code": .string(code), "message": .string(message)]
        if !errors.isEmpty {
            object["errors"] = .array(errors.map { .object(["field": .string($0.field), "message": .string($0.message)]) })
        }
        return APIError(status: status, body: .object(object))
    }

    /// A 400 `validation_error` about one field.
    static func validation(_ field: String, _ message: String) -> APIError {
        api(400, "validation_error", "\(field): \(message)", errors: [(field, message)])
    }

    /// A 400 `validation_error` with a message of its own.
    static func validation(message: String, field: String? = nil) -> APIError {
        api(400, "validation_error", message, errors: field.map { [($0, message)] } ?? [])
    }

    /// A 400 `invalid_enum_value` listing the accepted values.
    static func invalidEnum(_ field: String, _ value: String, accepted: [String]) -> APIError {
        api(
            400, "invalid_enum_value",
            "Invalid value '\(value)' for \(field). Accepted values: \(accepted.joined(separator: ", "))",
            errors: [(field, "Must be one of: \(accepted.joined(separator: ", "))")]
        )
    }

    static func notFound(_ what: String) -> APIError { api(404, "not_found", "\(what) not found") }

    /// The gateway's bare `{"message":"Forbidden"}`.
    static let forbidden = APIError(status: 403, body: ["message": "Forbidden"])

    /// What the gateway says to any PATCH.
    static let patchRejected = APIError(
        status: 403,
        body: ["message": "Invalid key=value pair (missing equal-sign) in Authorization header"]
    )

    /// Q-LIMIT-100: a raw 500.
    static let limitOverflow = APIError(status: 500, body: ["status": "error", "message": "Internal server error"])
}

/// A successful answer of a route: a status and a JSON body.
struct APIResult: Sendable {
    var status: Int
    var body: JSONValue
    var headers: [(name: String, value: String)] = []

    static func ok(_ body: JSONValue) -> APIResult { APIResult(status: 200, body: body) }
    static func created(_ body: JSONValue) -> APIResult { APIResult(status: 201, body: body) }
}
