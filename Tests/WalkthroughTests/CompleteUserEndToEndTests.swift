import Foundation
import KiraJSON
import SessionStore
import Testing
import WalkthroughPresentation

@testable import KiraSandbox
@testable import WalkthroughCore
@testable import WalkthroughRunner

/// A user the real sandbox would verify (issue 10), and the quirks met at steps 4 and 5, end to
/// end against the emulator over loopback.
@Suite struct CompleteUserEndToEndTests {
    /// The create call's `identifying_information` block (indented as in the create's body; the PUT
    /// remedy's copy is indented deeper and stays).
    static let identifyingInformation = """
                  identifying_information:
                    - type: ssn
                      issuing_country: USA
                      number: "123-45-6789"
                    - type: passport
                      issuing_country: USA
                      number: X1234567
                      image_front: { file_as_data_url: images/specimen-passport.jpg }
                    - type: file_proof_of_address
                      issuing_country: USA
                      file: { file_as_data_url: images/specimen-utility-bill.png }
                expect: [201]
        """

    @Test func theCompleteUserTriggersVerificationAndTheSessionStaysSmall() async throws {
        try await WalkthroughFixture.with { fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            #expect(await fixture.run(flow, presenter: presenter) == .completed)
            // The emulator saw a complete user: verification triggered, the images were decoded.
            let created = try #require(await presenter.exchanges.first { $0.requestID == "create_user" })
            let answer = try JSONValue.parse(try #require(created.responseBody))
            #expect(answer["verification_triggered"] == true)
            let userID = try #require(answer["id"]?.stringValue)
            #expect(try await fixture.call("GET", "/v1/users/\(userID)")["status"] == "VERIFIED")
            let events = await presenter.events.compactMap(\.quirkID)
            #expect(!events.contains("Q-NOT-TRIGGERED") && !events.contains("Q-SOF-REJECT"))
            // The record keeps the placeholders, never the images' bytes.
            let body = try #require(created.requestBody)
            #expect(body.contains("data:image/jpeg;base64,… ("))
            #expect(body.contains("data:image/png;base64,… ("))
            let passport = try #require(flow.embeddedFiles.first?.data)
            #expect(!body.contains(passport.base64EncodedString().prefix(64)))
            // A finished walkthrough's session file stays under 64 KB.
            let file = fixture.store.directory + "/test.json"
            let size = try #require(FileManager.default.contents(atPath: file)?.count)
            #expect(size < 64 * 1024, "\(size) bytes")
            // It names the images by their placeholders (digest included).
            #expect(fixture.stateDirectoryContents().contains("sha256:\(SHA256Hash.hex(of: passport).prefix(8))"))
        }
    }

    @Test func aUserWithoutIdentifyingInformationIsCompletedWithAPutAndVerified() async throws {
        let flow = try quickstart(replacing: Self.identifyingInformation, with: "        expect: [201]\n")
        try await WalkthroughFixture.with { fixture in
            let presenter = RecordingPresenter()
            #expect(await fixture.run(flow, presenter: presenter) == .completed)
            let blocks = await presenter.blocked.map(\.quirkID)
            #expect(blocks.first == "Q-NOT-TRIGGERED", "\(blocks)")
            #expect(blocks.contains("Q-NO-AUTO-VERIFY"), "completed, it reached REVIEW: \(blocks)")
            #expect(!blocks.contains("Q-SOF-REJECT"))
            let notTriggered = try #require(await presenter.blocked.first)
            // What the docs require beside what was sent.
            #expect(notTriggered.explanation.contains("The docs require: first_name, last_name,"))
            #expect(
                notTriggered.explanation.contains(
                    "Missing from what was sent: identifying_information: an ssn (or tax_id), identifying_information: a government ID with image_front, identifying_information: the proof of address file."
                ), "\(notTriggered.explanation)")
            #expect(notTriggered.remedies.map(\.label).first?.contains("PUT") == true)
            let exchanges = await presenter.exchanges
            let put = try #require(exchanges.first { $0.requestID == "complete_user" })
            #expect(put.method == "PUT" && put.status == 200)
            #expect(put.requestBody?.contains("data:image/jpeg;base64,… (") == true)
            // One user, completed in place and verified.
            #expect(await fixture.counts()["users"] == 1)
            let userID = try #require(try fixture.store.load("test")?.captures["user_id"]?.stringValue)
            // The remedy's "done" line names the user, its template filled in.
            let done = await presenter.events.filter { $0.kind == .remedy && $0.text.hasSuffix(": done") }.map(\.text)
            #expect(done.contains { $0.contains("PUT /v1/users/\(userID)") }, "\(done)")
            #expect(!done.contains { $0.contains("{{") }, "\(done)")
            let user = try await fixture.call("GET", "/v1/users/\(userID)")
            #expect(user["status"] == "VERIFIED")
            #expect(user["verification_triggered"] == true)
        }
    }

