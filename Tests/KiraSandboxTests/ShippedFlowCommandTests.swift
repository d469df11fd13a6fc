import Foundation
import KiraJSON
import KiraTestSupport
import Testing

/// The flows inside the binary, through the command line: `flows list`, `run --flow NAME|FILE`,
/// and a copy of the binary that runs with no source tree in sight.
@Suite struct ShippedFlowCommandTests {
    static let noCredentials = ["KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": ""]

    @Test func flowsListPrintsEachShippedFlowWithItsTitleAndStepCount() async throws {
        let elsewhere = try KiraBinary.temporaryDirectory("kira-cwd")
        let list = try await KiraBinary.run(["flows", "list"], workingDirectory: elsewhere)
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n").map(String.init)
        // Every YAML file at the top of flows/ with a `flow:` id and steps is listed, under its name and
        // title (coach rules have steps too, but no `flow:` id: they are not a flow).
        let flows = KiraBinary.packageRoot.appendingPathComponent("flows")
        let files = try FileManager.default.contentsOfDirectory(atPath: flows.path).filter { $0.hasSuffix(".yaml") }.sorted()
        var listed = 0
        for file in files {
            let text = try String(contentsOf: flows.appendingPathComponent(file), encoding: .utf8)
            let topLevel = text.split(separator: "\n")
            guard topLevel.contains(where: { $0.hasPrefix("flow:") }), topLevel.contains(where: { $0.hasPrefix("steps:") }) else {
                continue
            }
            let name = String(file.dropLast(".yaml".count))
            let title = try #require(text.split(separator: "\n").first { $0.hasPrefix("title:") }).dropFirst("title:".count)
                .trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
            #expect(lines.contains { $0.hasPrefix(name + " ") && $0.contains(title) && $0.hasSuffix(" steps)") }, "\(name): \(list.stdout)")
            listed += 1
        }
        #expect(lines.count == listed, "one line per flow:\n\(list.stdout)")
        #expect(lines.contains { $0.hasPrefix("quickstart ") && $0.hasSuffix("Kira sandbox quickstart (7 steps)") }, "\(list.stdout)")
        #expect(!list.stdout.contains("kira-api"), "an API description is not a flow")
        #expect(!lines.contains { $0.hasPrefix("coach ") }, "coach rules are not a flow")
    }

    /// `run --flow NAME --plain --yes` on the embedded emulator from `directory`, expected to complete.
    static func runFlowUnattended(_ name: String, state: URL, from directory: URL) async throws -> KiraBinary.Outcome {
        let run = try await KiraBinary.run(
            ["run", "--flow", name, "--plain", "--yes", "--state-dir", state.path, "--va-ready-after", "0.2"],
            environment: Self.noCredentials, workingDirectory: directory, timeout: 180)
        #expect(run.status == 0, "\(run.stdout.suffix(1500))\n\(run.stderr)")
        return run
    }

