import Foundation
import KiraJSON
import Testing
import WalkthroughPresentation

@testable import KiraSandbox
@testable import WalkthroughCore
@testable import WalkthroughRunner

/// The runner registers its webhook listener as the flow's API description says, once the request
/// that obtains the bearer token (a capture with that role, whatever the request's id) has run.
@Suite struct WebhookRegistrationTests {
    static let flowText = """
        flow: hooks
        title: Hooks
        api: kira-api.yaml
        api_version: "2026-04-14"
        inputs:
          api_key: { secret: true, credential: api_key }
          client_id: { secret: true, credential: client_id, format: uuid }
          password: { secret: true, credential: password }
        steps:
          - id: credentials
            title: Credentials
            explain: The three credentials.
            inputs: [api_key, client_id, password]
          - id: look
            title: Look
            explain: A token, then a list.
            requests:
              - id: token
                method: POST
                path: /auth
                body: { client_id: "{{ client_id }}", password: "{{ password }}" }
                expect: [200]
                capture:
                  access_token: { path: [data.access_token], secret: true, role: bearer_token }
              - id: users
                method: GET
                path: /v1/users?limit=1
                expect: [200]
        """

    func flow() throws -> Flow { try FlowLoader.load(Self.flowText, file: "flows/hooks.yaml", readFile: shippedFlowFile) }

    @Test func theRegistrationIsTheDescriptionsAndFollowsTheTokenRequest() async throws {
        var flow = try flow()
        flow.api.webhookRegistration?.notices.registered = "Hooked at {{ webhook_url }} (listening on {{ listener_url }})."
        try await WalkthroughFixture.with { fixture in
            let presenter = RecordingPresenter()
            let outcome = await fixture.run(flow, presenter: presenter) { $0.webhookListen = ("127.0.0.1", 0) }
            #expect(outcome == .completed)
            let exchanges = await presenter.exchanges
            let paths = exchanges.map { URL(string: $0.url)?.path ?? $0.url }
            let register = try #require(exchanges.first { $0.requestID == "register_webhook" }, "\(paths)")
            #expect(register.method == "POST" && register.url.hasSuffix("/webhooks/register") && register.status == 200)
            // After the token request (not before it: it needs the token), before the list.
            let order = exchanges.map(\.requestID)
            #expect(order.firstIndex(of: "token")! < order.firstIndex(of: "register_webhook")!)
            #expect(order.firstIndex(of: "register_webhook")! < order.firstIndex(of: "users")!)
            // The secret and the credential are never recorded; the URL is.
            let body = register.requestBody ?? ""
            #expect(body.contains("http://127.0.0.1:") && !body.contains(TenantCredentials.demo.clientID), "\(body)")
            let notices = await presenter.notices
            #expect(
                notices.contains { $0.hasPrefix("Hooked at http://127.0.0.1:") && $0.contains("(listening on http://127.0.0.1:") },
                "\(notices)")
        }
    }

    @Test func withoutAPublicURLOnAnotherTargetTheDescriptionsNoticeExplains() async throws {
        var flow = try flow()
        flow.api.webhookRegistration?.publicURLEnvironment = "HOOKS_PUBLIC_URL"
        try await WalkthroughFixture.with { fixture in
            let presenter = RecordingPresenter()
            let outcome = await fixture.run(flow, presenter: presenter, isEmulator: false) { $0.webhookListen = ("127.0.0.1", 0) }
            #expect(outcome == .completed)
            #expect(await presenter.exchanges.allSatisfy { $0.requestID != "register_webhook" })
            let notices = await presenter.notices
            #expect(
                notices.contains { $0.contains("set HOOKS_PUBLIC_URL to register it") && $0.contains("listening on http://127.0.0.1:") },
                "\(notices)")
        }
    }

    @Test func anAPIWithoutARegistrationRegistersNothing() async throws {
        var flow = try flow()
        flow.api.webhookRegistration = nil
        try await WalkthroughFixture.with { fixture in
            let presenter = RecordingPresenter()
            let outcome = await fixture.run(flow, presenter: presenter) { $0.webhookListen = ("127.0.0.1", 0) }
            #expect(outcome == .completed)
            #expect(await presenter.exchanges.map(\.requestID) == ["token", "users"])
            #expect(await presenter.notices.allSatisfy { !$0.contains("Webhooks:") })
        }
    }
}
