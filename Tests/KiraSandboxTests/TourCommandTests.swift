import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// `run --tour` (the quickstart's quirks made to happen on the local emulator) and the versioning
/// flow (`flows/versioning.yaml`), run as people run them.
@Suite(.serialized) struct TourCommandTests {
    func stateDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kira-tour-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let noCredentials = ["KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": ""]

    /// The quirk ids a Markdown transcript names (`**Q-…**`), in order of first mention.
    static func quirkIDs(inTranscript text: String) -> [String] {
        var ids: [String] = []
        var rest = Substring(text)
        while let range = rest.range(of: "**Q-") {
            let tail = rest[range.upperBound...]
            let end = tail.firstIndex { !($0.isUppercase || $0.isNumber || $0 == "-") } ?? tail.endIndex
            let id = "Q-" + tail[..<end]
            if !ids.contains(id) { ids.append(id) }
            rest = tail[end...]
        }
        return ids
    }

    /// The quirks the issue asks the tour to show, at the least.
    static let tourQuirks = [
        "Q-SOF-REJECT", "Q-NO-AUTO-VERIFY", "Q-ONE-VA", "Q-VA-READY", "Q-DEPOSIT-INVISIBLE", "Q-PAYOUT-MIN", "Q-TOKEN-TTL",
        "Q-PAYOUT-STATUS-CASE",
    ]

