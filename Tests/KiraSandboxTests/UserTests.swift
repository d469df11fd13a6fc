import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// Step 4: users, their validation, and Q-NO-AUTO-VERIFY, Q-GATE-ON-STATUS, Q-SOF-REJECT.
@Suite struct UserTests {
    @Test func createReturnsTheBareUserWithRenamedAddress() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let reply = try await client.post("/v1/users", Fixtures.completeIndividual(email: "ada@example.com"), key: newKey())
            #expect(reply.status == 201)
            let user = reply.json
            #expect(user["data"] == nil, "users come back bare, not wrapped")
            #expect(user["type"] == "individual")
            #expect(user["email"] == "ada@example.com")
            #expect(user["first_name"] == "Ada")
            #expect(user["status"] == "CREATED")
            #expect(user["verification_status"] == "unverified")
            #expect(user["verification_triggered"] == true)
            #expect(user["metadata"] == .object([:]))
            #expect(
                user["residential_address"]
                    == ["street_line_1": "1 Main St", "city": "Springfield", "subdivision": "IL", "postal_code": "62701", "country": "USA"]
            )
            #expect(user["address_street"] == nil)
            #expect(user["created_at"]?.stringValue?.hasSuffix("Z") == true)
            let id = try #require(user["id"]?.stringValue)
            let fetched = try await client.get("/v1/users/\(id)")
            #expect(fetched.status == 200)
            #expect(fetched.json == user)
        }
    }

    @Test func aCompleteUserReachesReviewAndStaysThere() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let id = try await client.createUser()
            try await sandbox.advance(1)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "VERIFYING")
            try await sandbox.advance(2)
            let review = try await client.get("/v1/users/\(id)").json
            #expect(review["status"] == "REVIEW")
            // Q-GATE-ON-STATUS: verification_status already says verified; status does not.
            #expect(review["verification_status"] == "verified")
            // Q-NO-AUTO-VERIFY: a week later it is still in review.
            try await sandbox.advance(7 * 24 * 3600)
            let later = try await sandbox.client()
            #expect(try await later.get("/v1/users/\(id)").json["status"] == "REVIEW")
        }
    }

    @Test func anOperatorFlipsAUserToVerified() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let id = try await client.createUser()
            let flipped = try await sandbox.control("POST", "users/\(id)/verify")
            #expect(flipped.status == 200)
            #expect(flipped.json["status"] == "VERIFIED")
            let user = try await client.get("/v1/users/\(id)").json
            #expect(user["status"] == "VERIFIED")
            #expect(user["verification_status"] == "verified")
            let rejected = try await sandbox.control("POST", "users/\(id)/reject", ["reason": "documents unreadable"])
            #expect(rejected.json["status"] == "REJECTED")
            #expect(try await sandbox.control("POST", "users/\(newKey())/verify").status == 404)
            #expect(try await sandbox.control("POST", "users/not-a-uuid/verify").status == 400)
        }
    }

    @Test func autoVerifyIsOffByDefaultAndAvailableAsAKnob() async throws {
        // --auto-verify-after counts from REVIEW (3 s after creation), not from creation.
        try await LiveSandbox.with(SandboxConfiguration(autoVerifyAfter: .seconds(5))) { sandbox in
            let client = try await sandbox.client()
            let id = try await client.createUser()
            try await sandbox.advance(5)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REVIEW")
            try await sandbox.advance(2.5)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REVIEW")
            try await sandbox.advance(0.5)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "VERIFIED")
        }
    }

    @Test func withoutSourceOfFundsTheUserIsAutoRejected() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try #require(Fixtures.completeIndividual().objectValue)
            body["source_of_funds"] = nil
            let id = try await client.createUser(.object(body))
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "CREATED")
            try await sandbox.advance(2)
            let user = try await client.get("/v1/users/\(id)").json
            #expect(user["status"] == "REJECTED")
            // The contradiction: verification_status still says unverified.
            #expect(user["verification_status"] == "unverified")
            // The reason is only in the webhook log.
            let log = try await sandbox.control("GET", "webhooks").json["deliveries"]?.arrayValue ?? []
            let failed = try #require(log.first { $0["event"] == "user.verification.failed" })
            #expect(failed["body"]?["data"]?["reasons"]?.arrayValue?.first?.stringValue?.contains("source_of_funds") == true)
            // Terminal: more time changes nothing.
            try await sandbox.advance(3000)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REJECTED")
        }
    }

    @Test func anIncompleteUserWithSourceOfFundsStaysCreated() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let id = try await client.createUser(
                ["type": "individual", "first_name": "A", "last_name": "B", "email": "ab@example.com", "source_of_funds": "salary"]
            )
            try await sandbox.advance(60)
            let user = try await client.get("/v1/users/\(id)").json
            #expect(user["status"] == "CREATED")
            #expect(user["verification_triggered"] == false)
        }
    }

    @Test func blankValuesDoNotMakeAUserComplete() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try #require(Fixtures.completeIndividual().objectValue)
            body["phone"] = "  "
            let id = try await client.createUser(.object(body))
            try await sandbox.advance(10)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "CREATED")
            body = try #require(Fixtures.completeIndividual().objectValue)
            body["source_of_funds"] = ""
            let blankSource = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(blankSource.status == 400, "an empty enum value is not a valid source_of_funds")
        }
    }

    @Test func aBusinessNeedsItsLegalName() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let missing = try await client.post("/v1/users", ["type": "business", "email": "co@example.com"], key: newKey())
            #expect(missing.status == 400)
            #expect(missing.json["errors"]?.arrayValue?.first?["field"] == "business_legal_name")
            let ok = try await client.post(
                "/v1/users",
                ["type": "business", "email": "co@example.com", "business_legal_name": "Acme Ltd", "source_of_funds": "savings"],
                key: newKey()
            )
            #expect(ok.status == 201)
            #expect(ok.json["business_legal_name"] == "Acme Ltd")
        }
    }

    @Test(arguments: [
        ("source_of_funds", JSONValue.string("lottery")),
        ("account_purpose", JSONValue.string("speculation")),
        ("status", JSONValue.string("VERIFIED")),
        ("type", JSONValue.string("robot")),
    ])
    func badEnumValuesListTheAcceptedOnes(field: String, value: JSONValue) async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try #require(Fixtures.completeIndividual().objectValue)
            body[field] = value
            let reply = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(reply.status == 400)
            #expect(reply.code == "invalid_enum_value")
            #expect(reply.json["errors"]?.arrayValue?.first?["field"]?.stringValue == field)
            #expect(reply.message?.contains("Accepted values") == true)
        }
    }

    @Test func duplicateEmailIsAConflict() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            _ = try await client.createUser(Fixtures.completeIndividual(email: "same@example.com"))
            let again = try await client.post("/v1/users", Fixtures.completeIndividual(email: "SAME@example.com"), key: newKey())
            #expect(again.status == 409)
            #expect(again.code == "resource_conflict")
        }
    }

    @Test func listPaginatesInCreationOrder() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var ids: [String] = []
            for _ in 0..<5 { ids.append(try await client.createUser()) }
            let page = try await client.get("/v1/users?limit=2&offset=1").json
            #expect(page["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == Array(ids[1...2]))
            #expect(page["pagination"] == ["total": 5, "limit": 2, "offset": 1, "has_more": true])
            let last = try await client.get("/v1/users?limit=100&offset=4").json
            #expect(last["pagination"]?["has_more"] == false)
            #expect(last["data"]?.arrayValue?.count == 1)
        }
    }

    @Test func unknownAndMalformedIds() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let unknown = try await client.get("/v1/users/\(newKey())")
            #expect(unknown.status == 404)
            #expect(unknown.json == ["code": "not_found", "message": "User not found"])
            let malformed = try await client.get("/v1/users/12345")
            #expect(malformed.status == 400)
            #expect(malformed.code == "validation_error")
        }
    }

    @Test func invalidKycFormatsAreRejected() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            for (field, value) in [
                ("birth_date", "1990-02-30"), ("nationality", "US"), ("email", "not-an-email"), ("address_country", "usa"),
            ] {
                var body = try #require(Fixtures.completeIndividual().objectValue)
                body[field] = .string(value)
                let reply = try await client.post("/v1/users", .object(body), key: newKey())
                #expect(reply.status == 400, "\(field)=\(value)")
                #expect(reply.json["errors"]?.arrayValue?.first?["field"]?.stringValue == field)
            }
            var body = try #require(Fixtures.completeIndividual().objectValue)
            body["identifying_information"] = .array(
                Fixtures.identifyingInformation(passportFront: "https://example.com/scan.png")
            )
            let notDataURL = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(notDataURL.status == 400)
            #expect(notDataURL.message?.contains("data URL") == true)
            #expect(notDataURL.json["errors"]?.arrayValue?.first?["field"] == "identifying_information[1].image_front")
        }
    }
}
