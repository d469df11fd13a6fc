import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraClient
@testable import KiraSandbox
@testable import WalkthroughCore

/// Headers as they really left, against the emulator: Q-AUTH-HEADERS and Q-VERSION-HEADER, seen
/// both in the recorded exchange and in what the emulator answered.
@Suite struct HeadersOnTheWireTests {
    @Test func recordedHeadersPerAuthModeAreMasked() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.withClient { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 200)
                let auth = try #require(outcome.authExchanges.first)
                #expect(auth.requestHeader("x-api-key") == Redactor.mask)
                #expect(auth.requestHeader("authorization") == nil)
                #expect(auth.requestHeader("content-type") == "application/json")
                let list = try #require(outcome.apiExchanges.first)
                #expect(list.requestHeader("x-api-key") == Redactor.mask)
                #expect(list.requestHeader("authorization") == Redactor.mask)
                #expect(list.requestHeader("content-type") == nil)
                #expect(list.requestHeader("idempotency-key") == nil)
                #expect(list.url == sandbox.baseURL + "/v1/users?limit=5")
                #expect(list.method == "GET")
                #expect(list.stepID == "create_user")
                #expect(list.requestID == "list_users")
                #expect(list.status == 200)
                #expect(list.error == nil)
                #expect(list.durationMilliseconds > 0)

                // A request without credentials reaches the gateway without a key: 403.
                var anonymous = Requests.listUsers()
                anonymous.auth = .none
                let refused = await client.send(anonymous, secret: demoSecrets)
                try #require(refused.exchanges.count == 1)
                #expect(refused.response?.status == 403)
                #expect(refused.exchanges[0].requestHeader("x-api-key") == nil)
                #expect(refused.exchanges[0].requestHeader("authorization") == nil)
            }
        }
    }

    @Test func idempotencyKeyIsSentAndDeduplicates() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.withClient { client in
                let key = newKey()
                let request = Requests.createUser(key: key)
                let first = await client.send(request, secret: demoSecrets)
                #expect(first.response?.status == 201)
                #expect(first.apiExchanges.first?.requestHeader("idempotency-key") == key)
                let again = await client.send(request, secret: demoSecrets)
                #expect(again.response?.status == 201)
                #expect(again.apiExchanges.first?.responseHeader("idempotent-replayed") == "true")
                let counts = try await sandbox.demoCounts()
                #expect(counts["users"]?.intValue == 1)
            }
        }
    }

    @Test func versionHeaderIsSentUntilThePinAndNotAfter() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.withClient { client in
                let before = await client.send(Requests.listUsers(), secret: demoSecrets)
                for exchange in before.exchanges {
                    #expect(exchange.requestHeader("x-api-version") == apiVersion)
                    #expect(exchange.responseHeader("x-api-version") == apiVersion)
                }

                // Pinned in the client only: no header leaves, so the emulator, whose account is
                // not pinned, falls back to its baseline. This proves nothing was sent.
                await client.setPinnedVersion(apiVersion)
                let unpinnedAccount = await client.send(Requests.listUsers(), secret: demoSecrets)
                let exchange = try #require(unpinnedAccount.exchanges.last)
                #expect(exchange.requestHeader("x-api-version") == nil)
                #expect(exchange.responseHeader("x-api-version") == "2025-01-01")

                // Back to unpinned: the header is sent again.
                await client.setPinnedVersion(nil)
                let pin = await client.send(Requests.pin(), secret: demoSecrets)
                #expect(pin.response?.status == 200)
                #expect(pin.exchanges.last?.requestHeader("x-api-version") == apiVersion)
                #expect(pin.response?.json?["current_version"]?.stringValue == apiVersion)

                // Pinned on both sides: no header, and the account's pin answers.
                await client.setPinnedVersion(apiVersion)
                let after = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(after.exchanges.last?.requestHeader("x-api-version") == nil)
                #expect(after.exchanges.last?.responseHeader("x-api-version") == apiVersion)
                #expect(after.response?.status == 200)
            }
        }
    }
}

/// Q-TOKEN-TTL: authenticate when there is no token, again when less than the refresh margin is
/// left, and once after a 401.
@Suite struct TokenLifecycleTests {
    @Test func authenticatesAutomaticallyWhenThereIsNoToken() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.withClient { client in
                #expect(await client.tokenExpiresAt == nil)
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 200)
                try #require(outcome.exchanges.count == 2)
                let auth = outcome.exchanges[0]
                #expect(auth.method == "POST")
                #expect(auth.url == sandbox.baseURL + "/auth")
                #expect(auth.requestID == "auth")
                #expect(auth.stepID == "create_user")
                #expect(auth.note?.contains("no token") == true)
                #expect(auth.status == 200)
                #expect(outcome.exchanges[1].note == nil)
                let expiresAt = try #require(await client.tokenExpiresAt)
                #expect(abs(expiresAt.timeIntervalSinceNow - 3600) < 60)

