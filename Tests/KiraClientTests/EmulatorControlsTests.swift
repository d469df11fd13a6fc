import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraClient
@testable import KiraSandbox
@testable import WalkthroughCore

/// `EmulatorControls`: telling the emulator from anything else, and the operator actions that
/// stand in for "ask your Kira contact".
@Suite struct EmulatorControlsTests {
    @Test func rootStripsTheSandboxPathAndTrailingSlashes() {
        #expect(EmulatorControls.root(of: "http://127.0.0.1:4010/sandbox") == "http://127.0.0.1:4010")
        #expect(EmulatorControls.root(of: "http://127.0.0.1:4010/sandbox/") == "http://127.0.0.1:4010")
        #expect(EmulatorControls.root(of: "http://127.0.0.1:4010") == "http://127.0.0.1:4010")
        #expect(EmulatorControls.root(of: "https://api.balampay.com/sandbox") == "https://api.balampay.com")
    }

    @Test func theEmulatorIsRecognised() async throws {
        // Recognition, not speed, is under test: the probe gets more than the product's 2 s, which a
        // parallel run on two cores has exceeded.
        try await LiveSandbox.with(on: .timing) { sandbox in
            #expect(await EmulatorControls.isEmulator(sandbox.baseURL, timeout: .seconds(20), on: TestThreads.timing))
            #expect(await EmulatorControls.isEmulator(sandbox.baseURL + "/", timeout: .seconds(20), on: TestThreads.timing))
            #expect(await EmulatorControls.isEmulator(sandbox.rootURL, timeout: .seconds(20), on: TestThreads.timing))
        }
    }

    @Test func aPortWithNothingListeningIsNotTheEmulator() async throws {
        try await TestThreads.run {
            let socket = try LoopbackSocket()  // bound, not listening: connections are refused
            defer { socket.close() }
            let started = ContinuousClock.now
            #expect(await EmulatorControls.isEmulator(socket.baseURL, timeout: .milliseconds(500), on: TestThreads.timing) == false)
            // Bounded by the probe's timeout (a refused connection is retried inside it), not by
            // HTTP's 10 s connect timeout; the margin is for a loaded machine.
            #expect(ContinuousClock.now - started < .seconds(8))
        }
    }

