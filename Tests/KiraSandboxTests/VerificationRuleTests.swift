import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// Step 4's contract rules over HTTP: what triggers verification (the completeness rule), what
/// rejects a user (no source_of_funds, images that are not decodable JPEG or PNG of 200×200),
/// REJECTED being final, `PUT /v1/users/{id}`, and `--auto-verify-after` counting from REVIEW.
@Suite struct VerificationRuleTests {
    /// The complete individual as a mutable object.
    static func complete() throws -> JSONObject { try #require(Fixtures.completeIndividual().objectValue) }

    /// The `user.verification.failed` reasons of `user` in the webhook log.
    static func rejectionReasons(_ sandbox: LiveSandbox, user: String) async throws -> [String] {
        let log = try await sandbox.control("GET", "webhooks").json["deliveries"]?.arrayValue ?? []
        let failed = try #require(
            log.first { $0["event"] == "user.verification.failed" && $0["body"]?["data"]?["user_id"]?.stringValue == user }
        )
        return (failed["body"]?["data"]?["reasons"]?.arrayValue ?? []).compactMap(\.stringValue)
    }

    // MARK: Completeness

    @Test func aCompleteUserTriggersAndEchoesNoImageOrNumber() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let reply = try await client.post("/v1/users", .object(try Self.complete()), key: newKey())
            #expect(reply.status == 201)
            #expect(reply.json["verification_triggered"] == true)
            #expect(reply.json["gender"] == "female")
            #expect(reply.json["pep_status"] == "not_pep")
            #expect(
                reply.json["identifying_information"]
                    == [
                        ["type": "ssn", "issuing_country": "USA"],
                        ["type": "passport", "issuing_country": "USA", "image_front": "provided"],
                        ["type": "file_proof_of_address", "file": "provided"],
                    ]
            )
            #expect(!reply.text.contains("base64"), "images are never echoed")
            #expect(!reply.text.contains("123-45-6789"), "the SSN is never echoed")
            let id = try #require(reply.json["id"]?.stringValue)
            try await sandbox.advance(3)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REVIEW")
        }
    }

    /// Each trigger item the contract lists, removed on its own: the user is created, not
    /// triggered, and stays CREATED for good.
    @Test(arguments: [
        "gender", "pep_status", "address_state", "document_country", "employment_status", "occupation", "birth_date",
        "phone", "nationality", "account_purpose", "document_type", "document_number", "address_zip_code",
        "identifying_information", "ssn", "passport", "image_front", "file_proof_of_address", "file", "number",
    ])
    func aUserMissingOneTriggerItemStaysCreated(missing: String) async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try Self.complete()
            var entries = (body["identifying_information"]?.arrayValue ?? []).compactMap(\.objectValue)
            switch missing {
            case "ssn", "passport", "file_proof_of_address":
                entries.removeAll { $0["type"]?.stringValue == missing }
            case "image_front":
                entries[1]["image_front"] = nil
            case "file":
                entries[2]["file"] = nil
            case "number":
                entries[0]["number"] = ""
            default:
                body[missing] = nil
            }
            if body["identifying_information"] != nil { body["identifying_information"] = .array(entries.map(JSONValue.object)) }
            let reply = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(reply.status == 201, "\(reply.text)")
            #expect(reply.json["verification_triggered"] == false)
            let id = try #require(reply.json["id"]?.stringValue)
            try await sandbox.advance(600)
            let user = try await client.get("/v1/users/\(id)").json
            #expect(user["status"] == "CREATED")
            #expect(user["verification_status"] == "unverified")
            let log = try await sandbox.control("GET", "webhooks").json["deliveries"]?.arrayValue ?? []
            #expect(log.compactMap { $0["event"]?.stringValue } == ["user.created"])
        }
    }

    @Test func aTaxIDAndADriversLicenseCountAsWell() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try Self.complete()
            body["identifying_information"] = [
                ["type": "tax_id", "issuing_country": "MEX", "number": "ABCD123456"],
                ["type": "drivers_license", "issuing_country": "USA", "number": "D123", "image_front": .string(Fixtures.goodPNG)],
                ["type": "file_proof_of_address", "file": .string(Fixtures.goodJPEG)],
            ]
            let reply = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(reply.json["verification_triggered"] == true)
        }
    }

    @Test func aBusinessTriggersWithItsOwnFields() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var business: JSONObject = [
                "type": "business", "business_legal_name": "Acme Ltd", "email": "acme@example.com", "business_type": "llc",
                "ein": "12-3456789", "address_street": "1 Main St", "address_city": "Springfield", "address_state": "IL",
                "address_zip_code": "62701", "address_country": "USA", "source_of_funds": "savings",
            ]
            let complete = try await client.post("/v1/users", .object(business), key: newKey())
            #expect(complete.json["verification_triggered"] == true)
            business["email"] = "acme2@example.com"
            business["ein"] = nil
            let noEIN = try await client.post("/v1/users", .object(business), key: newKey())
            #expect(noEIN.status == 201)
            #expect(noEIN.json["verification_triggered"] == false)
        }
    }

    @Test func theShapeOfIdentifyingInformationIsValidated() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let selfie: JSONValue = [["type": "selfie", "image_front": .string(Fixtures.goodJPEG)]]
            let noType: JSONValue = [["issuing_country": "USA"]]
            let notObject: JSONValue = ["ssn"]
            let shortCountry: JSONValue = [["type": "ssn", "issuing_country": "US", "number": "1"]]
            let gif: JSONValue = [["type": "passport", "image_front": "data:image/gif;base64,R0lGODlh"]]
            let number: JSONValue = [["type": "passport", "image_back": 42]]
            let twice: JSONValue = [["type": "ssn", "number": "1"], ["type": "ssn", "number": "2"]]
            let cases: [(JSONValue, String, String)] = [
                (selfie, "identifying_information[0].type", "invalid_enum_value"),
                (noType, "identifying_information[0].type", "validation_error"),
                (notObject, "identifying_information[0]", "validation_error"),
                (shortCountry, "identifying_information[0].issuing_country", "validation_error"),
                (gif, "identifying_information[0].image_front", "validation_error"),
                (number, "identifying_information[0].image_back", "validation_error"),
                (twice, "identifying_information[1].type", "validation_error"),
            ]
            for (entries, field, code) in cases {
                var body = try Self.complete()
                body["identifying_information"] = entries
                let reply = try await client.post("/v1/users", .object(body), key: newKey())
                #expect(reply.status == 400, "\(entries): \(reply.text)")
                #expect(reply.code == code, "\(entries)")
                #expect(reply.json["errors"]?.arrayValue?.first?["field"]?.stringValue == field, "\(entries): \(reply.text)")
            }
            var body = try Self.complete()
            body["gender"] = "robot"
            let gender = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(gender.code == "invalid_enum_value")
            body = try Self.complete()
            body["pep_status"] = "maybe"
            let pep = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(pep.code == "invalid_enum_value")
        }
    }

    // MARK: Rejection

    /// Each image that is not a decodable JPEG or PNG of at least 200×200, as the proof of
    /// address: the user triggers, then is REJECTED after the reject delay, with a reason naming
    /// the image.
    @Test(arguments: ImageCase.rejected)
    func aBadImageRejectsTheUser(image: ImageCase) async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try Self.complete()
            body["identifying_information"] = .array(Fixtures.identifyingInformation(proofOfAddress: image.dataURL))
            let reply = try await client.post("/v1/users", .object(body), key: newKey())
            #expect(reply.status == 201, "\(reply.text)")
            #expect(reply.json["verification_triggered"] == true)
            let id = try #require(reply.json["id"]?.stringValue)
            try await sandbox.advance(1.9)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "CREATED")
            try await sandbox.advance(0.1)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REJECTED")
            let reasons = try await Self.rejectionReasons(sandbox, user: id)
            #expect(reasons.count == 1, "\(reasons)")
            #expect(reasons.first?.contains("file_proof_of_address.file") == true, "\(reasons)")
            #expect(reasons.first?.contains(image.reasonFragment) == true, "\(image.name): \(reasons)")
            // Nothing after: it never reaches REVIEW.
            try await sandbox.advance(600)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REJECTED")
        }
    }

    @Test func everyCauseIsNamedInTheReasons() async throws {
        try await LiveSandbox.with(SandboxConfiguration(rejectAfter: .seconds(5))) { sandbox in
            let client = try await sandbox.client()
            var body = try Self.complete()
            body["source_of_funds"] = nil
            var entries = Fixtures.identifyingInformation(
                passportFront: TestImages.dataURL(TestImages.jpeg(width: 150, height: 400), type: "image/jpeg"),
                proofOfAddress: TestImages.dataURL(TestImages.png(width: 300, height: 120), type: "image/png")
            )
            entries.append(["type": "national_id", "issuing_country": "USA", "image_back": "data:image/png;base64,AAAA"])
            body["identifying_information"] = .array(entries)
            let id = try await client.createUser(.object(body))
            try await sandbox.advance(4.9)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "CREATED", "the reject delay is configurable")
            try await sandbox.advance(0.1)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REJECTED")
            let reasons = try await Self.rejectionReasons(sandbox, user: id)
            #expect(reasons.count == 4, "\(reasons)")
            #expect(reasons.contains { $0.contains("source_of_funds") })
            #expect(reasons.contains { $0.contains("passport.image_front") && $0.contains("150×400") })
            #expect(reasons.contains { $0.contains("file_proof_of_address.file") && $0.contains("300×120") })
            #expect(reasons.contains { $0.contains("national_id.image_back") && $0.contains("not a decodable") })
        }
    }

    @Test func goodImagesOfBothFormatsPass() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try Self.complete()
            body["identifying_information"] = .array(
                Fixtures.identifyingInformation(
                    passportFront: TestImages.dataURL(TestImages.png(width: 200, height: 200), type: "image/png"),
                    proofOfAddress: TestImages.dataURL(TestImages.jpeg(width: 200, height: 613), type: "image/jpg")
                )
            )
            let id = try await client.createUser(.object(body))
            try await sandbox.advance(3)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REVIEW")
            let log = try await sandbox.control("GET", "webhooks").json["deliveries"]?.arrayValue ?? []
            #expect(!log.contains { $0["event"] == "user.verification.failed" })
        }
    }

    // MARK: REJECTED is final

    @Test func rejectedIsFinalEvenForTheOperator() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try Self.complete()
            body["source_of_funds"] = nil
            let id = try await client.createUser(.object(body))
            try await sandbox.advance(2)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REJECTED")
            for action in ["verify", "reject"] {
                let refused = try await sandbox.control("POST", "users/\(id)/\(action)")
                #expect(refused.status == 409)
                #expect(
                    refused.json
                        == [
                            "code": "invalid_operation",
                            "message": .string("User \(id) is REJECTED, which is final; create a new user"),
                        ]
                )
            }
            let update = try await client.put("/v1/users/\(id)", ["source_of_funds": "salary"])
            #expect(update.status == 400)
            #expect(update.code == "invalid_operation")
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REJECTED")
            // An operator-rejected user is final too.
            let other = try await client.createUser()
            #expect(try await sandbox.control("POST", "users/\(other)/reject").status == 200)
            #expect(try await sandbox.control("POST", "users/\(other)/verify").status == 409)
        }
    }

    // MARK: PUT /v1/users/{id}

    @Test func aPutCompletesAUserAndTriggersVerificationThen() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try Self.complete()
            body["identifying_information"] = nil
            body["gender"] = nil
            let id = try await client.createUser(.object(body))
            try await sandbox.advance(600)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "CREATED")
            // Partly: still incomplete, nothing starts.
            let partial = try await client.put("/v1/users/\(id)", ["gender": "male"])
            #expect(partial.status == 200)
            #expect(partial.json["gender"] == "male")
            #expect(partial.json["first_name"] == "Ada", "fields not sent are kept")
            #expect(partial.json["verification_triggered"] == false)
            // The rest, without an Idempotency-Key: verification triggers now.
            let completed = try await client.put(
                "/v1/users/\(id)", ["identifying_information": .array(Fixtures.identifyingInformation())]
            )
            #expect(completed.status == 200)
            #expect(completed.json["data"] == nil, "the user comes back bare")
            #expect(completed.json["verification_triggered"] == true)
            #expect(completed.json["status"] == "CREATED")
            #expect(completed.json["identifying_information"]?.arrayValue?.count == 3)
            try await sandbox.advance(1)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "VERIFYING")
            try await sandbox.advance(2)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REVIEW")
            // Past CREATED: refused.
            let late = try await client.put("/v1/users/\(id)", ["occupation": "Pilot"])
            #expect(late.status == 400)
            #expect(late.code == "invalid_operation")
            #expect(try await client.get("/v1/users/\(id)").json["occupation"] == "Engineer")
        }
    }

    @Test func aPutReplacesTheEntryOfTheSameType() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try Self.complete()
            body["pep_status"] = nil  // incomplete, so the bad image is not judged yet
            body["identifying_information"] = .array(
                Fixtures.identifyingInformation(passportFront: TestImages.dataURL(TestImages.png(width: 50, height: 50), type: "image/png"))
            )
            let id = try await client.createUser(.object(body))
            let fixed = try await client.put(
                "/v1/users/\(id)",
                [
                    "pep_status": "not_pep",
                    "identifying_information": [
                        ["type": "passport", "issuing_country": "GBR", "number": "Y1", "image_front": .string(Fixtures.goodJPEG)]
                    ],
                ]
            )
            #expect(fixed.status == 200)
            let entries = fixed.json["identifying_information"]?.arrayValue ?? []
            #expect(entries.count == 3)
            #expect(
                entries.filter { $0["type"] == "passport" } == [["type": "passport", "issuing_country": "GBR", "image_front": "provided"]])
            try await sandbox.advance(3)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REVIEW", "the small image was replaced")
        }
    }

    @Test func aPutThatCompletesWithABadImageRejects() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            var body = try Self.complete()
            body["identifying_information"] = nil
            let id = try await client.createUser(.object(body))
            try await sandbox.advance(100)
            let completed = try await client.put(
                "/v1/users/\(id)",
                [
                    "identifying_information": .array(
                        Fixtures.identifyingInformation(proofOfAddress: "data:image/png;base64,iVBORw0KGgoAAAAA")
                    )
                ]
            )
            #expect(completed.json["verification_triggered"] == true)
            try await sandbox.advance(2)
            #expect(try await client.get("/v1/users/\(id)").json["status"] == "REJECTED")
            let reasons = try await Self.rejectionReasons(sandbox, user: id)
            #expect(reasons.count == 1)
            #expect(reasons.first?.contains("file_proof_of_address.file") == true)
        }
    }

    @Test func putIsValidated() async throws {
        try await LiveSandbox.with { sandbox in
            let client = try await sandbox.client()
            let first = try await client.createUser(["type": "individual", "first_name": "A", "last_name": "B", "email": "a@example.com"])
            _ = try await client.createUser(["type": "individual", "first_name": "C", "last_name": "D", "email": "c@example.com"])
            #expect(try await client.put("/v1/users/\(newKey())", ["gender": "male"]).status == 404)
            #expect(try await client.put("/v1/users/nope", ["gender": "male"]).status == 400)
            let taken = try await client.put("/v1/users/\(first)", ["email": "C@example.com"])
            #expect(taken.status == 409)
            #expect(taken.code == "resource_conflict")
            let type = try await client.put("/v1/users/\(first)", ["type": "business"])
            #expect(type.status == 400)
            let blankName = try await client.put("/v1/users/\(first)", ["first_name": " "])
            #expect(blankName.status == 400)
            let gender = try await client.put("/v1/users/\(first)", ["gender": "robot"])
            #expect(gender.code == "invalid_enum_value")
            // A new email frees the old one.
            let moved = try await client.put("/v1/users/\(first)", ["email": "e@example.com"])
            #expect(moved.json["email"] == "e@example.com")
            let reuse = try await client.post(
                "/v1/users", ["type": "individual", "first_name": "A", "last_name": "B", "email": "a@example.com"], key: newKey()
            )
            #expect(reuse.status == 201)
        }
    }

    // MARK: --auto-verify-after

    @Test func autoVerifyNeverTouchesAUserThatDidNotTriggerOrIsRejected() async throws {
        try await LiveSandbox.with(SandboxConfiguration(autoVerifyAfter: .zero)) { sandbox in
            let client = try await sandbox.client()
            var incomplete = try Self.complete()
            incomplete["identifying_information"] = nil
            let stuck = try await client.createUser(.object(incomplete))
            var noSource = try Self.complete()
            noSource["source_of_funds"] = nil
            let rejected = try await client.createUser(.object(noSource))
            let good = try await client.createUser()
            try await sandbox.advance(2.9)
            #expect(try await client.get("/v1/users/\(good)").json["status"] == "VERIFYING")
            try await sandbox.advance(0.1)
            #expect(try await client.get("/v1/users/\(good)").json["status"] == "VERIFIED")
            try await sandbox.advance(600)
            #expect(try await client.get("/v1/users/\(stuck)").json["status"] == "CREATED")
            #expect(try await client.get("/v1/users/\(rejected)").json["status"] == "REJECTED")
        }
    }
}

