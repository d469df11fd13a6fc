import AsyncHTTPClient
import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraClient
@testable import KiraSandbox
@testable import WalkthroughCore

/// Bounded retries with backoff and jitter, only where a retry cannot duplicate anything (GET, a
/// request with an Idempotency-Key, the client's own `/auth`), against injected faults.
@Suite struct RetryTests {
    @Test func aGETOn503HonoursRetryAfter() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "kind": "status", "status": 503, "retry_after": 1])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 200)
                try #require(outcome.apiExchanges.map(\.status) == [503, 200])
                #expect(outcome.apiExchanges[0].responseHeader("retry-after") == "1")
                #expect(outcome.apiExchanges[1].note == "retry 1 after HTTP 503 (Retry-After: 1 s)")
            }
            #expect(sleeps.durations == [.seconds(1)])
        }
    }

    @Test func a429HonoursRetryAfter() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "kind": "status", "status": 429, "retry_after": 2])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 200)
                try #require(outcome.apiExchanges.map(\.status) == [429, 200])
                #expect(outcome.apiExchanges[1].note?.contains("HTTP 429") == true)
            }
            #expect(sleeps.durations == [.seconds(2)])
        }
    }

    @Test func theEmulatorsOwnRateLimitIsWaitedOut() async throws {
        var configuration = SandboxConfiguration()
        configuration.rateLimit = 2
        try await LiveSandbox.with(configuration, on: .timing) { sandbox in
            // "Sleeping" moves the emulator's (fixed) clock on by as long as the client waits.
            let state = sandbox.state
            let sleeps = SleepLog { duration in _ = await state.advanceClock(by: Double(duration.components.seconds)) }
            try await sandbox.withClient(sleeps: sleeps) { client in
                // /auth and the first GET use up this emulated second; the next GET is one too many.
                #expect(await client.send(Requests.listUsers(), secret: demoSecrets).response?.status == 200)
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                try #require(outcome.apiExchanges.map(\.status) == [429, 200])
                #expect(outcome.apiExchanges[0].responseHeader("retry-after") == "1")
                #expect(outcome.apiExchanges[0].responseBody?.contains("rate_limited") == true)
                #expect(outcome.response?.status == 200)
            }
            #expect(sleeps.durations == [.seconds(1)])
        }
    }

    @Test func retryAfterIsCappedAtTheLongestBackoff() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "kind": "status", "status": 503, "retry_after": 3600])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                #expect(await client.send(Requests.listUsers(), secret: demoSecrets).response?.status == 200)
            }
            #expect(sleeps.durations == [KiraClientConfiguration().maxBackoff])
            #expect(KiraClientConfiguration().maxBackoff == .seconds(8))
        }
    }

    @Test(arguments: [502, 503, 504, 429])
    func transientStatusesAreRetriedOnGET(_ status: Int) async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "kind": "status", "status": .int(status)])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                try #require(outcome.apiExchanges.map(\.status) == [status, 200])
                #expect(outcome.apiExchanges[1].note == "retry 1 after HTTP \(status)")
            }
            #expect(sleeps.durations.count == 1)
        }
    }

    @Test(arguments: [400, 404, 409, 500])
    func otherStatusesAreReturnedAtOnce(_ status: Int) async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "count": 2, "kind": "status", "status": .int(status)])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == status)
                #expect(outcome.apiExchanges.count == 1)
            }
            #expect(sleeps.durations.isEmpty)
            #expect(try await sandbox.remainingFaults() == [1])
        }
    }

    @Test func anHTMLBadGatewayIsRetriedThenSurfacedAsText() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "count": 10, "kind": "html"])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                let response = try #require(outcome.response)
                #expect(response.status == 502)
                #expect(response.json == nil)
                #expect(response.text.contains("502 Bad Gateway"))
                #expect(outcome.apiExchanges.count == KiraClientConfiguration().maxAttempts)
                for exchange in outcome.apiExchanges {
                    #expect(exchange.status == 502)
                    #expect(exchange.error == "The body is not JSON (text/html); shown as text.")
                    #expect(exchange.responseBody?.contains("<title>502 Bad Gateway</title>") == true)
                }
                #expect(
                    outcome.apiExchanges.dropFirst().map(\.note) == [
                        "retry 1 after HTTP 502", "retry 2 after HTTP 502", "retry 3 after HTTP 502",
                    ])
            }
            #expect(sleeps.durations.count == 3)
            #expect(try await sandbox.remainingFaults() == [6])
        }
    }

    @Test func anHTMLBadGatewayOnceIsRecoveredFrom() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "kind": "html"])
            try await sandbox.withClient(sleeps: SleepLog()) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 200)
                #expect(outcome.response?.json?["pagination"]?["total"]?.intValue == 0)
                try #require(outcome.apiExchanges.map(\.status) == [502, 200])
                #expect(outcome.apiExchanges[1].error == nil)
            }
        }
    }

    @Test func aDroppedConnectionOnGETIsRetriedAndRecovered() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "kind": "drop"])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 200)
                let dropped = try #require(outcome.apiExchanges.first)
                #expect(dropped.status == nil)
                #expect(dropped.error?.contains("dropped") == true)
                #expect(dropped.error?.contains(sandbox.baseURL + "/v1/users") == true)
                try #require(outcome.apiExchanges.count == 2)
                #expect(outcome.apiExchanges[1].note?.hasPrefix("retry 1 after The connection") == true)
            }
            #expect(sleeps.durations.count == 1)
        }
    }

    @Test func aDroppedPOSTWithoutAKeyIsNotRetried() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "POST", "path": "/v1/users", "count": 2, "kind": "drop"])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.createUser(key: nil), secret: demoSecrets)
                #expect(outcome.failure?.contains("dropped") == true)
                #expect(outcome.apiExchanges.count == 1)
            }
            #expect(sleeps.durations.isEmpty)
            #expect(try await sandbox.remainingFaults() == [1])
        }
    }

    @Test func aPOSTWithoutAKeyIsNotRetriedOn503() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "POST", "path": "/v1/users", "count": 2, "kind": "status", "status": 503, "retry_after": 1])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.createUser(key: nil), secret: demoSecrets)
                #expect(outcome.response?.status == 503)
                #expect(outcome.apiExchanges.count == 1)
            }
            #expect(sleeps.durations.isEmpty)
            #expect(try await sandbox.remainingFaults() == [1])
        }
    }

    @Test func aPOSTWithAKeyIsRetriedOn503AndCreatesOnce() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "POST", "path": "/v1/users", "kind": "status", "status": 503, "retry_after": 1])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let key = newKey()
                let outcome = await client.send(Requests.createUser(key: key), secret: demoSecrets)
                #expect(outcome.response?.status == 201)
                #expect(outcome.apiExchanges.map(\.status) == [503, 201])
                #expect(outcome.apiExchanges.allSatisfy { $0.requestHeader("idempotency-key") == key })
            }
            #expect(sleeps.durations == [.seconds(1)])
            #expect(try await sandbox.demoCounts()["users"]?.intValue == 1)
        }
    }

    /// Retries follow `RenderedRequest.repeatable` (the flow's `safe_to_repeat`, a GET, or an
    /// idempotency key), not the method alone.
    @Test func aPOSTTheFlowMarksSafeToRepeatIsRetried() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "POST", "path": "/v1/versioning/upgrade", "kind": "status", "status": 503])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                let outcome = await client.send(Requests.pin(), secret: demoSecrets)
                #expect(outcome.response?.status == 200)
                #expect(outcome.apiExchanges.map(\.status) == [503, 200])
            }
            #expect(sleeps.durations.count == 1)
        }
    }

    @Test func aRequestMarkedNotRepeatableIsNeverRetried() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "count": 2, "kind": "status", "status": 503])
            let sleeps = SleepLog()
            try await sandbox.withClient(sleeps: sleeps) { client in
                var request = Requests.listUsers()
                request.repeatable = false
                let outcome = await client.send(request, secret: demoSecrets)
                #expect(outcome.response?.status == 503)
                #expect(outcome.apiExchanges.count == 1)
            }
            #expect(sleeps.durations.isEmpty)
        }
    }

    /// The first attempt was handled but its answer came too late: the retry carries the same key,
    /// so the API replays the answer instead of creating a second user.
    ///
    /// The token is fetched beforehand, so the short timeout covers only the request under test.
    /// On a loaded machine a retry may time out too before one gets through (seen in a CI run:
    /// three exchanges); what must hold whatever the load is the shape: timed-out attempts, all
    /// with one key, then the replayed answer, and one user.
    @Test func aTimedOutPOSTWithAKeyIsRetriedAndReplayed() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let token = try await sandbox.token()
            // The answer comes 8 s late; the 3 s timeout leaves a loaded machine room for the retry.
            try await sandbox.fault(["method": "POST", "path": "/v1/users", "kind": "delay", "delay_ms": 8000])
            var configuration = KiraClientConfiguration()
            configuration.requestTimeout = .seconds(3)
            try await sandbox.withClient(configuration, sleeps: SleepLog()) { client in
                await client.setToken(token, lifetime: 3600)
                let key = newKey()
                let outcome = await client.send(Requests.createUser(key: key), secret: demoSecrets)
                #expect(outcome.response?.status == 201)
                #expect(outcome.exchanges.count == outcome.apiExchanges.count, "no /auth on the way")
                let seen = outcome.apiExchanges.map { "\($0.status.map(String.init) ?? "no answer") \($0.error ?? "")" }
                try #require(outcome.apiExchanges.count >= 2, "\(seen)")
                // Each attempt before the last got no answer in time: the delayed one timed out; on a
                // loaded machine an attempt can also pass its deadline still waiting for a connection.
                #expect(outcome.apiExchanges.dropLast().allSatisfy { $0.status == nil && $0.error?.contains(" in time") == true }, "\(seen)")
                #expect(outcome.apiExchanges.contains { $0.error?.contains("timed out") == true }, "\(seen)")
                #expect(outcome.apiExchanges.allSatisfy { $0.requestHeader("idempotency-key") == key })
                #expect(outcome.apiExchanges.last?.responseHeader("idempotent-replayed") == "true")
            }
            #expect(try await sandbox.demoCounts()["users"]?.intValue == 1)
        }
    }

    @Test func maxAttemptsBoundsTheRetries() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "count": 10, "kind": "status", "status": 503])
            var configuration = KiraClientConfiguration()
            configuration.maxAttempts = 3
            let sleeps = SleepLog()
            try await sandbox.withClient(configuration, sleeps: sleeps) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 503)
                #expect(outcome.apiExchanges.count == 3)
            }
            #expect(sleeps.durations.count == 2)
            #expect(try await sandbox.remainingFaults() == [7])
        }
    }

    @Test func maxAttemptsOfOneMeansNoRetry() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "count": 10, "kind": "status", "status": 503])
            var configuration = KiraClientConfiguration()
            configuration.maxAttempts = 1
            let sleeps = SleepLog()
            try await sandbox.withClient(configuration, sleeps: sleeps) { client in
                #expect(await client.send(Requests.listUsers(), secret: demoSecrets).apiExchanges.count == 1)
            }
            #expect(sleeps.durations.isEmpty)
        }
    }

    @Test func backoffDoublesWithFullJitter() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "count": 5, "kind": "drop"])
            var configuration = KiraClientConfiguration()
            configuration.maxAttempts = 6
            configuration.baseBackoff = .milliseconds(100)
            let sleeps = SleepLog()
            try await sandbox.withClient(configuration, sleeps: sleeps) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 200)
                #expect(outcome.apiExchanges.count == 6)
            }
            let durations = sleeps.durations
            #expect(durations.count == 5)
            for (index, duration) in durations.enumerated() {
                #expect(duration >= .zero)
                #expect(duration <= .milliseconds(100) * (1 << index), "backoff \(index + 1) is \(duration)")
            }
            // Full jitter: the waits are random, not a fixed schedule.
            #expect(Set(durations).count > 1)
        }
    }

    @Test func backoffIsCappedAtMaxBackoff() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "count": 3, "kind": "status", "status": 503])
            var configuration = KiraClientConfiguration()
            configuration.baseBackoff = .seconds(60)
            configuration.maxBackoff = .milliseconds(20)
            let sleeps = SleepLog()
            try await sandbox.withClient(configuration, sleeps: sleeps) { client in
                #expect(await client.send(Requests.listUsers(), secret: demoSecrets).response?.status == 200)
            }
            #expect(sleeps.durations.count == 3)
            #expect(sleeps.durations.allSatisfy { $0 <= .milliseconds(20) })
        }
    }

    /// An https:// URL in front of a plain-HTTP server (the emulator) fails its handshake with
    /// BoringSSL's WRONG_VERSION_NUMBER: the failure names the reason code, not the TLS library's
    /// build path, and says to check the scheme.
    @Test func anHTTPSURLToAPlainHTTPServerIsExplainedAsTheScheme() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let https = "https://" + sandbox.baseURL.dropFirst("http://".count)
            let sleeps = SleepLog()
            let client = try KiraAPIClient(
                baseURL: https, apiVersion: apiVersion, apiKey: TenantCredentials.demo.apiKey,
                clientID: TenantCredentials.demo.clientID, password: TenantCredentials.demo.password,
                configuration: KiraClientConfiguration(), sleep: sleeps.sleep
            )
            var request = Requests.listUsers()
            request.auth = .none
            let outcome = await client.send(request, secret: demoSecrets)
            await client.shutdown()

            let place = try #require(URL(string: https)?.port).description
            let fact = "The TLS handshake with \(https)/v1/users?limit=5 failed (WRONG_VERSION_NUMBER)"
            #expect(outcome.exchanges.first?.error == fact)
            #expect(
                outcome.failure
                    == fact + " (\(KiraClientConfiguration().maxAttempts) attempts, all failing the same way). "
                    + "The server at 127.0.0.1:\(place) answered in plain HTTP, not TLS. What to check: the scheme of the base URL (--target): http:// instead of "
                    + "https:// (the local emulator, `kira-walkthrough sandbox serve`, speaks plain http)."
            )
            #expect(outcome.failure?.contains(".cc:") == false, "no source path of the TLS library")
        }
    }

    /// A TLS failure other than a plain-HTTP answer keeps the general advice, with its reason code.
    @Test func anotherTLSFailureNamesItsReasonAndTheGeneralChecks() throws {
        struct HandshakeFailure: Error, CustomStringConvertible {
            let description = "handshakeFailed(NIOSSL.BoringSSLError.sslError([Error: 268435581 error:1000007d:SSL routines:"
                + "OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at /build/swift-nio-ssl/Sources/CNIOBoringSSL/ssl/handshake.cc:393]))"
        }
        let url = try #require(URL(string: "https://sandbox.example/v1/users"))
        let described = KiraAPIClient.describe(HandshakeFailure(), url: url.absoluteString)
        #expect(described == "The TLS handshake with https://sandbox.example/v1/users failed (CERTIFICATE_VERIFY_FAILED)")
        let advice = try #require(NetworkFailure.advice(for: HandshakeFailure(), url: url, attempts: 1))
        #expect(advice.hasPrefix(". The TLS handshake with sandbox.example failed. What to check: that the URL names the right host"))
    }

    /// A TLS connection the server closed mid-answer (NIOSSL's uncleanShutdown, no close_notify)
    /// is a dropped connection, not a failed handshake.
    @Test func aTLSConnectionClosedMidAnswerIsADroppedConnection() throws {
        struct UncleanShutdown: Error, CustomStringConvertible, CustomDebugStringConvertible {
            let description = "uncleanShutdown"
            let debugDescription = "NIOSSL.NIOSSLError.uncleanShutdown"
        }
        let url = try #require(URL(string: "https://sandbox.example/v1/users"))
        #expect(KiraAPIClient.describe(UncleanShutdown(), url: url.absoluteString)
            == "The connection to https://sandbox.example/v1/users was dropped before a complete answer")
        #expect(NetworkFailure.kind(of: UncleanShutdown()) == .dropped)
        #expect(NetworkFailure.advice(for: UncleanShutdown(), url: url, attempts: 4) == nil)
    }

    @Test func aRefusedConnectionIsRetriedThenReported() async throws {
        try await TestThreads.run {
            let socket = try LoopbackSocket()  // bound, not listening
            defer { socket.close() }
            let sleeps = SleepLog()
            // A long connect timeout: a refused connection is reported at once (see
            // aRefusedConnectionFailsFast), and a short one would race the refusal on a loaded
            // machine ("could not connect in time" when the event loop gets to the timer first).
            var configuration = KiraClientConfiguration()
            configuration.connectTimeout = .seconds(10)
            let client = try KiraAPIClient(
                baseURL: socket.baseURL, apiVersion: apiVersion, apiKey: TenantCredentials.demo.apiKey,
                clientID: TenantCredentials.demo.clientID,
                password: TenantCredentials.demo.password, configuration: configuration, sleep: sleeps.sleep
            )
            var request = Requests.listUsers()
            request.auth = .none
            let outcome = await client.send(request, secret: demoSecrets)
            let bearer = await client.send(Requests.listUsers(), secret: demoSecrets)
            await client.shutdown()

            // The failure is explained once, at the end: the host, the attempts, what to check.
            let fact = "Connection refused by \(socket.baseURL)/v1/users?limit=5"
            let attempts = KiraClientConfiguration().maxAttempts
            let host = try #require(URL(string: socket.baseURL)).port.map { "127.0.0.1:\($0)" }
            #expect(
                outcome.failure
                    == fact + " (\(attempts) attempts, all failing the same way). Nothing accepts connections at \(host ?? ""). What to check: "
                    + "the base URL and port (--target), that the server (or `kira-walkthrough sandbox serve`) is running, and any firewall in between."
            )
            #expect(outcome.exchanges.count == attempts)
            // The first attempt says what happened; the retries do not repeat it word for word.
            #expect(outcome.exchanges.allSatisfy { $0.status == nil })
            #expect(outcome.exchanges.first?.error == fact)
            #expect(outcome.exchanges.dropFirst().allSatisfy { $0.error == "The same failure again (as attempt 1)" })
            #expect(outcome.exchanges.dropFirst(2).allSatisfy { $0.note?.hasSuffix("after the same failure") == true })
            // With no token, the authentication is what fails, and says so.
            #expect(bearer.failure?.hasPrefix("Re-authentication failed: Connection refused") == true)
            #expect(bearer.exchanges.count == KiraClientConfiguration().maxAttempts)
            #expect(bearer.exchanges.allSatisfy { $0.url.hasSuffix("/auth") })
            #expect(sleeps.durations.count == 2 * (KiraClientConfiguration().maxAttempts - 1))

        }
    }

    /// Nothing listens (a local emulator that was stopped): the kernel refuses the connection at
    /// once, so the client should say so at once rather than after the connect timeout.
    @Test func aRefusedConnectionFailsFast() async throws {
        try await TestThreads.run {
            let socket = try LoopbackSocket()  // bound, not listening
            defer { socket.close() }
            var configuration = KiraClientConfiguration()
            configuration.maxAttempts = 1
            // A long connect timeout, so "at once" and "after the timeout" are far apart even on a
            // loaded machine: the answer must not wait for it.
            configuration.connectTimeout = .seconds(60)
            let client = try KiraAPIClient(
                baseURL: socket.baseURL, apiVersion: apiVersion, apiKey: TenantCredentials.demo.apiKey,
                clientID: TenantCredentials.demo.clientID,
                password: TenantCredentials.demo.password, configuration: configuration, sleep: SleepLog().sleep
            )
            var request = Requests.listUsers()
            request.auth = .none
            let started = ContinuousClock.now
            let outcome = await client.send(request, secret: demoSecrets)
            let elapsed = ContinuousClock.now - started
            await client.shutdown()
            #expect(outcome.failure?.hasPrefix("Connection refused") == true)
            #expect(elapsed < .seconds(15), "a refused connection took \(elapsed) (connectTimeout is \(configuration.connectTimeout))")
        }
    }
}

