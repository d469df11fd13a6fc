import Foundation
import KiraJSON
import Yams

extension APIDescription {
    /// Parses an API description's YAML, naming `file` in problems. Pure: the caller reads the file.
    ///
    /// Every problem of the file is reported at once, each with its line and column: unknown keys,
    /// a `match` that is not `METHOD /path`, a `**` that is not last, an auth mode or a status that
    /// does not exist, a quirk id not of the form `Q-NAME` or listed twice, a rule's quirk that the
    /// catalogue does not list, a notice that refers to something the run cannot fill.
    public static func parse(_ text: String, file: String) throws(FlowLoadError) -> APIDescription {
        var loader = FlowLoader(file: file)
        let description = loader.parseAPI(text)
        guard let description, loader.problems.isEmpty else {
            throw FlowLoadError(problems: FlowLinter.sorted(loader.problems, flowFile: file))
        }
        return description
    }
}

extension FlowLoader {
    static let apiKeys: Set<String> = ["api", "title", "requests", "quirks", "webhooks"]

    mutating func parseAPI(_ text: String) -> APIDescription? {
        guard
            let (root, mapping) = rootMapping(
                text, expected: "An API description is a mapping with api, title, requests, quirks and webhooks")
        else { return nil }
        checkKeys(mapping, allowed: Self.apiKeys, in: "an API description")
        let id = requiredString(mapping, "api", in: root) ?? ""
        let title = optionalString(mapping, "title") ?? id
        var quirks: [APIQuirk] = []
        if let quirksNode = mapping["quirks"] {
            if let quirksMapping = quirksNode.mapping {
                var seen = Set<String>()
                for (key, value) in quirksMapping {
                    guard let quirkID = key.string else { continue }
                    if !Self.isQuirkID(quirkID) {
                        problem(key, "'\(quirkID)' is not a quirk id: Q- followed by capitals, digits and dashes")
                    }
                    if !seen.insert(quirkID).inserted { problem(key, "Quirk id '\(quirkID)' is listed twice") }
                    let summary = string(value, quirkID) ?? ""
                    if summary.isEmpty { problem(value, "Quirk \(quirkID) needs a one-line summary") }
                    quirks.append(APIQuirk(id: quirkID, summary: summary, location: location(key)))
                }
            } else {
                problem(quirksNode, "quirks is a mapping of quirk ids to one-line summaries")
            }
        }
        let catalogue = Set(quirks.map(\.id)).union(APIDescription.walkthroughQuirks.map(\.id))
        var rules: [APIRule] = []
        var ruleQuirks = RuleQuirks()
        if let requestsNode = mapping["requests"] {
            if let requestsMapping = requestsNode.mapping {
                checkKeys(requestsMapping, allowed: ["explained_by", "rules"], in: "requests")
                if let explainedNode = requestsMapping["explained_by"] {
                    if let explained = explainedNode.mapping {
                        checkKeys(explained, allowed: ["auth", "idempotency_key", "token_renewal"], in: "explained_by")
                        for key in ["auth", "idempotency_key", "token_renewal"] {
                            guard let node = explained[key], let quirkID = string(node, key) else { continue }
                            if !catalogue.contains(quirkID) {
                                problem(node, "explained_by names '\(quirkID)', which the quirks do not list")
                            }
                            switch key {
                            case "auth": ruleQuirks.auth = quirkID
                            case "idempotency_key": ruleQuirks.idempotencyKey = quirkID
                            default: ruleQuirks.tokenRenewal = quirkID
                            }
                        }
                    } else {
                        problem(explainedNode, "explained_by is {auth: QUIRK, idempotency_key: QUIRK, token_renewal: QUIRK}")
                    }
                }
                if let rulesNode = requestsMapping["rules"] {
                    if let sequence = rulesNode.sequence {
                        rules = sequence.compactMap { parseRule($0) }
                    } else {
                        problem(rulesNode, "rules is a list of {match: METHOD /path, …}")
                    }
                }
            } else {
                problem(requestsNode, "requests is a mapping: explained_by, rules")
            }
        }
        var registration: WebhookRegistration?
        if let webhooksNode = mapping["webhooks"] {
            if let webhooksMapping = webhooksNode.mapping {
                checkKeys(webhooksMapping, allowed: ["register"], in: "webhooks")
                if let registerNode = webhooksMapping["register"] { registration = parseRegistration(registerNode) }
            } else {
                problem(webhooksNode, "webhooks is a mapping: register")
            }
        }
        return APIDescription(
            id: id, title: title, rules: rules, ruleQuirks: ruleQuirks, quirks: quirks, webhookRegistration: registration, file: file)
    }

