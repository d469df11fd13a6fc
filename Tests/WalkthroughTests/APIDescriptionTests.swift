import Foundation
import KiraJSON
import Testing

@testable import WalkthroughCore

/// The API description a flow names (`api:`): its rules, its quirk catalogue, its webhook
/// registration, and the problems of the file itself, each at its line and column.
@Suite struct APIDescriptionTests {
    static let description = """
        api: shop
        title: A shop
        requests:
          explained_by: { auth: Q-KEYS, idempotency_key: Q-ONCE }
          rules:
            - match: POST /login
              auth: api_key
              safe_to_repeat: true
              does: logs in
            - match: POST /api/carts
              idempotency_key: true
              creates: a cart
            - match: "* /api/**"
              auth: bearer
        quirks:
          Q-KEYS: keys everywhere
          Q-ONCE: once only
        """

    func shop() throws -> APIDescription { try APIDescription.parse(Self.description, file: "flows/shop-api.yaml") }

    @Test func theRulesCascadeInOrder() throws {
        let api = try shop()
        let cart = api.traits(method: "POST", path: "/api/carts")
        #expect(cart.auth == .bearer, "from the catch-all below it")
        #expect(cart.idempotencyKey == true)
        #expect(cart.creates == "a cart")
        #expect(cart.effect == "creates a cart")
        #expect(cart.matched.map(\.match) == ["POST /api/carts", "* /api/**"])
        let login = api.traits(method: "POST", path: "/login")
        #expect(login.auth == .apiKey && login.safeToRepeat == true && login.effect == "logs in" && login.creates == nil)
        // Unlisted calls are read as REST; references count as one segment.
        #expect(api.traits(method: "GET", path: "/api/carts/{{ cart_id }}").effect == "reads a cart")
        #expect(api.traits(method: "GET", path: "/api/carts/{{ cart_id }}").auth == .bearer)
        #expect(api.traits(method: "GET", path: "/elsewhere").auth == nil)
        #expect(
            APIRule(method: "GET", pattern: "/a/{id}/b", location: .init(file: "f", line: 1, column: 1)).matches(
                method: "GET", path: "/a/{{ x }}/b?q=1"))
        #expect(
            !APIRule(method: "GET", pattern: "/a/{id}", location: .init(file: "f", line: 1, column: 1)).matches(
                method: "GET", path: "/a/x/b"))
        #expect(api.quirkIDs == ["Q-KEYS", "Q-ONCE", "Q-WAIT-TIMEOUT"])
    }

    @Test func theDescriptionsOwnProblemsHaveTheirFileLineAndColumn() {
        let broken = """
            api: shop
            colour: red
            requests:
              explained_by: { auth: Q-NOWHERE }
              rules:
                - match: FETCH /carts
                - match: GET /a/**/b
                - match: GET /carts
                  auth: sometimes
            quirks:
              Q-KEYS: keys
              not-a-quirk: x
            webhooks:
              register:
                method: POST
                path: /hooks
                expect: [200]
                notices:
                  registered: "at {{ somewhere }}"
            """
        var problems: [FlowProblem] = []
        do {
            _ = try APIDescription.parse(broken, file: "flows/shop-api.yaml")
        } catch {
            problems = error.problems
        }
        func at(_ line: Int, _ column: Int, _ words: String) {
            #expect(
                problems.contains {
                    $0.location == SourceLocation(file: "flows/shop-api.yaml", line: line, column: column) && $0.message.contains(words)
                },
                "\(line):\(column) \(words) in \(problems)")
        }
        at(2, 1, "Unknown key 'colour'")
        at(4, 25, "explained_by names 'Q-NOWHERE'")
        at(6, 14, "match is 'METHOD /path'")
        at(7, 14, "'**' may only end a path pattern")
        at(9, 13, "auth must be none, api_key or bearer")
        at(12, 3, "is not a quirk id")
        at(19, 19, "Unknown reference '{{ somewhere }}' in the registered notice")
        #expect(problems.count == 7, "\(problems)")
    }

    static func flow(_ text: String, api: String = description) throws(FlowLoadError) -> Flow {
        try FlowLoader.load(text, file: "flows/shop.yaml") { $0 == "shop-api.yaml" ? api : nil }
    }

    static let shopFlow = """
        flow: shop
        title: Shop
        api: shop-api.yaml
        api_version: "1"
        inputs:
          key: { secret: true, credential: api_key }
        steps:
          - id: buy
            title: Buy
            explain: Buy
            requests:
              - id: login
                method: POST
                path: /login
                expect: [200]
              - id: cart
                method: POST
                path: /api/carts
                idempotency: true
                expect: [201]
        """

    @Test func aFlowTakesItsDefaultsFromTheRulesAndKeepsItsDescription() throws {
        let flow = try Self.flow(Self.shopFlow)
        #expect(flow.apiFile == "shop-api.yaml")
        #expect(flow.api.id == "shop" && flow.api.file == "flows/shop-api.yaml")
        let login = try #require(flow.steps.first?.requests.first)
        #expect(login.auth == .apiKey, "unwritten, the credentials are the rule's")
        #expect(login.safeToRepeat, "unwritten, the rule says a login is safe to repeat")
        #expect(flow.steps.first?.requests.last?.auth == .bearer)
    }

    @Test func requestsThatBreakTheRulesAreRefusedCitingTheRulesQuirks() {
        let text = Self.shopFlow.replacingOccurrences(
            of: "        idempotency: true\n", with: "        safe_to_repeat: true\n        auth: none\n")
        var messages: [String] = []
        do {
            _ = try Self.flow(text)
        } catch {
            messages = error.problems.map(\.message)
        }
        #expect(messages.contains { $0.contains("POST /api/carts needs 'idempotency: true'") && $0.hasSuffix("(Q-ONCE)") }, "\(messages)")
        #expect(messages.contains { $0.contains("POST /api/carts needs auth: bearer, not none (Q-KEYS)") }, "\(messages)")
        #expect(messages.contains { $0.contains("creates a cart") && $0.contains("not safe_to_repeat") }, "\(messages)")
    }

    @Test func aFlowWithoutADescriptionKnowsNoAPIsRules() throws {
        // What the quickstart's description forbids is nobody's rule here: the rules are data.
        let text = """
            flow: bare
            title: Bare
            api_version: "1"
            steps:
              - id: one
                title: One
                explain: x
                requests:
                  - id: create
                    method: POST
                    path: /v1/users
                    auth: api_key
                    safe_to_repeat: true
                    expect: [201]
                    quirks:
                      - id: Q-ANYTHING
                        effect: note
                        when: { status: 201 }
                        explain: x
            """
        let flow = try FlowLoader.load(text, file: "bare.yaml")
        #expect(flow.api.rules.isEmpty && flow.api.quirks.isEmpty && flow.api.webhookRegistration == nil && flow.apiFile == nil)
        #expect(flow.steps[0].requests[0].auth == .apiKey)
        // Only validation asks for a catalogue, and says there is none.
        let check = FlowLinter.check(text, file: "bare.yaml") { _ in nil }
        #expect(
            check.issues.map(\.message) == [
                "Unknown quirk id 'Q-ANYTHING': the flow names no API description (api:), so it has no quirk catalogue"
            ])
    }

    @Test func problemsOfTheDescriptionAndAnUnreadableOneSurfaceWhenAFlowLoads() {
        var problems: [FlowProblem] = []
        do {
            _ = try Self.flow(
                Self.shopFlow, api: Self.description.replacingOccurrences(of: "match: POST /login", with: "match: POST login"))
        } catch {
            problems = error.problems
        }
        #expect(
            problems.contains { $0.location.file == "flows/shop-api.yaml" && $0.location.line == 6 && $0.message.contains("METHOD /path") })
        // What it could read still counts: its catalogue, so the flow's quirk ids are not reported too.
        let quirky = Self.shopFlow + "\n        quirks: [{ id: Q-ONCE, effect: note, when: { status: 500 }, explain: x }]"
        let broken = Self.description.replacingOccurrences(of: "match: POST /login", with: "match: POST login")
        let check = FlowLinter.check(quirky, file: "flows/shop.yaml") { $0 == "shop-api.yaml" ? broken : nil }
        #expect(check.issues.map(\.location.file) == ["flows/shop-api.yaml"], "\(check.issues)")
        let unreadable = FlowLinter.check(quirky, file: "flows/shop.yaml") { _ in nil }
        #expect(unreadable.issues.map(\.location.line) == [3], "only the api: line: \(unreadable.issues)")
        do {
            _ = try FlowLoader.load(Self.shopFlow, file: "flows/shop.yaml")
            Issue.record("a flow whose description cannot be read must not load")
        } catch {
            #expect(
                error.problems.contains {
                    $0.location.line == 3 && $0.message.contains("Cannot read the API description 'shop-api.yaml' (flows/shop-api.yaml)")
                })
        }
    }

    @Test func theQuickstartsWebhookWaitCarriesItsQuirkAndTextsFromTheFlow() throws {
        let flow = try quickstart()
        let wait = try #require(flow.steps.flatMap(\.requests).compactMap(\.webhook).first)
        #expect(wait.quirk == "Q-DEPOSIT-INVISIBLE")
        let record = WebhookEventRecord(
            event: "virtual_account.deposit_funds_received", eventID: "evt_1", verified: true, receivedAt: Date(), body: nil)
        #expect(
            wait.explanation(.arrived(record), value: { _ in nil })
                == "The virtual_account.deposit_funds_received webhook arrived (evt_1), its x-signature-sha256 verified: the deposit is confirmed."
        )
        var unverified = record
        unverified.verified = false
        #expect(
            wait.explanation(.arrived(unverified), value: { _ in nil })
                == "The virtual_account.deposit_funds_received webhook arrived (evt_1), but its signature did NOT verify with the registered secret."
        )
        #expect(
            wait.explanation(.missed, value: { _ in nil })
                == "No virtual_account.deposit_funds_received webhook within 10 s. Webhooks are delivered once, without retry; the 201 already confirmed the deposit."
        )
        #expect(
            wait.explanation(.notListening, value: { _ in nil })
                == "The virtual_account.deposit_funds_received webhook confirms this in a real integration; run with --webhook-listen HOST:PORT to receive it here."
        )
    }

    @Test func webhookExplanationsMayUseTheFlowsValuesButNoUnknownReference() throws {
        let base =
            Self.shopFlow + """

                        capture:
                          cart_id: id
                        webhook:
                          event: cart.made
                          timeout: 3s
                          explain:
                            verified: Cart {{ cart_id }} is {{ event_id }}.
                            missed: Nothing for {{ cart_id }} in {{ timeout }} s; {{ event_id }} is unknown here.
                """
        var messages: [String] = []
        do {
            _ = try Self.flow(base)
        } catch {
            messages = error.problems.map(\.message)
        }
        #expect(messages.count == 1, "\(messages)")
        #expect(messages.first?.contains("'{{ event_id }}' in the missed explanation") == true)
        let flow = try Self.flow(base.replacingOccurrences(of: "; {{ event_id }} is unknown here", with: ""))
        let wait = try #require(flow.steps.first?.requests.last?.webhook)
        #expect(wait.quirk == nil)
        #expect(wait.explanation(.missed, value: { $0 == "cart_id" ? "c1" : nil }) == "Nothing for c1 in 3 s.")
        #expect(
            wait.explanation(.notListening, value: { _ in nil })
                == WebhookWait.Explanations.standard.notListening.replacingOccurrences(of: "{{ event }}", with: "cart.made"))
    }

    @Test func theWebhookRegistrationIsData() throws {
        let flow = try quickstart()
        let registration = try #require(flow.api.webhookRegistration)
        #expect(registration.method == "POST" && registration.auth == .bearer && registration.expect == [200])
        #expect(registration.publicURLEnvironment == "KIRA_WEBHOOK_PUBLIC_URL")
        // Known values are filled; secrets and credentials stay references for the client.
        let body = registration.renderedBody { $0 == "webhook_url" ? "http://127.0.0.1:9/hook" : nil }
        #expect(body?["webhook_url"] == "http://127.0.0.1:9/hook")
        #expect(body?["secret"] == "{{ webhook_secret }}")
        #expect(body?["client_uuid"] == "{{ client_id }}")
        #expect(
            WebhookRegistration.notice(
                registration.notices.needsPublicURL, webhookURL: "u", listenerURL: "http://127.0.0.1:9",
                publicURLEnvironment: registration.publicURLEnvironment)
                == "Webhooks: listening on http://127.0.0.1:9, but the real sandbox can only reach a public URL. Expose it with a tunnel and set KIRA_WEBHOOK_PUBLIC_URL to register it."
        )
        // A body that refers to something neither the flow nor the run provides is refused.
        let api =
            Self.description + """

                webhooks:
                  register:
                    method: POST
                    path: /hooks
                    body: { where: "{{ webhook_url }}", who: "{{ nobody }}", key: "{{ key }}", id: "{{ client_id }}" }
                    expect: [200]
                """
        var messages: [String] = []
        do {
            _ = try Self.flow(Self.shopFlow, api: api)
        } catch {
            messages = error.problems.map(\.message)
        }
        #expect(messages.count == 1 && messages.first?.contains("'{{ nobody }}' in the webhook registration's body") == true, "\(messages)")
    }
}
