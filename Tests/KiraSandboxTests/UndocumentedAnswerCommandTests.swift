import AsyncHTTPClient
import Foundation
import KiraJSON
import KiraTestSupport
import NIOCore
import NIOHTTP1
import Testing

@testable import KiraSandbox

#if canImport(Glibc)
    import Glibc
#endif

/// `run` on answers nobody documented and on a target nobody answers at, and `drift`, as people
/// run them (the built binary, a served emulator, real HTTP on loopback).
@Suite(.serialized) struct UndocumentedAnswerCommandTests {
    var demoEnvironment: [String: String] {
        let demo = TenantCredentials.demo
        return ["KIRA_API_KEY": demo.apiKey, "KIRA_CLIENT_ID": demo.clientID, "KIRA_PASSWORD": demo.password]
    }

    func stateDirectory() throws -> String { try KiraBinary.temporaryDirectory("kira-undoc").path }

    /// Adds a fault through the served emulator's `/__emulator/faults`.
    func inject(_ served: ServedEmulator, _ fault: JSONValue) async throws {
        var request = HTTPClientRequest(url: served.root + "/__emulator/faults")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: fault.serialized()))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(response.status.code == 201)
    }

    /// An unattended run stops with exit code 3 and prints the whole answer; the next run sends
    /// the keyed request again (its recommendation for a request safe to repeat) and completes,
    /// with one virtual account.
    @Test func anUndocumented422StopsWithExitThreeAndAResumeCompletesWithoutADuplicate() async throws {
        let served = try await ServedEmulator(["--va-ready-after", "0.3"])
        defer { served.terminate() }
        try await inject(
            served,
            [
                "method": "POST", "path": "/v1/virtual-accounts", "kind": "status", "status": 422,
                "body": ["code": "compliance_hold", "message": "Account opening is on hold for review"],
            ])
        var environment = demoEnvironment
        let directory = try stateDirectory()
        environment["KIRA_WALKTHROUGH_STATE_DIR"] = directory
        let arguments = ["run", "--plain", "--yes", "--target", served.baseURL, "--session", "undoc"]
        let first = try await KiraBinary.run(arguments, environment: environment, timeout: 120)
        #expect(first.status == 3, "\(first.stdout.suffix(3000))\n\(first.stderr)")
        for part in ["unexpected-answer", "HTTP 422", "code: compliance_hold", "message: Account opening is on hold for review"] {
            #expect(first.stdout.contains(part), "\(part) printed")
        }
        #expect(first.stdout.contains("Stopped:"))
        #expect(try await served.counts()["virtual_accounts"] == 0)

        let second = try await KiraBinary.run(arguments, environment: environment, timeout: 120)
        #expect(second.status == 0, "\(second.stdout.suffix(3000))\n\(second.stderr)")
        #expect(second.stdout.contains("Walkthrough complete"))
        let counts = try await served.counts()
        #expect(counts["users"] == 1 && counts["virtual_accounts"] == 1 && counts["payouts"] == 1, "\(counts)")
        // The create went twice in all: refused by the first run, sent again once by the second.
        let session = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/undoc.json"))))
        let creates = (session["exchanges"]?.arrayValue ?? []).filter { $0["request_id"] == "create_va" }
        #expect(creates.map { $0["status"]?.intValue } == [422, 201])
    }

    /// Nothing listens at the target: the failure names the host and what to check, once.
    @Test func aRefusedConnectionIsExplainedOnce() async throws {
        // A port that was free a moment ago and has nobody listening.
        let port = try Self.closedPort()
        var environment = demoEnvironment
        environment["KIRA_WALKTHROUGH_STATE_DIR"] = try stateDirectory()
        let run = try await KiraBinary.run(
            ["run", "--plain", "--yes", "--target", "http://127.0.0.1:\(port)/sandbox"], environment: environment, timeout: 120)
        #expect(run.status == 1, "\(run.stdout)\n\(run.stderr)")
        let explanation = "Nothing accepts connections at 127.0.0.1:\(port). What to check:"
        #expect(run.stdout.components(separatedBy: explanation).count - 1 == 1, "explained once in\n\(run.stdout)")
        #expect(run.stderr.components(separatedBy: explanation).count - 1 <= 1, "at most once more as the exit summary")
        // Every attempt is shown, but after the first one each says only that it failed the same way.
        #expect(run.stdout.components(separatedBy: "The same failure again (as attempt 1)").count - 1 == 3, "\(run.stdout)")
        #expect(run.stdout.contains("(4 attempts, all failing the same way)"))
    }

    /// Binds a loopback port and closes it again.
    static func closedPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A session recorded on the emulator has the emulator's shapes; a renamed field, a changed
    /// type and a changed casing in its recorded answers are each named; a missing session is a
    /// usage error.
    @Test func driftReportsNothingForAnEmulatorSessionAndNamesWhatAnEditChanged() async throws {
        let directory = try stateDirectory()
        let recorded = try await KiraBinary.run(
            ["run", "--plain", "--yes", "--target", "local", "--state-dir", directory, "--va-ready-after", "0.3"],
            environment: ["KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": ""], timeout: 180)
        try #require(recorded.status == 0, "\(recorded.stdout.suffix(2000))\n\(recorded.stderr)")

        let clean = try await KiraBinary.run(["drift", "--state-dir", directory], timeout: 180)
        #expect(clean.status == 0, "\(clean.stdout)\n\(clean.stderr)")
        #expect(clean.stdout.contains("No drift"))

        // Edit the recorded answers the way a real sandbox might differ.
        let path = directory + "/default.json"
        var session = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        var exchanges = try #require(session["exchanges"]?.arrayValue)
        func edit(_ requestID: String, _ change: (inout JSONObject) -> Void) throws {
            let index = try #require(exchanges.lastIndex { $0["request_id"]?.stringValue == requestID && $0["status"] != .null })
            var body = try #require(try JSONValue.parse(Array((exchanges[index]["response_body"]?.stringValue ?? "").utf8)).objectValue)
            change(&body)
            var exchange = try #require(exchanges[index].objectValue)
            exchange["response_body"] = .string(JSONValue.object(body).text(.pretty))
            exchanges[index] = .object(exchange)
        }
        try edit("create_user") { body in
            body["verification_state"] = body["verification_status"]
            body["verification_status"] = nil
        }
        try edit("create_payout") { body in body["status"] = "CREATED" }
        try edit("read_payout") { body in body["amount"] = 50 }
        var object = try #require(session.objectValue)
        object["exchanges"] = .array(exchanges)
        session = .object(object)
        try Data(session.text(.pretty).utf8).write(to: URL(fileURLWithPath: path))

        let drift = try await KiraBinary.run(["drift", "--state-dir", directory], timeout: 180)
        #expect(drift.status == 1, "\(drift.stdout)\n\(drift.stderr)")
        for line in [
            "create_user/create_user: verification_state: recorded string emulator absent",
            "create_user/create_user: verification_status: recorded absent emulator string",
            "payout/create_payout: status: recorded UPPER CASE string emulator lower case string",
            "payout/read_payout: amount: recorded number emulator string",
        ] {
            #expect(drift.stdout.contains(line), "\(line) in\n\(drift.stdout)")
        }
        // Shapes only: no value of the session shows.
        let payoutID = try #require(
            session["exchanges"]?.arrayValue?.compactMap { $0["response_body"]?.stringValue }.first {
                $0.contains("payout_id")
            })
        let id = try #require(try JSONValue.parse(Array(payoutID.utf8))["payout_id"]?.stringValue)
        #expect(!drift.stdout.contains(id))

        let json = try await KiraBinary.run(["drift", "--state-dir", directory, "--json"], timeout: 180)
        #expect(json.status == 1)
        let differences = try #require(try JSONValue.parse(json.stdout)["differences"]?.arrayValue)
        #expect(differences.contains { $0["path"] == "verification_state" && $0["emulator"] == "absent" && $0["step"] == "create_user" })

        let missing = try await KiraBinary.run(["drift", "--state-dir", directory, "--session", "nope"], timeout: 60)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no session 'nope'"))
    }
}
