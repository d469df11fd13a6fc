import Coach
import Foundation
import KiraJSON
import KiraSandbox
import KiraTestSupport
import Testing

/// The coach, driven by real HTTP clients: the seed's curl commands, and clients that each make
/// one mistake and must get exactly the finding it deserves.
@Suite struct CoachTests {
    /// A user with every field that triggers verification (the contract's list), images real PNGs.
    static func completeUser(email: String) -> JSONValue {
        let image = CoachPNG.dataURL()
        return [
            "type": "individual", "first_name": "Ada", "last_name": "Lovelace", "email": .string(email),
            "birth_date": "1990-12-10", "phone": "+14155550123", "nationality": "USA", "gender": "female",
            "address_street": "1 Main St", "address_city": "Springfield", "address_state": "IL", "address_zip_code": "62701",
            "address_country": "USA", "document_type": "passport", "document_number": "X1234567", "document_country": "USA",
            "source_of_funds": "salary", "account_purpose": "receive_payments", "employment_status": "employed",
            "occupation": "engineer", "pep_status": "not_pep",
            "identifying_information": [
                ["type": "ssn", "issuing_country": "USA", "number": "123-45-6789"],
                ["type": "passport", "issuing_country": "USA", "number": "X1234567", "image_front": .string(image)],
                ["type": "file_proof_of_address", "file": .string(image)],
            ],
        ]
    }

    /// A fresh emulator with the coach on.
    static func withCoach<T: Sendable>(_ body: (LiveSandbox) async throws -> T) async throws -> T {
        let rules = try shippedCoachRules()
        return try await LiveSandbox.with { live in
            await live.state.enableCoach(rules: rules)
            return try await body(live)
        }
    }

    /// `GET /__emulator/coach`, over HTTP.
    static func report(_ live: LiveSandbox) async throws -> JSONValue {
        let reply = try await live.raw("GET", "/__emulator/coach", root: true)
        #expect(reply.status == 200, "\(reply.text)")
        return reply.json
    }

    static func findingRules(_ report: JSONValue) -> [String] {
        (report["findings"]?.arrayValue ?? []).compactMap { $0["rule"]?.stringValue }
    }