/// An image the KYC check refuses, and a fragment its reason must contain.
struct ImageCase: Sendable, CustomTestStringConvertible {
    var name: String
    var dataURL: String
    var reasonFragment: String
    var testDescription: String { name }

    static func png(_ bytes: [UInt8]) -> String { TestImages.dataURL(bytes, type: "image/png") }
    static func jpeg(_ bytes: [UInt8]) -> String { TestImages.dataURL(bytes, type: "image/jpeg") }

    static var rejected: [ImageCase] {
        let png = TestImages.png(width: 240, height: 240)
        let jpeg = TestImages.jpeg(width: 240, height: 240)
        var badCRC = png
        badCRC[45] ^= 0x01  // inside IDAT's data
        let noEnd = Array(png.dropLast(12))
        var badZlib = png
        // IHDR is 8 + 25 bytes; IDAT's data starts 8 bytes later. Break the zlib header and fix the CRC.
        let idat = 33
        badZlib[idat + 8] = 0x79
        let idatLength = Int(badZlib[idat]) << 24 | Int(badZlib[idat + 1]) << 16 | Int(badZlib[idat + 2]) << 8 | Int(badZlib[idat + 3])
        let crc = TestImages.crc32(Array(badZlib[(idat + 4)..<(idat + 8 + idatLength)]))
        badZlib.replaceSubrange(
            (idat + 8 + idatLength)..<(idat + 12 + idatLength),
            with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
        )
        let jpegNoEOI = Array(jpeg.dropLast(2))
        // Without the SOF segment (FFC0, 11 bytes after APP0 and DQT).
        let sofStart = jpeg.firstIndex(of: 0xC0).map { $0 - 1 } ?? 0
        let jpegNoFrame = Array(jpeg[..<sofStart] + jpeg[(sofStart + 2 + 11)...])
        var jpegBadLength = jpeg
        jpegBadLength[4] = 0xFF  // APP0 claims more bytes than the file has
        return [
            ImageCase(name: "PNG 199×240", dataURL: ImageCase.png(TestImages.png(width: 199, height: 240)), reasonFragment: "199×240"),
            ImageCase(name: "JPEG 240×120", dataURL: ImageCase.jpeg(TestImages.jpeg(width: 240, height: 120)), reasonFragment: "240×120"),
            ImageCase(name: "PNG with a bad CRC", dataURL: ImageCase.png(badCRC), reasonFragment: "bad CRC"),
            ImageCase(name: "PNG without IEND", dataURL: ImageCase.png(noEnd), reasonFragment: "IEND"),
            ImageCase(name: "PNG whose IDAT is not zlib", dataURL: ImageCase.png(badZlib), reasonFragment: "zlib"),
            ImageCase(name: "JPEG without EOI", dataURL: ImageCase.jpeg(jpegNoEOI), reasonFragment: "EOI"),
            ImageCase(name: "JPEG without a frame header", dataURL: ImageCase.jpeg(jpegNoFrame), reasonFragment: "frame header"),
            ImageCase(name: "JPEG with a bad segment length", dataURL: ImageCase.jpeg(jpegBadLength), reasonFragment: "truncated"),
            ImageCase(name: "a JPEG declared as PNG", dataURL: ImageCase.png(jpeg), reasonFragment: "declared image/png"),
            ImageCase(name: "not an image", dataURL: ImageCase.png(Array("hello, this is text".utf8)), reasonFragment: "signature"),
            ImageCase(name: "not base64", dataURL: "data:image/jpeg;base64,!!!!", reasonFragment: "base64"),
        ]
    }
}

extension APIClient {
    /// A `PUT` with a JSON body and no Idempotency-Key.
    func put(_ path: String, _ body: JSONValue) async throws -> Reply {
        try await sandbox.raw("PUT", path, headers: authHeaders + [("content-type", "application/json")], body: body.serialized())
    }
}
