import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraClient
@testable import KiraSandbox
@testable import WalkthroughCore

/// `KiraAPIClient.init`: which base URLs are accepted. Credentials travel in headers, so plain
/// http is only acceptable to the machine itself.
@Suite struct BaseURLValidationTests {
    /// Builds a client and shuts it down at once (a client dropped without `shutdown()` traps in debug).
    func accepted(_ baseURL: String) async throws -> String {
        let client = try KiraAPIClient(baseURL: baseURL, apiVersion: apiVersion, apiKey: "key-123456", clientID: "c", password: "password")
        let base = await client.baseURL
        await client.shutdown()
        return base
    }

    @Test(arguments: [
        "https://api.balampay.com/sandbox", "HTTPS://api.balampay.com/sandbox", "https://10.0.0.1:8443/sandbox",
        "http://127.0.0.1:4010/sandbox", "http://127.1.2.3/sandbox", "http://localhost:4010/sandbox", "http://[::1]:4010/sandbox",
    ])
    func httpsAnywhereAndPlainHTTPOnLoopback(_ baseURL: String) async throws {
        #expect(try await accepted(baseURL) == baseURL)
    }

    @Test(arguments: [
        "http://api.balampay.com/sandbox", "http://10.0.0.1:4010/sandbox", "http://192.168.1.20/sandbox", "http://0.0.0.0:4010/sandbox",
        "http://[2001:db8::1]:4010/sandbox",
    ])
    func plainHTTPElsewhereIsRefusedWithAReason(_ baseURL: String) throws {
        let error = #expect(throws: KiraClientError.self) {
            _ = try KiraAPIClient(baseURL: baseURL, apiVersion: apiVersion, apiKey: "k", clientID: "c", password: "p")
        }
        #expect(error?.description.contains("must use https") == true)
        #expect(error?.description.contains(baseURL) == true)
    }

    @Test(arguments: ["", "api.balampay.com/sandbox", "not a url", "https:///sandbox"])
    func somethingThatIsNotAURLIsRefused(_ baseURL: String) throws {
        let error = #expect(throws: KiraClientError.self) {
            _ = try KiraAPIClient(baseURL: baseURL, apiVersion: apiVersion, apiKey: "k", clientID: "c", password: "p")
        }
        #expect(error?.description.isEmpty == false)
    }

    @Test func trailingSlashesAreTrimmed() async throws {
        #expect(try await accepted("http://127.0.0.1:4010/sandbox///") == "http://127.0.0.1:4010/sandbox")
    }

    /// A host *name* that starts with "127." is not a loopback address: it resolves wherever its
    /// owner wants, and the api key and password would cross the network in clear text.
    @Test(arguments: ["http://127.attacker.example/sandbox", "http://127.0.0.1.nip.io/sandbox"])
    func aHostNameThatMerelyStartsWith127IsNotLoopback(_ baseURL: String) async throws {
        var accepted = false
        do {
            let client = try KiraAPIClient(baseURL: baseURL, apiVersion: apiVersion, apiKey: "k", clientID: "c", password: "p")
            accepted = true
            await client.shutdown()
        } catch is KiraClientError {}
        #expect(!accepted, "plain http to \(baseURL) was accepted as loopback")
    }
}

/// `KiraAPIClient.headers(for:…)`: Q-AUTH-HEADERS, Q-VERSION-HEADER and Q-IDEMPOTENCY, per auth mode.
@Suite struct HeaderTests {
    func request(_ auth: AuthMode, key: String? = nil, body: JSONValue? = nil, method: String = "GET") -> RenderedRequest {
        RenderedRequest(
            stepID: "s", requestID: "r", label: nil, method: method, path: "/v1/users", auth: auth, idempotencyKey: key, body: body,
            repeatable: true
        )
    }

    func headers(_ request: RenderedRequest, token: String? = "tok-abcdef", pinned: String? = nil) -> [String: String] {
        let list = KiraAPIClient.headers(for: request, apiKey: "kira_key_123", token: token, pinnedVersion: pinned, apiVersion: apiVersion)
        #expect(Set(list.map(\.0)).count == list.count, "a header is repeated: \(list)")
        return Dictionary(list, uniquingKeysWith: { first, _ in first })
    }

    @Test func noAuthSendsNoCredentials() {
        let sent = headers(request(.none))
        #expect(sent["x-api-key"] == nil)
        #expect(sent["authorization"] == nil)
        #expect(sent["x-api-version"] == apiVersion)
        #expect(sent["accept"] == "application/json")
    }

