import Foundation
import KiraJSON
import KiraSandbox
import KiraTestSupport
import Testing

/// The coach watching the curl script `export --format curl` writes: a program that does
/// everything right must get no error finding, and `coach report` must carry no secret.
@Suite(.serialized) struct CoachExportTests {
    @Test func theExportedCurlScriptGetsNoErrorFindingAndTheReportsHoldNoSecret() async throws {
        let made = try await WalkthroughSessions.shared.session(.standard)
        let output = try KiraBinary.temporaryDirectory("kira-coach-export").appendingPathComponent("replay.sh").path
        let export = try await KiraBinary.run(
            ["export", "--format", "curl", "--state-dir", made.stateDirectory.path, "--output", output],
            workingDirectory: KiraBinary.packageRoot
        )
        #expect(export.status == 0, "\(export.stderr)")

        let coach = try await ServedCoach(["--auto-verify-after", "0", "--va-ready-after", "0"])
        defer { coach.terminate() }
        #expect(coach.readinessLine.hasPrefix("Kira sandbox emulator ready at "), "the same readiness line as sandbox serve")
        let run = try await KiraBinary.run(
            [output], executable: URL(fileURLWithPath: "/bin/bash"),
            environment: KiraBinary.demoCredentials(baseURL: coach.baseURL), cleanEnvironment: true, timeout: 240
        )
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr)")

        let json = try await KiraBinary.run(["coach", "report", "--url", coach.baseURL, "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try JSONValue.parse(Array(json.stdout.utf8))
        let steps = try #require(report["steps"]?.arrayValue)
        #expect(steps.count == 7 && steps.allSatisfy { $0["done"] == true }, "\(json.stdout)")
        let errors = (report["findings"]?.arrayValue ?? []).filter { $0["severity"] == "error" }
        #expect(errors.isEmpty, "\(json.stdout)")

        let markdown = try await KiraBinary.run(["coach", "report", "--url", coach.baseURL])
        #expect(markdown.status == 0, "\(markdown.stderr)")
        #expect(markdown.stdout.contains("- [x] 7. "), "\(markdown.stdout)")
        #expect(markdown.stdout.contains("Findings: 0 error(s)"), "\(markdown.stdout)")

        // Plain mode printed a line per request and per ticked step.
        #expect(await coach.waitForOutput("✓ step 7/7"), "\(coach.output.suffix(2000))")
        #expect(coach.output.contains("→ #1 POST /sandbox/auth 200"), "\(coach.output.prefix(2000))")

        let demo = TenantCredentials.demo
        for text in [json.stdout, markdown.stdout, coach.output] {
            for secret in [demo.apiKey, demo.password, demo.clientID, "kat_"] { #expect(!text.contains(secret), "\(secret) leaked") }
        }
    }

    /// Plain mode under a flood: more requests come between two looks than the log keeps. It
    /// says how many it could not show instead of skipping them silently, and goes on printing.
    @Test func aFloodBeyondTheLogSaysHowManyRequestsWentUnseen() async throws {
        let coach = try await ServedCoach(["--keep", "2"])
        defer { coach.terminate() }
        // Bursts of 20 until the coach reports a gap (each burst takes far less than its 100 ms
        // between looks on any machine this runs on; bounded at 50 bursts).
        var bursts = 0
        while bursts < 50, !coach.output.contains("came and went") {
            for _ in 0..<20 { #expect(try await coach.getWithKeyOnly("/v1/users") == 401) }
            bursts += 1
        }
        #expect(await coach.waitForOutput("came and went between two looks (the log keeps 2; --keep keeps more)"), "\(coach.output.suffix(2000))")
        let gap = coach.output.split(separator: "\n").first { $0.contains("came and went") }.map(String.init) ?? ""
        let missed = Int(gap.split(separator: " ").dropFirst().first ?? "") ?? 0
        #expect(missed >= 1, "\(gap)")
        // Every request is accounted for: shown or counted as gone.
        let last = bursts * 20
        #expect(await coach.waitForOutput("→ #\(last) GET /sandbox/v1/users 401"), "\(coach.output.suffix(2000))")
        let shown = coach.output.split(separator: "\n").filter { $0.hasPrefix("→ #") }.count
        let gone = coach.output.split(separator: "\n").filter { $0.contains("came and went") }.compactMap {
            Int($0.split(separator: " ").dropFirst().first ?? "")
        }.reduce(0, +)
        #expect(shown + gone == last, "shown \(shown) + gone \(gone) of \(last)")
    }

    @Test func aReportOfAnEmulatorWithoutTheCoachSaysWhatToRun() async throws {
        let emulator = try await ServedEmulator()
        defer { emulator.terminate() }
        let report = try await KiraBinary.run(["coach", "report", "--url", emulator.baseURL])
        #expect(report.status == 1)
        #expect(report.stderr.contains("kira-walkthrough coach"), "\(report.stderr)")
    }
}
