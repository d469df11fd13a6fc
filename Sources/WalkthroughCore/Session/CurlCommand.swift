import Foundation
import KiraJSON

/// A request as a curl command a person can paste: credentials as `$KIRA_*` variables, never
/// literal; the base URL as `${KIRA_BASE_URL:-…}`.
public enum CurlCommand {
    /// The shell variable a secret reference becomes (`{{ password }}` → `KIRA_PASSWORD`).
    public static func variable(for reference: String) -> String {
        reference == "access_token" ? "ACCESS_TOKEN" : "KIRA_" + reference.uppercased()
    }

    /// Renders `preview` with its editable body (secret references become variables).
    public static func render(_ preview: RequestPreview, baseURLVariable: String = "KIRA_BASE_URL", baseURL: String) -> String {
        let path = preview.url.hasPrefix(baseURL) ? String(preview.url.dropFirst(baseURL.count)) : preview.url
        var lines = ["curl -sS -X \(preview.method) \"${\(baseURLVariable):-\(baseURL)}\(ShellQuoting.doubleQuotedContent(path))\""]
        for header in preview.headers where !["accept", "user-agent"].contains(header.name.lowercased()) {
            let value: String
            switch header.name.lowercased() {
            case "x-api-key": value = "$KIRA_API_KEY"
            case "authorization": value = "Bearer $ACCESS_TOKEN"
            case "idempotency-key": value = "$(uuidgen)"
            default: value = ShellQuoting.doubleQuotedContent(header.value)
            }
            lines.append("  -H \"\(header.name): \(value)\"")
        }
        if let body = preview.editableBody {
            lines.append("  -d \"\(bodyWithVariables(body))\"")
        }
        return lines.joined(separator: " \\\n")
    }

    /// The compact JSON body for a double-quoted shell string, with `{{ name }}` as `$VARIABLE`.
    static func bodyWithVariables(_ body: JSONValue) -> String {
        var text = ShellQuoting.doubleQuotedContent(body.text())
        while let open = text.range(of: "{{"), let close = text.range(of: "}}", range: open.upperBound..<text.endIndex) {
            let name = text[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            text.replaceSubrange(open.lowerBound..<close.upperBound, with: "${\(variable(for: name))}")
        }
        return text
    }
}