    @Test func aDuplicateEmailIsExplainedAndANewOneUsed() async throws {
        try await WalkthroughFixture.with { fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            // Just before the walkthrough creates its user, someone creates one with the same email.
            let store = fixture.store
            await presenter.hook("/v1/users") {
                guard let runID = try? store.load("test")?.inputs["run_id"] else { return }
                _ = try? await fixture.call(
                    "POST", "/v1/users",
                    body: ["type": "individual", "first_name": "A", "last_name": "B", "email": .string("ada+\(runID)@example.com")],
                    key: UUID().uuidString)
            }
            #expect(await fixture.run(flow, presenter: presenter) == .completed)
            let duplicate = try #require(await presenter.blocked.first)
            #expect(duplicate.quirkID == "Q-DUPLICATE-EMAIL")
            #expect(duplicate.explanation.contains("emails are unique per tenant"))
            let creations = await presenter.exchanges.filter { $0.requestID == "create_user" }
            #expect(creations.map(\.status) == [409, 201])
            let emails = creations.compactMap { $0.requestBody.flatMap { try? JSONValue.parse($0) }?["email"]?.stringValue }
            #expect(emails.count == 2 && emails[0] != emails[1], "\(emails)")
        }
    }

    @Test func aVirtualAccountOnRFIStopsTheStepWithItsExplanation() async throws {
        // The account stays pending a minute (emulator time), so the first readiness poll waits.
        try await WalkthroughFixture.with(SandboxConfiguration(virtualAccountReadyAfter: .seconds(60))) { fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            let store = fixture.store
            // At the first wait for readiness, the provider asks for information, and the account
            // number becomes real: only the status says it is not usable.
            await presenter.hookWait(on: "Q-VA-READY") {
                guard let vaID = (try? store.load("test"))?.captures["va_id"]?.stringValue else { return }
                _ = try? await fixture.control("virtual-accounts/\(vaID)/rfi")
                try? await fixture.advanceClock(seconds: 61)
            }
            #expect(await fixture.run(flow, presenter: presenter) == .completed)
            let hold = try #require(await presenter.blocked.first { $0.quirkID == "Q-VA-RFI" })
            #expect(hold.explanation.contains("request for information"))
            #expect(hold.remedies.map(\.label).contains { $0.contains("Wait until the provider clears it") })
            let readiness = await presenter.exchanges.filter { $0.requestID == "va_ready" }
            let held = try #require(readiness.first { $0.responseBody?.contains("\"rfi\"") == true })
            #expect(held.responseBody?.contains("PENDING-ACT-ACCOUNT") == false, "held with a real number: not ready all the same")
            // Cleared as the operator (the recommended remedy on the emulator), it went on to the deposit.
            let session = try #require(try fixture.store.load("test"))
            #expect(session.events.contains { $0.kind == .operator && $0.text.contains("clear_virtual_account_rfi") })
            #expect(session.steps[5].state == .succeeded)
        }
    }

    @Test func aDeactivatedVirtualAccountIsReplacedByANewOne() async throws {
        try await WalkthroughFixture.with(SandboxConfiguration(virtualAccountReadyAfter: .seconds(60))) { fixture in
            let flow = try quickstart()
            let presenter = RecordingPresenter()
            let store = fixture.store
            await presenter.hookWait(on: "Q-VA-READY") {
                guard let vaID = (try? store.load("test"))?.captures["va_id"]?.stringValue else { return }
                _ = try? await fixture.control("virtual-accounts/\(vaID)/deactivate")
                try? await fixture.advanceClock(seconds: 61)
                // The new account is pending a minute too: its first wait moves the clock on again.
                await presenter.hookWait(on: "Q-VA-READY") { try? await fixture.advanceClock(seconds: 61) }
            }
            #expect(await fixture.run(flow, presenter: presenter) == .completed)
            let closed = try #require(await presenter.blocked.first { $0.quirkID == "Q-VA-DEACTIVATED" })
            #expect(closed.explanation.contains("closed for good"))
            let creations = await presenter.exchanges.filter { $0.requestID == "create_va" }
            #expect(creations.map(\.status) == [201, 201], "a new account, with a new idempotency key")
            #expect(Set(creations.compactMap { $0.requestHeaders.first { $0.first == "idempotency-key" }?.last }).count == 2)
        }
    }
}