    static let methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]

    mutating func parseRule(_ node: Node) -> APIRule? {
        guard let mapping = node.mapping else {
            problem(node, "A rule is a mapping: match, auth, idempotency_key, safe_to_repeat, creates, does")
            return nil
        }
        checkKeys(mapping, allowed: ["match", "auth", "idempotency_key", "safe_to_repeat", "creates", "does"], in: "a rule")
        guard let matchNode = mapping["match"], let match = string(matchNode, "match") else {
            if mapping["match"] == nil { problem(node, "A rule needs 'match: METHOD /path'") }
            return nil
        }
        let parts = match.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count == 2, parts[0] == "*" || Self.methods.contains(parts[0]), parts[1].hasPrefix("/") else {
            problem(matchNode, "match is 'METHOD /path' (METHOD one of \(Self.methods.joined(separator: ", ")) or *), not '\(match)'")
            return nil
        }
        let segments = APIRule.segments(parts[1])
        for (index, segment) in segments.enumerated() {
            if segment == "**", index != segments.count - 1 { problem(matchNode, "'**' may only end a path pattern") }
            if segment.contains("{{") { problem(matchNode, "A path pattern writes an id segment as {name}, not {{ name }}") }
        }
        var auth: AuthMode?
        if let authNode = mapping["auth"], let text = string(authNode, "auth") {
            auth = AuthMode(rawValue: text)
            if auth == nil { problem(authNode, "auth must be none, api_key or bearer") }
        }
        func flag(_ key: String) -> Bool? { mapping[key] == nil ? nil : bool(mapping, key) }
        let creates = optionalString(mapping, "creates")
        let safeToRepeat = flag("safe_to_repeat")
        if creates != nil, safeToRepeat == true {
            problem(mapping["safe_to_repeat"], "A request that creates something is not safe to repeat (its idempotency key is)")
        }
        return APIRule(
            method: parts[0], pattern: parts[1], auth: auth, idempotencyKey: flag("idempotency_key"), safeToRepeat: safeToRepeat,
            creates: creates, does: optionalString(mapping, "does"), location: location(node)
        )
    }

    static let registrationKeys: Set<String> = [
        "method", "path", "auth", "label", "body", "expect", "public_url_env", "notices",
    ]

    mutating func parseRegistration(_ node: Node) -> WebhookRegistration? {
        guard let mapping = node.mapping else {
            problem(node, "register is a mapping: \(Self.registrationKeys.sorted().joined(separator: ", "))")
            return nil
        }
        checkKeys(mapping, allowed: Self.registrationKeys, in: "a webhook registration")
        let method = (requiredString(mapping, "method", in: node) ?? "POST").uppercased()
        if !Self.methods.contains(method) { problem(mapping["method"], "method must be one of \(Self.methods.joined(separator: ", "))") }
        let path = requiredString(mapping, "path", in: node) ?? "/"
        if !path.hasPrefix("/") { problem(mapping["path"], "A path starts with '/' (it is appended to the target's base URL)") }
        let (auth, body, expect) = authBodyExpect(
            mapping, in: node, defaultAuth: .bearer, expectMeans: "the statuses that mean the registration worked")
        var notices = WebhookRegistration.Notices.standard
        if let noticesNode = mapping["notices"] {
            if let noticesMapping = noticesNode.mapping {
                checkKeys(noticesMapping, allowed: ["registered", "failed", "needs_public_url"], in: "notices")
                func text(_ key: String, _ fallback: String) -> String {
                    guard let node = noticesMapping[key], let value = string(node, key) else { return fallback }
                    if let parsed = template(node, value) {
                        for name in parsed.references where !WebhookRegistration.noticeReferences.contains(name) {
                            problem(
                                node,
                                "Unknown reference '{{ \(name) }}' in the \(key) notice: a notice may use "
                                    + WebhookRegistration.noticeReferences.sorted().joined(separator: ", ")
                            )
                        }
                    }
                    return value
                }
                notices = WebhookRegistration.Notices(
                    registered: text("registered", notices.registered), failed: text("failed", notices.failed),
                    needsPublicURL: text("needs_public_url", notices.needsPublicURL)
                )
            } else {
                problem(noticesNode, "notices is a mapping: registered, failed, needs_public_url")
            }
        }
        return WebhookRegistration(
            method: method, path: path, auth: auth, body: body, expect: expect,
            label: optionalString(mapping, "label") ?? "Register the webhook listener",
            publicURLEnvironment: optionalString(mapping, "public_url_env"), notices: notices, location: location(node)
        )
    }
}