    @Test func apiKeyAuthSendsTheKeyOnly() {
        let sent = headers(request(.apiKey, body: ["client_id": "c"], method: "POST"))
        #expect(sent["x-api-key"] == "kira_key_123")
        #expect(sent["authorization"] == nil)
        #expect(sent["content-type"] == "application/json")
    }

    @Test func bearerAuthSendsTheKeyAndTheToken() {
        let sent = headers(request(.bearer))
        #expect(sent["x-api-key"] == "kira_key_123")
        #expect(sent["authorization"] == "Bearer tok-abcdef")
    }

    @Test func bearerWithoutATokenShowsWhereItWillComeFrom() {
        #expect(headers(request(.bearer), token: nil)["authorization"] == "Bearer <token from step 2>")
    }

    @Test func theVersionHeaderStopsOnceAVersionIsPinned() {
        #expect(headers(request(.bearer), pinned: nil)["x-api-version"] == apiVersion)
        for auth in [AuthMode.none, .apiKey, .bearer] {
            #expect(headers(request(auth), pinned: apiVersion)["x-api-version"] == nil)
        }
    }

    @Test func idempotencyKeyAndContentTypeOnlyWhenThereIsOne() {
        let plain = headers(request(.bearer))
        #expect(plain["idempotency-key"] == nil)
        #expect(plain["content-type"] == nil)
        let creating = headers(request(.bearer, key: "6f1c0e1e-0000-4000-8000-000000000001", body: ["type": "individual"], method: "POST"))
        #expect(creating["idempotency-key"] == "6f1c0e1e-0000-4000-8000-000000000001")
        #expect(creating["content-type"] == "application/json")
    }
}

/// `KiraAPIClient.preview`: the request as it will leave, with the values a presenter must mask.
@Suite struct PreviewTests {
    @Test func previewFillsSecretsAndListsThemForMasking() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.withClient { client in
                let preview = await client.preview(Requests.auth(), secret: demoSecrets)
                #expect(preview.method == "POST")
                #expect(preview.url == sandbox.baseURL + "/auth")
                #expect(preview.requestID == "auth")
                #expect(preview.label == Requests.auth().label)
                // The body as sent carries the password; the editable body keeps the reference.
                #expect(preview.body?["password"]?.stringValue == sandbox.demo.password)
                #expect(preview.editableBody?["password"]?.stringValue == "{{ password }}")
                #expect(preview.secrets.contains(sandbox.demo.apiKey))
                #expect(preview.secrets.contains(sandbox.demo.password))
                // Masking with `secrets` leaves nothing secret in what a presenter shows.
                let redactor = Redactor(values: preview.secrets)
                let shown =
                    preview.headers.map { "\($0.name): \(redactor.redact($0.value))" }.joined(separator: "\n")
                    + "\n" + redactor.redact(preview.body?.text(.pretty) ?? "")
                #expect(!shown.contains(sandbox.demo.apiKey))
                #expect(!shown.contains(sandbox.demo.password))
                #expect(shown.contains(Redactor.mask))
                #expect(shown.contains("x-api-version: \(apiVersion)"))
            }
        }
    }

    /// The flow marks `client_id` secret ("never written to disk, masked on screen") and the
    /// client masks it in records; the preview must list it too, or the screen shows it in clear.
    @Test func previewListsEverySecretItFilledIn() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.withClient { client in
                let preview = await client.preview(Requests.auth(), secret: demoSecrets)
                #expect(preview.body?["client_id"]?.stringValue == sandbox.demo.clientID)
                #expect(preview.secrets.contains(sandbox.demo.clientID), "client_id is filled into the body but not listed for masking")
                let redactor = Redactor(values: preview.secrets)
                #expect(!redactor.redact(preview.body ?? .null).text().contains(sandbox.demo.clientID))
            }
        }
    }

    @Test func previewListsTheTokenOnceThereIsOne() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.withClient { client in
                let before = await client.preview(Requests.listUsers(), secret: demoSecrets)
                #expect(before.headers.first { $0.name == "authorization" }?.value == "Bearer <token from step 2>")
                #expect(before.secrets.count == 3, "the api key, client_id and password; no token yet")

                let token = try await sandbox.token()
                await client.setToken(token, lifetime: 3600)
                await client.setPinnedVersion(apiVersion)
                let after = await client.preview(Requests.listUsers(), secret: demoSecrets)
                #expect(after.headers.first { $0.name == "authorization" }?.value == "Bearer \(token)")
                #expect(after.secrets.contains(token))
                #expect(after.headers.contains { $0.name == "x-api-version" } == false)
                #expect(after.body == nil)
            }
        }
    }
}
