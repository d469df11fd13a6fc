import Foundation
import KiraJSON
import Testing

@testable import WalkthroughCore

/// Files a flow embeds as data URLs: read at the IO boundary, sent whole, kept as a placeholder.
@Suite struct EmbeddedFileTests {
    /// A tiny valid PNG signature followed by junk: enough for the type check.
    static let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 7, count: 3000))

    static func flow(_ body: String) -> String {
        """
        flow: embed
        title: Embed
        api_version: "1"
        steps:
          - id: send
            title: Send
            explain: Sends an image.
            requests:
              - id: upload
                method: POST
                path: /things
                body:
        \(body)
                expect: [201]
        """
    }

    @Test func sha256MatchesTheStandardVectors() {
        #expect(SHA256Hash.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Hash.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256Hash.hex(of: long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func aBodyEmbedsAFileAsAPlaceholderAndTheClientGetsItsDataURL() throws {
        var asked: [String] = []
        let text = Self.flow("          image: { file_as_data_url: images/pic.png }\n          again: { file_as_data_url: images/pic.png }")
        let flow = try FlowLoader.load(text, file: "flows/embed.yaml", readFile: { _ in nil }) { reference in
            asked.append(reference)
            return Self.png
        }
        #expect(asked == ["images/pic.png"], "read once, as written, relative to the flow")
        let body = try #require(flow.steps[0].requests[0].body)
        let placeholder = try #require(body["image"]?.stringValue)
        let digest = SHA256Hash.hex(of: Self.png).prefix(8)
        #expect(placeholder == "data:image/png;base64,… (3 KB, sha256:\(digest))")
        #expect(body["again"]?.stringValue == placeholder)
        #expect(flow.embeddedFiles.count == 1)
        let url = try #require(flow.embeddedDataURLs[placeholder])
        #expect(url == "data:image/png;base64," + Self.png.base64EncodedString())
        // What goes on the wire: the placeholder replaced, wherever it sits.
        let sent = DataURL.embedding(flow.embeddedDataURLs, in: .array([body]))
        #expect(sent.arrayValue?.first?["image"]?.stringValue == url)
    }

    @Test func anUnreadableOrNonImageFileIsALoadProblem() {
        let text = Self.flow("          image: { file_as_data_url: images/missing.png }\n          notes: { file_as_data_url: notes.txt }")
        do {
            _ = try FlowLoader.load(text, file: "flows/embed.yaml", readFile: { _ in nil }) { reference in
                reference == "notes.txt" ? Data("plain text".utf8) : nil
            }
            Issue.record("loaded a flow whose embedded files are missing or not images")
        } catch {
            let messages = error.problems.map(\.description)
            #expect(
                messages.contains {
                    $0.hasPrefix("flows/embed.yaml:13:")
                        && $0.contains("Cannot read the file 'images/missing.png' (flows/images/missing.png)")
                }, "\(messages)")
            #expect(messages.contains { $0.contains("'notes.txt' is not a JPEG or PNG image") }, "\(messages)")
        }
    }

    @Test func largeDataURLsAreShortenedInRecordsAndSmallOnesKept() throws {
        let large = DataURL.make(mediaType: "image/png", data: Self.png)
        #expect(DataURL.shortened(large) == DataURL.placeholder(mediaType: "image/png", data: Self.png))
        #expect(DataURL.shortened("data:image/png;base64,iVBORw0KGgo=") == nil, "small: kept")
        #expect(DataURL.shortened(String(repeating: "x", count: 5000)) == nil, "not a data URL")
        // A response that echoes an image is recorded with the placeholder.
        let recorded = try #require(Redactor(values: []).recordable(body: Array(JSONValue.object(["file": .string(large)]).serialized())))
        #expect(recorded.contains("data:image/png;base64,… (3 KB, sha256:"))
        #expect(!recorded.contains(Self.png.base64EncodedString().prefix(200)))
    }

    @Test func theShippedImagesAreRealLookingJPEGAndPNG() throws {
        let flow = try quickstart()
        let files = Dictionary(uniqueKeysWithValues: flow.embeddedFiles.map { ($0.reference, $0) })
        let passport = try #require(files["images/specimen-passport.jpg"]?.data)
        let bill = try #require(files["images/specimen-utility-bill.png"]?.data)
        #expect(DataURL.imageType(of: passport) == "image/jpeg")
        #expect(DataURL.imageType(of: bill) == "image/png")
        for data in [passport, bill] {
            #expect((20_000...64_000).contains(data.count), "\(data.count) bytes")
            let (width, height) = try #require(Self.dimensions(of: data))
            #expect(width >= 600 && height >= 400, "\(width)x\(height)")
        }
        // The flow's bodies hold the placeholders, not the bytes.
        let createUser = try #require(flow.steps[3].requests.first { $0.id == "create_user" }?.body)
        #expect(!createUser.text().contains(passport.base64EncodedString().prefix(100)))
        #expect(createUser.text().contains("data:image/jpeg;base64,… ("))
    }

    /// Width and height from a PNG's IHDR or a JPEG's start-of-frame marker.
    static func dimensions(of data: Data) -> (Int, Int)? {
        let bytes = [UInt8](data)
        func big(_ at: Int, _ count: Int) -> Int { bytes[at..<at + count].reduce(0) { $0 << 8 | Int($1) } }
        if DataURL.imageType(of: data) == "image/png" { return (big(16, 4), big(20, 4)) }
        var index = 2
        while index + 9 < bytes.count, bytes[index] == 0xFF {
            let marker = bytes[index + 1]
            if (0xC0...0xC3).contains(marker) { return (big(index + 7, 2), big(index + 5, 2)) }
            index += 2 + big(index + 2, 2)
        }
        return nil
    }

    @Test func requiredFieldsListWhatNoSentBodyHolds() throws {
        let text = """
            flow: req
            title: Req
            api_version: "1"
            steps:
              - id: make
                title: Make
                explain: Makes a thing.
                requests:
                  - id: create
                    method: POST
                    path: /things
                    body: { name: x }
                    expect: [201]
                    quirks:
                      - id: Q-INCOMPLETE
                        when: { field: complete, equals: [false] }
                        required:
                          sent_by: [create]
                          fields:
                            - name
                            - colour
                            - { label: an ssn, in: ids, where: { field: type, equals: ssn }, has: number }
                        explain: "Required: {{ required_fields }}. Missing: {{ missing_fields }}."
                        remedies:
                          - label: Stop
                            stop: Complete it.
            """
        let flow = try FlowLoader.load(text, file: "req.yaml")
        let required = try #require(flow.steps[0].requests[0].quirks[0].required)
        #expect(required.fields.map(\.label) == ["name", "colour", "an ssn"])
        let noItemTest: (ResponseCondition, JSONValue) -> Bool = { condition, item in
            condition.field.flatMap { $0.resolve(in: item) }?.stringValue == condition.equals?.first?.stringValue
        }
        let sent: JSONValue = ["name": "x", "colour": "", "ids": [["type": "passport", "number": "1"]]]
        #expect(required.missing(in: [sent], matches: noItemTest) == ["colour", "an ssn"])
        let completed: JSONValue = ["colour": "red", "ids": [["type": "ssn", "number": "123"]]]
        #expect(required.missing(in: [sent, completed], matches: noItemTest) == [], "a later body completes the first")
        let unknown = FlowLinter.check(text.replacingOccurrences(of: "sent_by: [create]", with: "sent_by: [craete]"), file: "req.yaml") {
            _ in nil
        }
        #expect(unknown.issues.contains { $0.message.contains("required.sent_by names 'craete'") }, "\(unknown.issues)")
    }

    @Test func allHoldsOnlyWhenEveryConditionHolds() throws {
        let text = """
            flow: all
            title: All
            api_version: "1"
            steps:
              - id: wait
                title: Wait
                explain: Waits for a ready, unheld account.
                requests:
                  - id: read
                    method: GET
                    path: /things/1
                    expect: [200]
                    wait:
                      until:
                        all:
                          - { field: number, not_in: [null, PENDING] }
                          - { field: status, not_in: [rfi] }
                      timeout: 1m
            """
        let flow = try FlowLoader.load(text, file: "all.yaml")
        let until = try #require(flow.steps[0].requests[0].wait?.until)
        #expect(until.all?.count == 2)
        let engine = WalkthroughEngine(
            flow: flow,
            session: Session(
                name: "t", flow: flow, target: SessionTarget(kind: "local", baseURL: "http://127.0.0.1:1", isEmulator: true), now: Date()))
        func answer(_ json: JSONValue) -> ResponseSummary { ResponseSummary(status: 200, json: json, text: json.text()) }
        #expect(engine.matches(until, answer(["number": "1234567890", "status": "approved"])))
        #expect(!engine.matches(until, answer(["number": "1234567890", "status": "RFI"])), "held, though the number is real")
        #expect(!engine.matches(until, answer(["number": "PENDING", "status": "approved"])))
    }
}