    @Test func theSeedsCurlCommandsWithACompleteUserTickAllSevenStepsWithoutAnError() async throws {
        try await Self.withCoach { live in
            let directory = try KiraBinary.temporaryDirectory("kira-coach-seed")
            let userFile = directory.appendingPathComponent("user.json")
            try Data(Self.completeUser(email: "ada.seed@example.com").serialized()).write(to: userFile)
            let script = KiraBinary.packageRoot.appendingPathComponent("Tests/KiraSandboxTests/Scripts/coach-seed-curl.sh")
            let demo = TenantCredentials.demo
            let before = try await Self.report(live)
            #expect(before["steps"]?.arrayValue?.map { $0["done"] } == Array(repeating: false, count: 7))
            let result = try await KiraBinary.run(
                [script.path], executable: URL(fileURLWithPath: "/bin/bash"),
                environment: [
                    "BASE_URL": live.baseURL, "KIRA_API_KEY": demo.apiKey, "KIRA_CLIENT_ID": demo.clientID,
                    "KIRA_PASSWORD": demo.password, "USER_BODY_FILE": userFile.path,
                ],
                timeout: 60
            )
            #expect(result.status == 0, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
            #expect(result.stdout.contains("quickstart complete"))
            let report = try await Self.report(live)
            let steps = try #require(report["steps"]?.arrayValue)
            #expect(steps.count == 7)
            #expect(steps.allSatisfy { $0["done"] == true }, "\(report.text(.pretty))")
            let errors = (report["findings"]?.arrayValue ?? []).filter { $0["severity"] == "error" }
            #expect(errors.isEmpty, "\(report.text(.pretty))")
            let text = report.text()
            for secret in [demo.apiKey, demo.password, demo.clientID, "kat_"] { #expect(!text.contains(secret), "\(secret) leaked") }
            // The log masks what it captured: the password, the token, the images.
            let logged = await live.state.coachRequests()
            let all = logged.map { $0.detailJSON.text() }.joined(separator: "\n")
            for secret in [demo.apiKey, demo.password, demo.clientID, "kat_", "iVBORw0KGgo"] {
                #expect(!all.contains(secret), "\(secret) reached the request log")
            }
            #expect(all.contains("bytes, not kept"), "the images are replaced by a placeholder")
        }
    }

    /// A client that makes one mistake, and the one rule it must break.
    struct WrongClient: Sendable, CustomStringConvertible {
        var rule: String
        var run: @Sendable (LiveSandbox) async throws -> Void
        var description: String { rule }
    }

    /// Headers of a well-behaved call: the api key, the bearer token, JSON.
    static func headers(_ token: String?, _ extra: [(String, String)] = []) -> [(String, String)] {
        var headers = [("x-api-key", TenantCredentials.demo.apiKey), ("content-type", "application/json")]
        if let token { headers.append(("authorization", "Bearer \(token)")) }
        return headers + extra
    }

    /// Authenticates and pins, as a careful client does first.
    static func start(_ live: LiveSandbox) async throws -> String {
        let token = try await live.token()
        let pin = try await live.raw(
            "POST", "/v1/versioning/upgrade", headers: headers(token), body: JSONValue.object(["target_version": "2026-04-14"]).serialized())
        #expect(pin.status == 200)
        return token
    }

    static func createUser(_ live: LiveSandbox, _ token: String, email: String, key: String = newKey()) async throws -> String {
        let reply = try await live.raw(
            "POST", "/v1/users", headers: headers(token, [("idempotency-key", key)]), body: completeUser(email: email).serialized())
        #expect(reply.status == 201, "\(reply.text)")
        return try #require(reply.json["id"]?.stringValue)
    }

    static func verifiedUser(_ live: LiveSandbox, _ token: String, email: String) async throws -> String {
        let id = try await createUser(live, token, email: email)
        let verified = try await live.raw("POST", "/__emulator/users/\(id)/verify", root: true)
        #expect(verified.status == 200)
        return id
    }

    static func createAccount(_ live: LiveSandbox, _ token: String, user: String) async throws -> LiveSandboxReply {
        let body: JSONValue = [
            "user_id": .string(user), "type": "US_BANK", "provider": "act", "bank": "slovak_savings_bank", "mode": "fiat",
        ]
        return try await live.raw("POST", "/v1/virtual-accounts", headers: headers(token, [("idempotency-key", newKey())]), body: body.serialized())
    }

    static func provisioned(_ live: LiveSandbox) async throws -> (account: String, recipient: String) {
        let reply = try await live.raw("POST", "/__emulator/provision", root: true)
        #expect(reply.status == 201)
        return (try #require(reply.json["virtual_account_id"]?.stringValue), try #require(reply.json["recipient_id"]?.stringValue))
    }

    static let wrongClients: [WrongClient] = [
        WrongClient(rule: "api-key-missing") { live in
            let token = try await start(live)
            let reply = try await live.raw("GET", "/v1/users", headers: [("authorization", "Bearer \(token)")])
            #expect(reply.status == 403)
        },
        WrongClient(rule: "bearer-missing") { live in
            _ = try await start(live)
            let reply = try await live.raw("GET", "/v1/users", headers: headers(nil))
            #expect(reply.status == 401)
        },
        WrongClient(rule: "version-header-missing") { live in
            let token = try await live.token()
            let reply = try await live.raw("GET", "/v1/users", headers: headers(token))
            #expect(reply.status == 200)
        },
        WrongClient(rule: "idempotency-key-missing") { live in
            let token = try await start(live)
            let reply = try await live.raw(
                "POST", "/v1/users", headers: headers(token), body: completeUser(email: "nokey@example.com").serialized())
            #expect(reply.status == 400)
        },
        WrongClient(rule: "idempotency-key-reused") { live in
            let token = try await start(live)
            let key = newKey()
            _ = try await createUser(live, token, email: "first@example.com", key: key)
            let reply = try await live.raw(
                "POST", "/v1/users", headers: headers(token, [("idempotency-key", key)]),
                body: completeUser(email: "second@example.com").serialized())
            #expect(reply.status == 409)
        },
        WrongClient(rule: "auth-too-early") { live in
            _ = try await start(live)
            _ = try await live.token()
        },
        WrongClient(rule: "no-reauth-after-401") { live in
            let token = try await start(live)
            let stale = try await live.raw("GET", "/v1/users", headers: headers("kat_stale"))
            #expect(stale.status == 401)
            let next = try await live.raw("GET", "/v1/users", headers: headers(token))
            #expect(next.status == 200)
        },
        WrongClient(rule: "polling-too-fast") { live in
            let token = try await start(live)
            let id = try await createUser(live, token, email: "polled@example.com")
            for _ in 0..<3 { _ = try await live.raw("GET", "/v1/users/\(id)", headers: headers(token)) }
        },
        WrongClient(rule: "va-before-verified") { live in
            let token = try await start(live)
            let id = try await createUser(live, token, email: "early@example.com")
            let reply = try await createAccount(live, token, user: id)
            #expect(reply.status == 400)
        },
        WrongClient(rule: "second-va-after-409") { live in
            let token = try await start(live)
            let id = try await verifiedUser(live, token, email: "twice@example.com")
            #expect(try await createAccount(live, token, user: id).status == 201)
            #expect(try await createAccount(live, token, user: id).status == 409)
            #expect(try await createAccount(live, token, user: id).status == 409)
        },
        WrongClient(rule: "balance-before-ready") { live in
            let token = try await start(live)
            let id = try await verifiedUser(live, token, email: "eager@example.com")
            let account = try #require(try await createAccount(live, token, user: id).json["id"]?.stringValue)
            let reply = try await live.raw("GET", "/v1/virtual-accounts/\(account)/balance", headers: headers(token))
            #expect(reply.status == 400)
        },
        WrongClient(rule: "limit-over-100") { live in
            let token = try await start(live)
            let reply = try await live.raw("GET", "/v1/users?limit=500", headers: headers(token))
            #expect(reply.status == 500)
        },
        WrongClient(rule: "deposits-polled") { live in
            let token = try await start(live)
            let (account, _) = try await provisioned(live)
            let deposit = try await live.raw(
                "POST", "/v1/virtual-accounts/\(account)/simulate-deposit", headers: headers(token),
                body: JSONValue.object(["amount": "100.00"]).serialized())
            #expect(deposit.status == 201)
            for _ in 0..<2 {
                let list = try await live.raw("GET", "/v1/virtual-accounts/\(account)/deposits", headers: headers(token))
                #expect(list.status == 200)
            }
        },
        WrongClient(rule: "payout-preview-retried") { live in
            let token = try await start(live)
            let (account, recipient) = try await provisioned(live)
            let body = JSONValue.object(["recipient_id": .string(recipient), "amount": "1.00"]).serialized()
            for _ in 0..<2 {
                let reply = try await live.raw("POST", "/v1/virtual-accounts/\(account)/payout/preview", headers: headers(token), body: body)
                #expect(reply.status == 400)
            }
        },
        WrongClient(rule: "user-not-triggered") { live in
            let token = try await start(live)
            let body: JSONValue = [
                "type": "individual", "first_name": "Ada", "last_name": "Short", "email": "short@example.com", "source_of_funds": "salary",
            ]
            let reply = try await live.raw("POST", "/v1/users", headers: headers(token, [("idempotency-key", newKey())]), body: body.serialized())
            #expect(reply.status == 201)
            #expect(reply.json["verification_triggered"] == false)
        },
    ]

    @Test(arguments: wrongClients)
    func aWrongClientGetsExactlyItsFinding(_ client: WrongClient) async throws {
        try await Self.withCoach { live in
            try await client.run(live)
            let report = try await Self.report(live)
            #expect(Self.findingRules(report) == [client.rule], "\(report.text(.pretty))")
            let finding = try #require(report["findings"]?.arrayValue?.first)
            for field in ["severity", "quirk", "message"] { #expect(finding[field]?.stringValue?.isEmpty == false, "\(field)") }
            for field in ["method", "path", "status", "at"] { #expect(finding["request"]?[field] != nil, "request.\(field)") }
        }
    }

    @Test func everyRuleInTheShippedFileHasAWrongClient() throws {
        let rules = try shippedCoachRules()
        #expect(Set(rules.rules.map(\.id)) == Set(Self.wrongClients.map(\.rule)))
    }

    @Test func withTheCoachOffTheControlSaysSoAndNothingIsLogged() async throws {
        try await LiveSandbox.with { live in
            _ = try await live.token()
            let reply = try await live.raw("GET", "/__emulator/coach", root: true)
            #expect(reply.status == 404)
            #expect(reply.message?.contains("kira-walkthrough coach") == true)
            #expect(await live.state.coachRequests().isEmpty)
        }
    }

    @Test func resetForgetsTheLogAndTheChecklistStartsAgain() async throws {
        try await Self.withCoach { live in
            let client = try await live.client()
            _ = try await live.raw("GET", "/v1/users", headers: client.authHeaders)
            let before = try await Self.report(live)
            #expect(before["requests"]?.intValue ?? 0 >= 2, "\(before)")
            #expect(before["steps"]?.arrayValue?.first?["done"] == true, "a token was obtained: \(before)")
            let reset = try await live.raw("POST", "/__emulator/reset", root: true)
            #expect(reset.status == 200)
            let after = try await Self.report(live)
            #expect(after["requests"] == 0, "\(after)")
            #expect(after["findings"]?.arrayValue?.isEmpty == true, "\(after)")
            #expect(after["steps"]?.arrayValue?.allSatisfy { $0["done"] == false } == true, "\(after)")
            // Numbering goes on: a watcher asking for what came after never sees a number twice.
            _ = try await live.raw("GET", "/v1/users", headers: client.authHeaders)
            let kept = await live.state.coachRequests()
            #expect(kept.count == 1 && (kept.first?.sequence ?? 0) > 2, "\(kept.map(\.sequence))")
        }
    }

    @Test func theLogKeepsOnlyTheNewestRequests() async throws {
        let rules = try shippedCoachRules()
        try await LiveSandbox.with { live in
            await live.state.enableCoach(rules: rules, limit: 3)
            for _ in 0..<5 { _ = try await live.raw("GET", "/v1/users", headers: [("x-api-key", TenantCredentials.demo.apiKey)]) }
            let kept = await live.state.coachRequests()
            #expect(kept.map(\.sequence) == [3, 4, 5])
            let listed = try await live.raw("GET", "/__emulator/coach/requests?after=4", root: true)
            #expect(listed.json["requests"]?.arrayValue?.map { $0["sequence"] } == [5])
            #expect(try await Self.report(live)["requests"] == 3)
        }
    }
    /// A watcher's mirror holds what the log holds after every look: through the ring's wrap,
    /// requests that came and went between two looks (counted as missed), and a reset. Its own
    /// evaluation says what `GET /__emulator/coach` says.
    @Test func aMirrorOfTheLogHoldsWhatTheLogHoldsAndEvaluatesTheSame() async throws {
        let rules = try shippedCoachRules()
        try await LiveSandbox.with { live in
            await live.state.enableCoach(rules: rules, limit: 4)
            var mirror = CoachLogMirror(rules: rules)
            let client = try await live.client()
            func look() async throws -> CoachLogMirror.Change {
                let look = try #require(await live.state.coachLook(after: mirror.lastSequence))
                return mirror.apply(look)
            }
            // Sequences 1–3 (the /auth of `client()` is 1), seen in one look.
            for _ in 0..<2 { _ = try await live.raw("GET", "/v1/users", headers: client.authHeaders) }
            var change = try await look()
            #expect(change.newer.map(\.sequence) == [1, 2, 3] && change.missed == 0)
            #expect(mirror.requests.map(\.sequence) == (await live.state.coachRequests()).map(\.sequence))
            // 4–5: the log wraps (keeps 2–5), the mirror drops 1.
            for _ in 0..<2 { _ = try await live.raw("GET", "/v1/users", headers: client.authHeaders) }
            change = try await look()
            #expect(change.newer.map(\.sequence) == [4, 5] && change.missed == 0)
            #expect(mirror.requests.map(\.sequence) == [2, 3, 4, 5])
            // 6–12 between two looks: the log keeps 9–12, the look says 6–8 were missed.
            for _ in 0..<7 { _ = try await live.raw("GET", "/v1/users/\(UUID().uuidString.lowercased())", headers: client.authHeaders) }
            change = try await look()
            #expect(change.newer.map(\.sequence) == [9, 10, 11, 12] && change.missed == 3)
            #expect(mirror.requests.map(\.sequence) == (await live.state.coachRequests()).map(\.sequence))
            let fromLog = try #require(await live.state.coachReport())
            #expect(mirror.report() == fromLog)
            // A reset empties the log: the next look empties the mirror, and says it changed.
            #expect(try await live.raw("POST", "/__emulator/reset", root: true).status == 200)
            change = try await look()
            #expect(change.changed && change.newer.isEmpty && mirror.requests.isEmpty)
            #expect(mirror.report() == (try #require(await live.state.coachReport())))
            // Nothing new: nothing changed.
            change = try await look()
            #expect(!change.changed)
        }
    }
}

/// The test support's reply type, named for the helpers above.
typealias LiveSandboxReply = Reply
