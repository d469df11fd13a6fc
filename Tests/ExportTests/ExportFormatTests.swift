import Foundation
import KiraJSON
import KiraTestSupport
import Testing
import WalkthroughCore

@testable import Exports

/// The three formats through the command line, and the transcript's content.
@Suite struct ExportFormatTests {
    static let stepTitles = [
        "Get your credentials", "Authenticate", "Pin your version", "Create a user", "Create a virtual account",
        "Simulate a deposit (sandbox)",
        "Make a payout (preview, then create)",
    ]

    @Test func noExportContainsACredentialOrAToken() async throws {
        for kind in [WalkthroughSessions.Kind.standard, .payoutMinimumSearch] {
            let made = try await WalkthroughSessions.shared.session(kind)
            for format in ExportFormat.allCases {
                let export = try await KiraBinary.run(
                    ["export", "--format", format.rawValue, "--state-dir", made.stateDirectory.path],
                    workingDirectory: KiraBinary.packageRoot
                )
                #expect(export.status == 0, "\(format): \(export.stderr)")
                #expect(export.stdout.count > 1000, "\(format) is on standard output")
                #expect(Secrets.leaks(in: export.stdout).isEmpty, "\(kind) \(format): \(Secrets.leaks(in: export.stdout))")
            }
        }
    }

    @Test func theTranscriptTellsEachStepWithItsRequestsQuirksCapturesAndTimings() async throws {
        let made = try await WalkthroughSessions.shared.session(.standard)
        let transcript = SessionExporter(flow: made.flow, session: made.session).export(.markdown)
        #expect(transcript.hasPrefix("# Kira sandbox quickstart — session `default`"))
        for (index, title) in Self.stepTitles.enumerated() {
            #expect(transcript.contains("## \(index + 1). \(title)"), "step \(index + 1): \(title)")
        }
        #expect(transcript.contains("| Target | local emulator: \(made.session.target.baseURL)"))
        #expect(transcript.components(separatedBy: "**State:** succeeded").count - 1 == 7)
        #expect(transcript.contains("```json\n{"), "bodies are fenced JSON")
        #expect(transcript.contains("#### 1. `POST /auth` → 200 OK"))
        #expect(transcript.contains("x-api-key: [REDACTED]"))
        #expect(transcript.contains("⚑ **Q-NO-AUTO-VERIFY** stopped the step"), "the quirk met")
        #expect(transcript.contains("☎ **Q-NO-AUTO-VERIFY**: Operator"), "and how it was passed")
        #expect(transcript.contains("| `user_id` | `\(made.session.captures["user_id"]?.stringValue ?? "?")` |"), "captures")
        #expect(transcript.contains("| `access_token` | (secret, never recorded) |"))
        #expect(transcript.contains("### Timing"))
        #expect(transcript.contains("on the wire; from "))
        #expect(Secrets.leaks(in: transcript).isEmpty)
        // Fences balance: every opening has its closing.
        let fences = transcript.split(separator: "\n").filter { $0.hasPrefix("```") }
        #expect(fences.count % 2 == 0)
    }

