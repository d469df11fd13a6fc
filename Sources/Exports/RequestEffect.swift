import Foundation
import WalkthroughCore

/// What a request does to the sandbox, in words: `POST /v1/users` creates a user.
public enum RequestEffect {
    /// Calls with a meaning of their own, by method and path pattern (`{}` is any one segment).
    static let known: [(method: String, pattern: String, effect: String)] = [
        ("POST", "/auth", "exchanges the credentials for an access token (creates nothing)"),
        ("POST", "/v1/versioning/upgrade", "pins the account's API version"),
        ("POST", "/v1/virtual-accounts/{}/simulate-deposit", "creates a simulated deposit on a virtual account"),
        ("POST", "/v1/virtual-accounts/{}/payout/preview", "previews a payout's fees (creates nothing)"),
        ("POST", "/v1/virtual-accounts/{}/payout", "creates a payout"),
        ("GET", "/v1/virtual-accounts/{}/balance", "reads a virtual account's balance"),
        ("POST", "/webhooks/register", "registers the webhook URL"),
    ]

    /// What `method path` does; references in the path count as ids.
    public static func describe(method: String, path: String) -> String {
        let bare = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        let segments = bare.split(separator: "/").map(String.init)
        let hasQuery = bare != path
        for entry in known where entry.method == method {
            let pattern = entry.pattern.split(separator: "/").map(String.init)
            guard pattern.count == segments.count else { continue }
            if zip(pattern, segments).allSatisfy({ $0 == "{}" ? true : $0 == $1 }) { return entry.effect }
        }
        // Generic REST: /v1/<collection>[/<id>[/<sub-collection>]].
        let resources = segments.filter { $0 != "v1" }
        guard let last = resources.last else { return "calls \(method) \(path)" }
        let lastIsID = isIdentifier(last)
        let collection = lastIsID ? (resources.dropLast().last ?? last) : last
        let noun = singular(collection)
        let article = noun.first.map { "aeio".contains($0) } == true ? "an" : "a"
        switch (method, lastIsID) {
        case ("POST", false): return "creates \(article) \(noun)"
        case ("GET", true): return "reads \(article) \(noun)"
        case ("GET", false): return "lists \(plural(collection))\(hasQuery ? " (filtered)" : "")"
        case ("PUT", _): return "updates \(article) \(noun)"
        case ("DELETE", _): return "deletes \(article) \(noun)"
        default: return "calls \(method) on \(article) \(noun)"
        }
    }

    /// Whether a path segment is an id: a template reference or a UUID.
    static func isIdentifier(_ segment: String) -> Bool {
        segment.contains("{{") || UUID(uuidString: segment) != nil || segment.allSatisfy(\.isNumber)
    }

    static func plural(_ collection: String) -> String { collection.replacingOccurrences(of: "-", with: " ") }

    static func singular(_ collection: String) -> String {
        var words = plural(collection)
        if words.hasSuffix("ies") {
            words = String(words.dropLast(3)) + "y"
        } else if words.hasSuffix("s"), !words.hasSuffix("ss") {
            words.removeLast()
        }
        return words
    }
}
