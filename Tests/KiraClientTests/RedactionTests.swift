import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraClient
@testable import KiraSandbox
@testable import WalkthroughCore

/// Secrets never reach a recorded exchange: the api key, the client id, the password and every token, whatever
/// path they take (headers, request bodies, response bodies, re-authentication).
@Suite struct RecordedExchangeRedactionTests {
    @Test func noSecretAppearsInAnyRecordedField() async throws {
        var configuration = KiraClientConfiguration()
        configuration.refreshMargin = 0
        try await LiveSandbox.with { sandbox in
            let demo = sandbox.demo
            var exchanges: [ExchangeRecord] = []
            var tokens: [String] = []
            try await sandbox.withClient(configuration) { client in
                // The flow's own /auth: the password is a reference until the client fills it.
                let auth = await client.send(Requests.auth(), secret: demoSecrets)
                exchanges += auth.exchanges
                let token = try #require(auth.response?.json?["data"]?["access_token"]?.stringValue)
                tokens.append(token)
                await client.setToken(token, lifetime: auth.response?.json?["data"]?["expires_in"]?.doubleValue)
                let authRecord = try #require(auth.exchanges.first)
                #expect(authRecord.requestBody?.contains(#""password": "[REDACTED]""#) == true)
                #expect(authRecord.requestBody?.contains(#""client_id": "[REDACTED]""#) == true)
                #expect(auth.response?.status == 200)
                #expect(authRecord.responseBody?.contains(#""access_token": "[REDACTED]""#) == true)
                #expect(authRecord.responseBody?.contains(#""expires_in": 3600"#) == true)

                // Secrets filled into a body come back echoed by the API: masked in the record too.
                var body = Fixtures.completeIndividual()
                body = .object(
                    JSONObject(
                        (body.objectValue?.entries.map { ($0.key, $0.value) } ?? []) + [
                            ("metadata", ["note": "{{ password }}", "key": "{{ api_key }}"])
                        ]))
                let create = await client.send(Requests.createUser(key: newKey(), body: body), secret: demoSecrets)
                exchanges += create.exchanges
                #expect(create.response?.status == 201)
                // The API really received the secrets (filled at send time)…
                #expect(create.response?.json?["metadata"]?["note"]?.stringValue == demo.password)
                #expect(create.response?.json?["metadata"]?["key"]?.stringValue == demo.apiKey)
                // …and the record shows neither.
                let createRecord = try #require(create.exchanges.first)
                #expect(createRecord.requestBody?.contains(#""note": "[REDACTED]""#) == true)
                #expect(createRecord.responseBody?.contains(#""note": "[REDACTED]""#) == true)

                // A 401 and the re-authentication it triggers.
                try await sandbox.advance(3601)
                let list = await client.send(Requests.listUsers(), secret: demoSecrets)
                exchanges += list.exchanges
                #expect(list.exchanges.map(\.status) == [401, 200, 200])
                tokens.append(try #require(await client.token?.value))
            }
            #expect(tokens.count == 2)
            #expect(tokens[0] != tokens[1])
            #expect(exchanges.count == 5)

            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            let encoded = String(decoding: try encoder.encode(exchanges), as: UTF8.self)
            let fields = exchanges.flatMap { exchange in
                [exchange.url, exchange.note, exchange.requestBody, exchange.responseBody, exchange.error].compactMap { $0 }
                    + exchange.requestHeaders.flatMap { $0 } + exchange.responseHeaders.flatMap { $0 }
            }
            for secret in [demo.apiKey, demo.password, demo.clientID] + tokens {
                #expect(!encoded.contains(secret), "a secret is in the encoded records")
                #expect(!fields.contains { $0.contains(secret) }, "a secret is in a recorded field")
            }
            #expect(encoded.contains(Redactor.mask))
        }
    }

    @Test func aWrongPasswordIsNotRecordedEither() async throws {
        try await LiveSandbox.with { sandbox in
            let wrong = "a-mistyped-password"
            try await sandbox.withClient(password: wrong) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.failure != nil)
                let encoded = String(decoding: try JSONEncoder().encode(outcome.exchanges), as: UTF8.self)
                #expect(!encoded.contains(wrong))
                #expect(!encoded.contains(sandbox.demo.apiKey))
            }
        }
    }
}

/// `Redactor` on its own: keys, values, headers and bodies.
@Suite struct RedactorTests {
    let redactor = Redactor(values: ["kira_sandbox_demo_key", "demo-password", "tok"])

    @Test func secretKeysAreMaskedAtAnyDepthWhateverTheirCase() {
        let value: JSONValue = [
            "Password": "p", "data": ["access_token": "abc", "expires_in": 3600, "nested": [["client_secret": "s", "token": nil]]],
        ]
        let redacted = redactor.redact(value)
        #expect(redacted["Password"]?.stringValue == Redactor.mask)
        #expect(redacted["data"]?["access_token"]?.stringValue == Redactor.mask)
        #expect(redacted["data"]?["expires_in"]?.intValue == 3600)
        #expect(redacted["data"]?["nested"]?.arrayValue?.first?["client_secret"]?.stringValue == Redactor.mask)
        // A null secret says there is none: left as is.
        #expect(redacted["data"]?["nested"]?.arrayValue?.first?["token"] == .null)
    }

    @Test func knownValuesAreMaskedInsideText() {
        #expect(redactor.redact("key=kira_sandbox_demo_key&pw=demo-password") == "key=[REDACTED]&pw=[REDACTED]")
        // Values shorter than six characters are not masked (they would mangle unrelated text).
        #expect(redactor.redact("a token") == "a token")
    }

    @Test func credentialHeadersAreMaskedByName() {
        let headers = redactor.redact(headers: [
            ("X-Api-Key", "anything"), ("Authorization", "Bearer x"), ("set-cookie", "a=b"), ("x-echo", "demo-password"),
            ("accept", "application/json"),
        ])
        #expect(
            headers == [
                ["X-Api-Key", Redactor.mask], ["Authorization", Redactor.mask], ["set-cookie", Redactor.mask], ["x-echo", Redactor.mask],
                ["accept", "application/json"],
            ])
    }

    @Test func recordableBodies() {
        #expect(redactor.recordable(body: []) == nil)
        #expect(
            redactor.recordable(body: Array(#"{"password":"x","id":1}"#.utf8))
                == JSONValue.object(["password": "[REDACTED]", "id": 1]).text(.pretty))
        #expect(redactor.recordable(body: Array("<p>demo-password</p>".utf8)) == "<p>[REDACTED]</p>")
    }

    @Test func secretReferencesAreMaskedAndFilled() {
        let body: JSONValue = ["client_id": "c", "password": "{{ password }}", "list": ["{{ api_key }}", "plain"]]
        #expect(
            KiraAPIClient.mask(secretReferencesIn: body) == ["client_id": "c", "password": "[REDACTED]", "list": ["[REDACTED]", "plain"]])
        #expect(
            KiraAPIClient.fill(body, secret: demoSecrets) == [
                "client_id": "c", "password": .string(TenantCredentials.demo.password),
                "list": [.string(TenantCredentials.demo.apiKey), "plain"],
            ])
    }
}