    @Test func runFlowByNameWorksFromAnyWorkingDirectory() async throws {
        let elsewhere = try KiraBinary.temporaryDirectory("kira-cwd")
        let state = try KiraBinary.temporaryDirectory("kira-state")
        let run = try await Self.runFlowUnattended("quickstart", state: state, from: elsewhere)
        #expect(run.stdout.contains("Walkthrough complete: all 7 steps done"))
        let unknown = try await KiraBinary.run(
            ["run", "--flow", "no-such-flow", "--plain", "--yes", "--state-dir", state.path], environment: Self.noCredentials,
            workingDirectory: elsewhere)
        #expect(unknown.status == 1)
        #expect(
            unknown.stderr.contains("No shipped flow named 'no-such-flow'") && unknown.stderr.contains("quickstart"), "\(unknown.stderr)")
    }

    /// Whether spawning failed with ETXTBSY.
    static func isTextFileBusy(_ error: NSError) -> Bool {
        let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError
        return (error.domain == NSPOSIXErrorDomain && error.code == Int(ETXTBSY))
            || (underlying?.domain == NSPOSIXErrorDomain && underlying?.code == Int(ETXTBSY))
    }

    /// The binary copied out of the build tree, run from another directory with a bare
    /// environment: the flow and its API description come from inside it.
    @Test func aCopiedBinaryCompletesTheWalkthroughFromAnywhere() async throws {
        let bin = try KiraBinary.temporaryDirectory("kira-bin")
        let copy = bin.appendingPathComponent("kira-walkthrough")
        try FileManager.default.copyItem(at: KiraBinary.url, to: copy)
        let elsewhere = try KiraBinary.temporaryDirectory("kira-cwd")
        let home = try KiraBinary.temporaryDirectory("kira-home")
        // A file just written cannot be executed while another test's child, forked meanwhile,
        // still holds the copy's descriptor (ETXTBSY, "Text file busy"): try again, bounded.
        var busy = 0
        var outcome: KiraBinary.Outcome?
        while outcome == nil {
            do {
                outcome = try await KiraBinary.run(
                    ["run", "--plain", "--yes", "--va-ready-after", "0.2"], executable: copy, environment: ["HOME": home.path],
                    cleanEnvironment: true, workingDirectory: elsewhere, timeout: 120)
            } catch let error as NSError where Self.isTextFileBusy(error) && busy < 20 {
                busy += 1
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let run = try #require(outcome)
        #expect(run.status == 0, "\(run.stdout.suffix(1500))\n\(run.stderr)")
        #expect(run.stdout.contains("Walkthrough complete: all 7 steps done"))
        // Its session went to HOME's state directory, and names the shipped flow.
        let session = try String(
            contentsOf: home.appendingPathComponent(".local/state/kira-walkthrough/default.json"), encoding: .utf8)
        #expect(try JSONValue.parse(session)["flow_file"]?.stringValue == "flows/quickstart.yaml", "\(session.prefix(600))")
        let export = try await KiraBinary.run(
            ["export", "--format", "markdown"], executable: copy, environment: ["HOME": home.path], cleanEnvironment: true,
            workingDirectory: elsewhere)
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.hasPrefix("# Kira sandbox quickstart"))
    }

    /// A plain run ends with the list the terminal's last screen shows; `status` of a session of
    /// a shipped flow other than the quickstart finds that flow inside the binary, whatever the
    /// working directory (it used to look for `flows/versioning.yaml` in the current one).
    @Test func aPlainRunListsTheQuirksMetAndStatusFindsTheSessionsFlowFromAnywhere() async throws {
        let elsewhere = try KiraBinary.temporaryDirectory("kira-cwd")
        let state = try KiraBinary.temporaryDirectory("kira-state")
        let run = try await Self.runFlowUnattended("versioning", state: state, from: elsewhere)
        let countLine = try #require(
            run.stdout.firstMatch(of: /What you met: (\d+ of \d+ quirks of this flow)/), "\(run.stdout.suffix(1500))")
        let listed = run.stdout.components(separatedBy: "What you met:").last ?? ""
        #expect(listed.contains("  Q-VERSION-HEADER: "), "each quirk with its summary:\n\(listed)")
        let status = try await KiraBinary.run(["status", "--state-dir", state.path], workingDirectory: elsewhere)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("Quirks met: \(countLine.output.1)"), "\(status.stdout)")
        #expect(status.stdout.contains("  Q-VERSION-HEADER: "), "\(status.stdout)")
        let json = try await KiraBinary.run(["status", "--json", "--state-dir", state.path], workingDirectory: elsewhere)
        let quirks = try #require(try JSONValue.parse(json.stdout)["quirks"])
        #expect(quirks != .null, "\(json.stdout)")
        #expect(quirks["met"]?.arrayValue?.contains { $0["id"] == "Q-VERSION-HEADER" } == true, "\(json.stdout)")
    }
}