    @Test func theSearchIsInTheTranscript() async throws {
        let made = try await WalkthroughSessions.shared.session(.payoutMinimumSearch)
        let transcript = SessionExporter(flow: made.flow, session: made.session).export(.markdown)
        #expect(transcript.contains("⚑ **Q-PAYOUT-MIN** stopped the step"))
        #expect(
            transcript.contains(
                "✓ **Q-PAYOUT-MIN**: The smallest amount the preview accepts is \(made.session.inputs["payout_amount"] ?? "?")"))
        #expect(transcript.contains("→ 400 Bad Request"), "the refused previews are shown")
    }

    @Test func exportingNothingOrAnotherFlowIsAClearError() async throws {
        let empty = try KiraBinary.temporaryDirectory("kira-export-empty")
        let missing = try await KiraBinary.run(["export", "--format", "har", "--state-dir", empty.path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("No session 'default'"), "\(missing.stderr)")
        let badFormat = try await KiraBinary.run(["export", "--format", "pdf", "--state-dir", empty.path])
        #expect(badFormat.status == 2, "a usage error")
        let badOutput = try await KiraBinary.run([
            "export", "--format", "har", "--state-dir", empty.path, "--output", "/nonexistent-dir/x.har",
        ])
        #expect(badOutput.status == 1)
    }

    /// `export --format` takes curl, har and markdown, and each writes what its name says: a
    /// bash script (executable), an HTTP Archive (JSON, `log.entries`), a Markdown transcript.
    @Test func theFormatsAreTheThreeTheIssueAsksFor() async throws {
        let made = try await WalkthroughSessions.shared.session(.standard)
        let output = try KiraBinary.temporaryDirectory("kira-formats")
        for format in ["curl", "har", "markdown"] {
            let file = output.appendingPathComponent("default.\(format)").path
            let export = try await KiraBinary.run(
                ["export", "--format", format, "--state-dir", made.stateDirectory.path, "--output", file],
                workingDirectory: KiraBinary.packageRoot)
            #expect(export.status == 0, "\(format): \(export.stderr)")
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let executable = FileManager.default.isExecutableFile(atPath: file)
            switch format {
            case "curl":
                #expect(text.hasPrefix("#!/usr/bin/env bash"), "\(text.prefix(200))")
                #expect(text.contains("curl "))
                #expect(executable)
            case "har":
                let har = try JSONValue.parse(text)
                #expect(har["log"]?["version"] == "1.2")
                let entries = har["log"]?["entries"]?.arrayValue ?? []
                #expect(!entries.isEmpty && entries.allSatisfy { $0["request"]?["method"] != nil && $0["response"] != nil })
                #expect(!executable)
            default:
                #expect(text.hasPrefix("# Kira sandbox quickstart"), "\(text.prefix(200))")
                #expect(!executable)
            }
        }
        // No fourth format.
        let other = try await KiraBinary.run(["export", "--format", "pdf", "--state-dir", made.stateDirectory.path])
        #expect(other.status == 2)
        #expect(other.stderr.contains("curl") && other.stderr.contains("har") && other.stderr.contains("markdown"), "\(other.stderr)")
    }

    @Test func secretsAreFoundByShapeAndByValue() async {
        let scrubber = SecretScrubber(knownSecrets: ["hunter22"])
        let text =
            "token kat_abcdefgh1234 and Bearer abcdefghijklmnop1234 and kira_live_abcdefgh and hunter22 and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2ln"
        let scrubbed = scrubber.scrub(text)
        #expect(
            !scrubbed.contains("kat_abc") && !scrubbed.contains("abcdefghijklmnop1234") && !scrubbed.contains("kira_live")
                && !scrubbed.contains("hunter22"))
        #expect(!scrubbed.contains("eyJzdWIiOiIxMjM0In0") && scrubbed.hasSuffix("and [REDACTED]"))
        #expect(scrubber.findings(in: text).map(\.kind) == [.accessToken, .bearerToken, .apiKey, .knownValue, .jsonWebToken])
        // Ordinary words are left alone.
        let plain = "the kira-walkthrough sends a Bearer token; kat_ alone is no token; kira_x is short"
        #expect(scrubber.scrub(plain) == plain)
    }

    @Test func whatARequestDoesIsSaidInWords() async throws {
        // What a request does comes from the flow's API description (its rules, else a REST reading).
        let api = try KiraBinary.quickstartFlow().api
        func describe(method: String, path: String) -> String { api.traits(method: method, path: path).effect }
        #expect(describe(method: "POST", path: "/v1/users") == "creates a user")
        #expect(describe(method: "GET", path: "/v1/users/{{ user_id }}") == "reads a user")
        #expect(describe(method: "POST", path: "/v1/virtual-accounts") == "creates a virtual account")
        #expect(describe(method: "POST", path: "/v1/virtual-accounts/{{ va_id }}/payout") == "creates a payout")
        #expect(describe(method: "GET", path: "/v1/virtual-accounts?user_id={{ user_id }}") == "lists virtual accounts (filtered)")
        #expect(describe(method: "PUT", path: "/v1/recipients/{{ recipient_id }}") == "updates a recipient")
    }

    @Test func aRemedyIsRecognisedByItsRenderedLabel() async {
        #expect(RemedyHistory.label("Verify user {{ user_id }} now", matches: "Verify user 1234 now"))
        #expect(RemedyHistory.label("Stop here", matches: "Stop here"))
        #expect(!RemedyHistory.label("Stop here", matches: "Stop there"))
        #expect(!RemedyHistory.label("Verify user {{ user_id }} now", matches: "Verify user 1234 later"))
    }
}