    @Test func anotherServerAnsweringHealthzIsNotTheEmulator() async throws {
        try await TestThreads.run {
            let server = try LoopbackSocket()
            defer { server.close() }
            try server.serve(status: 200, body: #"{"status":"ok","service":"something-else"}"#)
            #expect(await EmulatorControls.isEmulator(server.baseURL, on: TestThreads.timing) == false)
        }
    }

    @Test func aServerThatDoesNotAnswerInTimeIsNotTheEmulator() async throws {
        try await TestThreads.run {
            // Faults never apply to /healthz, so this is a listener that accepts and never answers.
            let socket = try LoopbackSocket()
            defer { socket.close() }
            try socket.listenWithoutAnswering()
            let started = ContinuousClock.now
            #expect(await EmulatorControls.isEmulator(socket.baseURL, timeout: .milliseconds(300), on: TestThreads.timing) == false)
            // Bounded by the probe's timeout: without it, a silent server holds the probe forever.
            #expect(ContinuousClock.now - started < .seconds(8))
        }
    }

    @Test func verifyUserFlipsAUserCreatedThroughTheClient() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.withClient { client in
                let created = await client.send(Requests.createUser(key: newKey()), secret: demoSecrets)
                let id = try #require(created.response?.json?["id"]?.stringValue)
                #expect(created.response?.json?["status"]?.stringValue == "CREATED")

                let failure = await EmulatorControls.perform(
                    OperatorRequest(verb: .verifyUser, id: id, label: "Verify"), baseURL: sandbox.baseURL)
                #expect(failure == nil)
                let user = await client.send(Requests.getUser(id), secret: demoSecrets)
                #expect(user.response?.json?["status"]?.stringValue == "VERIFIED")
                #expect(user.response?.json?["verification_status"]?.stringValue == "verified")
            }
        }
    }

    @Test func rejectUserFlipsItTheOtherWay() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            try await sandbox.withClient { client in
                let created = await client.send(Requests.createUser(key: newKey()), secret: demoSecrets)
                let id = try #require(created.response?.json?["id"]?.stringValue)
                let failure = await EmulatorControls.perform(
                    OperatorRequest(verb: .rejectUser, id: id, label: "Reject"), baseURL: sandbox.baseURL)
                #expect(failure == nil)
                let user = await client.send(Requests.getUser(id), secret: demoSecrets)
                #expect(user.response?.json?["status"]?.stringValue == "REJECTED")
            }
        }
    }

    @Test func anUnknownUserIsReportedWithTheEmulatorsMessage() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let failure = await EmulatorControls.perform(
                OperatorRequest(verb: .verifyUser, id: newKey(), label: "Verify"), baseURL: sandbox.baseURL)
            #expect(failure == "User not found")
            let malformed = await EmulatorControls.perform(
                OperatorRequest(verb: .verifyUser, id: "verified_user_id", label: "Verify"), baseURL: sandbox.baseURL)
            #expect(malformed?.contains("verified_user_id") == true)
        }
    }

    @Test func theAdminTokenIsSentWhenGiven() async throws {
        var configuration = SandboxConfiguration()
        configuration.adminToken = "operator-secret"
        try await LiveSandbox.with(configuration, on: .timing) { sandbox in
            let token = try await sandbox.token()
            let create = try await sandbox.raw(
                "POST", "/v1/users",
                headers: [
                    ("x-api-key", sandbox.demo.apiKey), ("authorization", "Bearer \(token)"), ("content-type", "application/json"),
                    ("idempotency-key", newKey()),
                ],
                body: Fixtures.completeIndividual().serialized()
            )
            let id = try #require(create.json["id"]?.stringValue)
            let action = OperatorRequest(verb: .verifyUser, id: id, label: "Verify")
            let refused = await EmulatorControls.perform(action, baseURL: sandbox.baseURL)
            #expect(refused?.contains("x-admin-token") == true)
            #expect(await EmulatorControls.perform(action, baseURL: sandbox.baseURL, adminToken: "operator-secret") == nil)
        }
    }

    @Test func provisionReturnsIdsThatExistAndShellAssignments() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let ids = try await EmulatorControls.provision(baseURL: sandbox.baseURL).get()
            let client = try await sandbox.client()
            #expect(try await client.get("/v1/users/\(ids.userID)").json["status"] == "VERIFIED")
            #expect(try await client.get("/v1/virtual-accounts/\(ids.virtualAccountID)").status == 200)
            #expect(try await client.get("/v1/recipients/\(ids.recipientID)").status == 200)
            #expect(
                ids.shellAssignments
                    == "KIRA_USER_ID=\(ids.userID)\nKIRA_VA_ID=\(ids.virtualAccountID)\nKIRA_RECIPIENT_ID=\(ids.recipientID)\n"
            )
            let unknownTenant = await EmulatorControls.provision(clientID: newKey(), baseURL: sandbox.baseURL)
            guard case .failure(let failure) = unknownTenant else {
                Issue.record("provisioning for an unknown tenant succeeded")
                return
            }
            #expect(failure.status == 404)
        }
    }

    @Test func holdsPutAnAccountOnRFIClearItAndDeactivateIt() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let ids = try await EmulatorControls.provision(baseURL: sandbox.baseURL).get()
            let client = try await sandbox.client()
            let held = try await EmulatorControls.hold(
                .requestInformation, virtualAccountID: ids.virtualAccountID, reason: "source of wealth", baseURL: sandbox.baseURL
            ).get()
            #expect(held["status"]?.stringValue == "RFI")
            let deposit = try await client.post("/v1/virtual-accounts/\(ids.virtualAccountID)/simulate-deposit", ["amount": "5.00"])
            #expect(deposit.status == 400)
            let cleared = try await EmulatorControls.hold(.clearRequest, virtualAccountID: ids.virtualAccountID, baseURL: sandbox.baseURL)
                .get()
            #expect(cleared["status"]?.stringValue == "ACTIVE")
            let closed = try await EmulatorControls.hold(.deactivate, virtualAccountID: ids.virtualAccountID, baseURL: sandbox.baseURL)
                .get()
            #expect(closed["status"]?.stringValue == "DEACTIVATED")
            let afterDeactivation = await EmulatorControls.hold(
                .clearRequest, virtualAccountID: ids.virtualAccountID, baseURL: sandbox.baseURL)
            guard case .failure(let failure) = afterDeactivation else {
                Issue.record("a deactivated account left its state")
                return
            }
            #expect(failure.status == 409)
            #expect(failure.message.contains("DEACTIVATED"))
        }
    }

    @Test func nothingListeningIsAFailureNotACrash() async throws {
        try await TestThreads.run {
            let socket = try LoopbackSocket()
            defer { socket.close() }
            let started = ContinuousClock.now
            let failure = await EmulatorControls.perform(
                OperatorRequest(verb: .verifyUser, id: newKey(), label: "Verify"), baseURL: socket.baseURL)
            #expect(failure != nil)
            #expect(failure?.isEmpty == false)
            // At once, not after the action's 10 s deadline of retried connections (margin for a loaded machine).
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }
}