                // The token is reused while it has enough left.
                let second = await client.send(Requests.listUsers(), secret: demoSecrets)
                try #require(second.exchanges.count == 1)
                #expect(second.response?.status == 200)
            }
        }
    }

    @Test func reauthenticatesWhenLessThanTheMarginIsLeft() async throws {
        var configuration = SandboxConfiguration()
        configuration.tokenTTL = .seconds(200)
        try await LiveSandbox.with(configuration) { sandbox in
            try await sandbox.withClient { client in
                let first = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(first.authExchanges.count == 1)
                let expiresAt = try #require(await client.tokenExpiresAt)
                #expect(abs(expiresAt.timeIntervalSinceNow - 200) < 60)
                // 200 s < 300 s: every call renews the token first.
                let second = await client.send(Requests.listUsers(), secret: demoSecrets)
                try #require(second.exchanges.count == 2)
                #expect(second.exchanges[0].url.hasSuffix("/auth"))
                #expect(second.exchanges[0].note?.contains("Q-TOKEN-TTL") == true)
                #expect(second.exchanges[0].note?.contains("s left") == true)
                #expect(second.response?.status == 200)
            }
        }
    }

    @Test func theRefreshMarginIsConfigurable() async throws {
        var configuration = SandboxConfiguration()
        configuration.tokenTTL = .seconds(200)
        var client = KiraClientConfiguration()
        client.refreshMargin = 100
        try await LiveSandbox.with(configuration) { sandbox in
            try await sandbox.withClient(client) { client in
                _ = await client.send(Requests.listUsers(), secret: demoSecrets)
                let second = await client.send(Requests.listUsers(), secret: demoSecrets)
                try #require(second.exchanges.count == 1)
                #expect(second.response?.status == 200)
            }
        }
    }

    @Test func anAdoptedTokenIsUsedUntilItNearsExpiry() async throws {
        try await LiveSandbox.with { sandbox in
            let token = try await sandbox.token()
            try await sandbox.withClient { client in
                await client.setToken(token, lifetime: 3600)
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                try #require(outcome.exchanges.count == 1)
                #expect(outcome.response?.status == 200)
                #expect(await client.token?.value == token)
            }
            try await sandbox.withClient { client in
                await client.setToken(token, lifetime: nil)  // an hour, as the docs say
                #expect(await client.send(Requests.listUsers(), secret: demoSecrets).exchanges.count == 1)
            }
            try await sandbox.withClient { client in
                await client.setToken(token, lifetime: 299)
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                try #require(outcome.exchanges.count == 2)
                #expect(outcome.exchanges[0].note?.contains("Q-TOKEN-TTL") == true)
                #expect(await client.token?.value != token)
            }
        }
    }

    @Test func reauthenticatesOnceAfterA401AndTheRetrySucceeds() async throws {
        var configuration = KiraClientConfiguration()
        configuration.refreshMargin = 0
        try await LiveSandbox.with { sandbox in
            try await sandbox.withClient(configuration) { client in
                #expect(await client.send(Requests.listUsers(), secret: demoSecrets).response?.status == 200)
                let oldToken = try #require(await client.token?.value)
                // The emulator's token expires; the client still believes it has an hour.
                try await sandbox.advance(3601)
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 200)
                try #require(outcome.exchanges.map(\.status) == [401, 200, 200])
                #expect(outcome.exchanges.map(\.method) == ["GET", "POST", "GET"])
                let reauth = outcome.exchanges[1]
                #expect(reauth.url.hasSuffix("/auth"))
                #expect(reauth.note?.contains("Q-TOKEN-TTL") == true)
                #expect(reauth.note?.contains("401") == true)
                #expect(outcome.exchanges[2].note?.contains("re-authenticating") == true)
                #expect(await client.token?.value != oldToken)
            }
        }
    }

    @Test func aPersistent401IsReturnedNotLooped() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "count": 5, "kind": "status", "status": 401])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 401)
                #expect(outcome.exchanges.map(\.method) == ["POST", "GET", "POST", "GET"])
                try #require(outcome.exchanges.map(\.status) == [200, 401, 200, 401])
            }
            #expect(sleeps.durations.isEmpty)
            // Only two of the five injected 401s were used.
            #expect(try await sandbox.remainingFaults() == [3])
        }
    }

    @Test func a401OnTheFlowsOwnAuthIsNotRetried() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.withClient { client in
                let outcome = await client.send(Requests.auth()) { $0 == "password" ? "wrong-password" : demoSecrets($0) }
                #expect(outcome.response?.status == 401)
                try #require(outcome.exchanges.count == 1)
                #expect(outcome.response?.json?["message"]?.stringValue == "Invalid client credentials")
                #expect(await client.tokenExpiresAt == nil)
            }
        }
    }

    @Test func failedAuthenticationIsAFailureWithTheReason() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.withClient(password: "not-the-password") { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.failure == "Re-authentication failed: Invalid client credentials")
                try #require(outcome.exchanges.count == 1)
                #expect(outcome.exchanges[0].status == 401)
                #expect(await client.tokenExpiresAt == nil)
            }
        }
    }

    @Test func anUnusableAuthAnswerIsAFailure() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.fault(["method": "POST", "path": "/auth", "kind": "malformed_json"])
            try await sandbox.withClient { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.failure?.hasPrefix("Re-authentication failed") == true)
                #expect(outcome.exchanges.count == 1)
                #expect(outcome.exchanges.first?.error?.contains("not JSON") == true)
                #expect(await client.tokenExpiresAt == nil)
            }
        }
    }

    @Test func authenticationItselfIsRetriedOnA503() async throws {
        try await LiveSandbox.with { sandbox in
            try await sandbox.fault(["method": "POST", "path": "/auth", "kind": "status", "status": 503, "retry_after": 1])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 200)
                try #require(outcome.exchanges.map(\.status) == [503, 200, 200])
                #expect(outcome.exchanges[1].note?.contains("retry 1 after HTTP 503") == true)
            }
            #expect(sleeps.durations == [.seconds(1)])
        }
    }
}