    /// `run --tour --plain --yes` on the embedded emulator, expected to complete.
    static func runTourUnattended(stateDirectory directory: String, vaReadyAfter: String) async throws -> KiraBinary.Outcome {
        let run = try await KiraBinary.run(
            ["run", "--tour", "--plain", "--yes", "--state-dir", directory, "--va-ready-after", vaReadyAfter],
            environment: Self.noCredentials, timeout: 240
        )
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr)")
        return run
    }

    @Test func theTourRunsUnattendedAndItsTranscriptNamesTheQuirks() async throws {
        let directory = stateDirectory()
        let run = try await Self.runTourUnattended(stateDirectory: directory, vaReadyAfter: "2")
        #expect(run.stdout.contains("quirk tour"), "the header names the tour")
        #expect(run.stdout.contains("Walkthrough complete"))
        // The session is the tour's own, not the quickstart's default one.
        #expect(FileManager.default.fileExists(atPath: directory + "/tour.json"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/default.json"))
        let export = try await KiraBinary.run(["export", "--format", "markdown", "--session", "tour", "--state-dir", directory])
        #expect(export.status == 0, "\(export.stderr)")
        let quirks = Self.quirkIDs(inTranscript: export.stdout)
        #expect(Set(quirks).count >= 10, "\(quirks)")
        for quirk in Self.tourQuirks { #expect(quirks.contains(quirk), "\(quirk) is in the transcript: \(quirks)") }
        // What the tour did is said, not hidden: the first user without source_of_funds, the
        // account made before, the clock; and the search found the minimum.
        #expect(export.stdout.contains("Tour: this first user goes without source_of_funds"))
        #expect(export.stdout.contains("Tour: before this request, the tour created an account"))
        #expect(export.stdout.contains("The access token was renewed"))
        let status = try await KiraBinary.run(["status", "--json", "--session", "tour", "--state-dir", directory])
        let json = try JSONValue.parse(status.stdout)
        #expect(json["inputs"]?["payout_amount"] == "2.77", "the search found the emulator's SWIFT minimum: \(json["inputs"] ?? .null)")
        // Run again: the tour's session is complete, nothing is arranged or sent twice.
        let again = try await KiraBinary.run(
            ["run", "--tour", "--plain", "--yes", "--state-dir", directory], environment: Self.noCredentials, timeout: 60)
        #expect(again.status == 0)
        #expect(!again.stdout.contains("POST"), "\(again.stdout)")
    }

    /// The tour's emulator keeps its own time: its clock moves only with the tour's moves and the
    /// walkthrough's waits, never with how long the machine takes. An account that opens after a
    /// millisecond of the emulator's time is still PENDING when the walkthrough reads it (on the
    /// wall clock, that millisecond is always gone by then), and opens during the first wait.
    @Test func theTourHappensOnTheEmulatorsClockNotTheMachinesSpeed() async throws {
        let directory = stateDirectory()
        _ = try await Self.runTourUnattended(stateDirectory: directory, vaReadyAfter: "0.001")
        let export = try await KiraBinary.run(["export", "--format", "markdown", "--session", "tour", "--state-dir", directory])
        let quirks = Self.quirkIDs(inTranscript: export.stdout)
        #expect(quirks.contains("Q-VA-READY"), "\(quirks)")
        let session = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/tour.json"))))
        let reads = (session["exchanges"]?.arrayValue ?? []).filter { $0["request_id"] == "va_ready" }
        #expect(reads.count == 2, "read while PENDING, then once after one wait: \(reads.count)")
    }

    @Test func theTourRefusesAnyTargetButTheLocalEmulator() async throws {
        let directory = stateDirectory()
        let sandbox = try await KiraBinary.run(
            ["run", "--tour", "--plain", "--yes", "--target", "sandbox", "--state-dir", directory], environment: Self.noCredentials)
        #expect(sandbox.status == 2, "\(sandbox.stdout)\n\(sandbox.stderr)")
        #expect(sandbox.stderr.contains("--tour runs only on the local emulator"), "\(sandbox.stderr)")
        let remote = try await KiraBinary.run(
            ["run", "--tour", "--plain", "--yes", "--target", "https://example.com/sandbox", "--state-dir", directory],
            environment: Self.noCredentials)
        #expect(remote.status == 2, "\(remote.stderr)")
        // A loopback port where no emulator answers.
        let silent = try await KiraBinary.run(
            ["run", "--tour", "--plain", "--yes", "--target", "http://127.0.0.1:9/sandbox", "--state-dir", directory],
            environment: Self.noCredentials, timeout: 30)
        #expect(silent.status == 2, "\(silent.stderr)")
        #expect(silent.stderr.contains("does not answer as the emulator"), "\(silent.stderr)")
        // Nothing was started for any of them.
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.isEmpty)
    }

    @Test func theTourRunsOnAServedLocalEmulator() async throws {
        let directory = stateDirectory()
        try await LiveSandbox.with(SandboxConfiguration(virtualAccountReadyAfter: .seconds(2)), clock: .system) { sandbox in
            let run = try await KiraBinary.run(
                ["run", "--tour", "--plain", "--yes", "--target", sandbox.baseURL, "--state-dir", directory],
                environment: [
                    "KIRA_API_KEY": sandbox.demo.apiKey, "KIRA_CLIENT_ID": sandbox.demo.clientID, "KIRA_PASSWORD": sandbox.demo.password,
                ], timeout: 240
            )
            #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr)")
            for quirk in ["Q-SOF-REJECT", "Q-ONE-VA", "Q-TOKEN-TTL", "Q-PAYOUT-MIN"] {
                #expect(run.stdout.contains(quirk), "\(quirk):\n\(run.stdout.suffix(3000))")
            }
        }
    }

    @Test func theVersioningFlowTeachesTheResolutionOrderInOrder() async throws {
        let directory = stateDirectory()
        let flow = KiraBinary.packageRoot.appendingPathComponent("flows/versioning.yaml").path
        let run = try await KiraBinary.run(
            ["run", "--flow", flow, "--plain", "--yes", "--state-dir", directory, "--va-ready-after", "0.5"],
            environment: Self.noCredentials, timeout: 180
        )
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr)")
        // The session file holds the captures, the events and the exchanges as sent.
        let json = try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: directory + "/default.json")))
        #expect(json["flow_id"] == "versioning")
        #expect(json["captures"]?["baseline_status"] == "ACTIVE", "no header, no pin: the baseline's upper case")
        #expect(json["captures"]?["dated_status"] == "approved", "the header's version: lower case")
        #expect(json["captures"]?["pinned_status"] == "approved", "no header, pinned: the pin's version")
        #expect(json["captures"]?["override_status"] == "ACTIVE", "the header wins over the pin")
        // The lessons are notes of their steps, in this order.
        let events = try #require(json["events"]?.arrayValue)
        let lessons = events.compactMap { event -> String? in
            guard event["kind"] == "note", let quirk = event["quirk_id"]?.stringValue,
                let step = event["step_id"]?.stringValue, step.hasPrefix("read_")
            else { return nil }
            return "\(step) \(quirk)"
        }
        #expect(
            lessons == [
                "read_baseline Q-VERSION-HEADER", "read_with_header Q-STATUS-CASE", "read_pinned Q-VERSION-HEADER",
                "read_override Q-VERSION-HEADER",
            ], "\(lessons)")
        // What went on the wire: the header left out, then sent, then left out, then overridden.
        let exchanges = try #require(json["exchanges"]?.arrayValue)
        func versionHeader(_ requestID: String) -> String?? {
            guard let exchange = exchanges.last(where: { $0["request_id"] == .string(requestID) }),
                let headers = exchange["request_headers"]?.arrayValue
            else { return nil }
            let header = headers.first { $0.arrayValue?.first?.stringValue?.lowercased() == "x-api-version" }
            return .some(header.flatMap { $0.arrayValue?.last?.stringValue })
        }
        #expect(versionHeader("read_without_header") == .some(nil))
        #expect(versionHeader("read_with_header") == .some("2026-04-14"))
        #expect(versionHeader("read_pinned") == .some(nil))
        #expect(versionHeader("read_override") == .some("2025-01-01"))
    }
}