/// Bodies that are not JSON, and timeouts: reported clearly, never a crash or a hang.
@Suite struct ResponseBodyAndTimeoutTests {
    @Test func malformedJSONComesBackWithoutJSON() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "kind": "malformed_json"])
            try await sandbox.withClient(sleeps: SleepLog()) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                let response = try #require(outcome.response)
                #expect(response.status == 200)
                #expect(response.json == nil)
                #expect(response.text == #"{"data": {"id": "3f0c"#)
                try #require(outcome.apiExchanges.count == 1)
                let exchange = outcome.apiExchanges[0]
                #expect(exchange.error == "The body is not JSON (application/json); shown as text.")
                #expect(exchange.responseBody == #"{"data": {"id": "3f0c"#)
            }
        }
    }

    @Test func plainTextIsNamedByItsContentType() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.fault(["method": "GET", "path": "/v1/users", "kind": "status", "status": 418, "body": "I'm a teapot"])
            try await sandbox.withClient(sleeps: SleepLog()) { client in
                let outcome = await client.send(Requests.listUsers(), secret: demoSecrets)
                #expect(outcome.response?.status == 418)
                #expect(outcome.response?.text == "I'm a teapot")
                #expect(outcome.response?.json == nil)
                #expect(outcome.apiExchanges.first?.error?.contains("text/plain") == true)
            }
        }
    }

    @Test func aJSONBodyIsParsedAndRecordedPretty() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.withClient { client in
                let outcome = await client.send(Requests.getUser(newKey()), secret: demoSecrets)
                #expect(outcome.response?.status == 404)
                #expect(outcome.response?.json == ["code": "not_found", "message": "User not found"])
                let exchange = try #require(outcome.apiExchanges.first)
                #expect(exchange.error == nil)
                #expect(exchange.responseBody == JSONValue.object(["code": "not_found", "message": "User not found"]).text(.pretty))
            }
        }
    }

    @Test func aTimeoutIsReportedClearly() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            // The token is fetched beforehand, so the 1 s timeout covers only the request under test.
            let token = try await sandbox.token()
            try await sandbox.fault(["method": "POST", "path": "/v1/users", "kind": "delay", "delay_ms": 8000])
            var configuration = KiraClientConfiguration()
            configuration.requestTimeout = .seconds(1)
            try await sandbox.withClient(configuration, sleeps: SleepLog()) { client in
                await client.setToken(token, lifetime: 3600)
                let started = ContinuousClock.now
                let outcome = await client.send(Requests.createUser(key: nil), secret: demoSecrets)
                let elapsed = ContinuousClock.now - started
                let url = sandbox.baseURL + "/v1/users"
                #expect(outcome.failure == "No answer from \(url) in time (timed out)")
                // A POST without a key is not retried after a timeout: it may have been handled.
                #expect(outcome.exchanges.count == 1)
                let exchange = try #require(outcome.apiExchanges.first)
                #expect(exchange.status == nil)
                #expect(exchange.error == outcome.failure)
                #expect(exchange.durationMilliseconds >= 900)
                // Well before the 8 s answer (the margin is for a loaded machine).
                #expect(exchange.durationMilliseconds < 6000)
                #expect(elapsed < .milliseconds(6000))
            }
        }
    }
}

/// What a failed attempt is called in the exchange and the failure message.
@Suite struct FailureDescriptionTests {
    @Test(arguments: [
        (HTTPClientError.deadlineExceeded, "No answer from URL in time (timed out)"),
        (HTTPClientError.readTimeout, "No answer from URL in time (timed out)"),
        (HTTPClientError.writeTimeout, "No answer from URL in time (timed out)"),
        (HTTPClientError.connectTimeout, "Could not connect to URL in time"),
        (HTTPClientError.getConnectionFromPoolTimeout, "Could not connect to URL in time"),
        (HTTPClientError.remoteConnectionClosed, "The connection to URL was dropped before a complete answer"),
    ])
    func eachTimeoutIsNamedForWhatTheUserCanDo(error: HTTPClientError, expected: String) {
        #expect(KiraAPIClient.describe(error, url: "URL") == expected)
    }
}
