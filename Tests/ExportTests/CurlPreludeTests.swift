import Foundation
import KiraTestSupport
import Testing
import WalkthroughCore

@testable import Exports

/// The bash an export writes, checked as bash: the embedded prelude on its own and whole scripts
/// made from real sessions, with `bash -n` and, where it is installed, `shellcheck`.
@Suite struct CurlPreludeTests {
    /// Where `shellcheck` is, when it is installed (`.ci/run` installs it).
    static let shellcheck: String? = ["/usr/bin/shellcheck", "/usr/local/bin/shellcheck", "/bin/shellcheck"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// In CI shellcheck must be there: a missing one is a failure, not a skipped check.
    static let shellcheckExpected = shellcheck != nil || ProcessInfo.processInfo.environment["CI"] != nil

    /// The texts to check: the prelude, and the scripts of the sessions the export tests make.
    static func scripts() async throws -> [(name: String, text: String)] {
        var all = [(name: "prelude.sh", text: CurlScript.prelude + "\n")]
        for kind in [WalkthroughSessions.Kind.standard, .payoutMinimumSearch] {
            let made = try await WalkthroughSessions.shared.session(kind)
            all.append((name: "\(kind).sh", text: SessionExporter(flow: made.flow, session: made.session).export(.curl)))
        }
        return all
    }

    /// Writes `text` to a fresh file.
    static func file(_ name: String, _ text: String) throws -> URL {
        let url = try KiraBinary.temporaryDirectory("kira-prelude").appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func thePreludeIsTheEmbeddedResourceAndKnowsNoFlow() throws {
        let prelude = CurlScript.prelude
        #expect(prelude.hasPrefix("# kira-walkthrough's curl export"))
        #expect(prelude.contains("response_matches() {") && prelude.contains("search_amount() {"))
        #expect(!prelude.contains("quickstart") && !prelude.contains("/v1/"), "nothing of a flow")
        #expect(prelude.contains("\"$\(CurlScript.apiVersionVariable)\""), "the request function reads the pinned version")
        let bindings = ShellBindings(flow: try FlowLoader.load(Self.minimalFlow, file: "minimal.yaml"), session: nil)
        #expect(bindings.shellName("api_version") == CurlScript.apiVersionVariable, "the variable the script sets is the one it reads")
    }

    @Test func thePreludeAndWholeScriptsAreValidBash() async throws {
        for script in try await Self.scripts() {
            let file = try Self.file(script.name, script.text)
            let syntax = try await KiraBinary.run(
                ["-n", file.path], executable: URL(fileURLWithPath: "/bin/bash"), cleanEnvironment: true, timeout: 20)
            #expect(syntax.status == 0, "bash -n \(script.name): \(syntax.stderr)")
        }
    }

    @Test(.enabled(if: shellcheckExpected, "shellcheck is not installed here; .ci/run installs it, and there its absence fails"))
    func shellcheckFindsNothingInThePreludeOrWholeScripts() async throws {
        let shellcheck = try #require(Self.shellcheck, "shellcheck is missing: .ci/run installs it (apt-get install shellcheck)")
        for script in try await Self.scripts() {
            let file = try Self.file(script.name, script.text)
            let check = try await KiraBinary.run(
                ["--shell=bash", "--format=gcc", file.path], executable: URL(fileURLWithPath: shellcheck), cleanEnvironment: true,
                timeout: 60)
            #expect(check.status == 0, "shellcheck \(script.name):\n\(check.stdout)\(check.stderr)")
        }
    }

    @Test func aConditionJqCannotEvaluateStopsTheScriptInsteadOfReadingAsNo() async throws {
        let program = """
            source "$1"
            printf '{}' >"$RESPONSE_FILE"
            STATUS=200
            if response_matches '.status | no_such_function'; then echo matched; else echo "did not match"; fi
            """
        let prelude = try Self.file("prelude.sh", CurlScript.prelude + "\n")
        let run = try await KiraBinary.run(
            ["-c", program, "check", prelude.path], executable: URL(fileURLWithPath: "/bin/bash"), cleanEnvironment: true, timeout: 20)
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.isEmpty, "neither branch ran: \(run.stdout)")
        #expect(run.stderr.contains("jq could not evaluate a flow condition"), "\(run.stderr)")
    }

    static let minimalFlow = """
        flow: minimal
        title: Minimal
        api_version: "2026-04-14"
        inputs:
          api_key: { env: KIRA_API_KEY, secret: true, credential: api_key, prompt: key }
        steps:
          - id: only
            title: Only
            explain: Nothing.
            requests: []
        """
}
