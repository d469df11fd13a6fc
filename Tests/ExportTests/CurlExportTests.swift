import Foundation
import KiraJSON
import KiraTestSupport
import Testing
import WalkthroughCore

@testable import Exports

/// The curl export: a script that performs the walkthrough again from scratch, run for real.
@Suite(.serialized) struct CurlExportTests {
    /// Exports a session's script through the command line, to a file.
    func exportScript(_ made: WalkthroughSessions.Made) async throws -> (path: String, text: String) {
        let output = try KiraBinary.temporaryDirectory("kira-curl-export").appendingPathComponent("replay.sh").path
        let export = try await KiraBinary.run(
            ["export", "--format", "curl", "--state-dir", made.stateDirectory.path, "--output", output],
            workingDirectory: KiraBinary.packageRoot
        )
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.isEmpty, "with --output nothing goes to standard output")
        let mode = (try FileManager.default.attributesOfItem(atPath: output)[.posixPermissions] as? Int) ?? 0
        #expect(mode & 0o100 != 0, "the script is executable")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (output as NSString).deletingLastPathComponent)
        #expect(leftovers == ["replay.sh"], "no temporary file is left beside it: \(leftovers)")
        return (output, try String(contentsOfFile: output, encoding: .utf8))
    }

    /// Runs a script with only the `KIRA_*` variables given (and a PATH).
    func runScript(_ path: String, against emulator: ServedEmulator, extra: [String: String] = [:]) async throws -> KiraBinary.Outcome {
        try await KiraBinary.run(
            [path], executable: URL(fileURLWithPath: "/bin/bash"),
            environment: KiraBinary.demoCredentials(baseURL: emulator.baseURL).merging(extra) { _, new in new }, cleanEnvironment: true,
            timeout: 240
        )
    }

    @Test func theScriptPerformsTheWalkthroughAgainOnAFreshEmulator() async throws {
        let made = try await WalkthroughSessions.shared.session(.standard)
        let script = try await exportScript(made)
        #expect(script.text.hasPrefix("#!/usr/bin/env bash\n"))
        #expect(script.text.contains("set -euo pipefail"))
        #expect(script.text.contains("/proc/sys/kernel/random/uuid"), "a fallback when uuidgen is missing")
        #expect(script.text.contains("'.id? // .data?.id?'"), "ids are read with the flow's alternative paths")
        #expect(script.text.contains("${KIRA_BASE_URL%/sandbox}/__emulator/users/"), "the operator remedy the session took")
        #expect(script.text.contains("if is_emulator; then\n            emulator_operator verify \"${user_id}\""), "only on the emulator")
        #expect(script.text.contains("Only your Kira contact can verify user ${user_id} in this sandbox"), "elsewhere, a person is asked")
        #expect(Secrets.leaks(in: script.text).isEmpty, "\(Secrets.leaks(in: script.text))")
        for key in made.session.idempotencyKeys.values { #expect(!script.text.contains(key), "old idempotency key \(key)") }
        for name in ["user_id", "va_id", "recipient_id", "payout_id", "deposit_id", "account_number"] {
            let old = try #require(made.session.captures[name]?.stringValue)
            #expect(!script.text.contains(old), "the old \(name) is not reused")
        }

        let emulator = try await ServedEmulator(["--auto-verify-after", "0", "--va-ready-after", "0"])
        defer { emulator.terminate() }
        let run = try await runScript(script.path, against: emulator)
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr)")
        #expect(run.stdout.contains("all 7 steps done"))
        #expect(Secrets.leaks(in: run.stdout + run.stderr).isEmpty, "nothing secret is printed")
        let counts = try await emulator.counts()
        #expect(counts["users"] == 1, "\(counts)")
        #expect(counts["virtual_accounts"] == 1, "\(counts)")
        #expect(counts["payouts"] == 1, "\(counts)")
        #expect(counts["recipients"] == 1, "\(counts)")
    }

    /// The versioning flow's own headers (`headers:`) reach the wire from the script too: the
    /// reads leave X-Api-Version out, send it, leave it out after the pin, and override the pin.
    @Test func theVersioningScriptChoosesEachReadsVersionAsTheRunDid() async throws {
        let made = try await WalkthroughSessions.shared.session(.versioning)
        let script = try await exportScript(made)
        #expect(script.text.contains("SET_HEADERS=\"x-api-version:\" send_request GET"), "the header left out")
        let emulator = try await ServedEmulator(["--auto-verify-after", "0", "--va-ready-after", "0"])
        defer { emulator.terminate() }
        let run = try await runScript(script.path, against: emulator)
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr)")
        for lesson in [
            "Without X-Api-Version, and with no pin yet, the account answered in the baseline",
            "With X-Api-Version 2026-04-14 the same account says approved",
            "No header, and the account now says approved",
            "With X-Api-Version 2025-01-01 the pinned account says ACTIVE",
        ] {
            #expect(run.stdout.contains(lesson), "\(lesson)\n\(run.stdout.suffix(3000))")
        }
    }

    @Test func onAnEmulatorThatNeverVerifiesTheScriptTakesTheOperatorRemedyAsTheSessionDid() async throws {
        let made = try await WalkthroughSessions.shared.session(.standard)
        let script = try await exportScript(made)
        let emulator = try await ServedEmulator(["--va-ready-after", "1"])
        defer { emulator.terminate() }
        let run = try await runScript(script.path, against: emulator)
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr)")
        #expect(run.stdout.contains("⚑ Q-NO-AUTO-VERIFY"), "the user stayed in REVIEW")
        #expect(run.stdout.contains("/__emulator/users/"), "and the script verified it on the emulator")
        #expect(run.stdout.contains("(Q-VA-READY)"), "the account number was polled until real")
        let counts = try await emulator.counts()
        #expect(counts["users"] == 1 && counts["virtual_accounts"] == 1 && counts["payouts"] == 1, "\(counts)")
    }

    @Test func aSessionThatSearchedForThePayoutMinimumExportsTheAmountItFound() async throws {
        let made = try await WalkthroughSessions.shared.session(.payoutMinimumSearch)
        let found = try #require(made.session.inputs["payout_amount"])
        #expect(found != "1.00", "the session searched for the minimum")
        #expect(made.session.events.contains { $0.kind == .search && $0.quirkID == "Q-PAYOUT-MIN" })
        let script = try await exportScript(made)
        #expect(script.text.contains("payout_amount=\"${KIRA_PAYOUT_AMOUNT:-\(found)}\""), "the found amount is the default")
        #expect(
            script.text.contains("search_amount payout_amount 2048 12 send_preview"), "and the search is the remedy, should it be needed")

        let emulator = try await ServedEmulator(["--auto-verify-after", "0", "--va-ready-after", "0"])
        defer { emulator.terminate() }
        let run = try await runScript(script.path, against: emulator)
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr)")
        #expect(!run.stdout.contains("⚑ Q-PAYOUT-MIN"), "the found amount passes the preview at once")
        #expect(run.stdout.contains("Create the payout of \(found) USD"))
        let line = try #require(run.stdout.split(separator: "\n").first { $0.contains("captured payout_id = ") })
        let payoutID = String(line.split(separator: " ").last ?? "")
        let payout = try await emulator.get("/v1/payouts/\(payoutID)")
        #expect(payout["amount"]?.stringValue == found, "\(payout)")
        let counts = try await emulator.counts()
        #expect(counts["users"] == 1 && counts["virtual_accounts"] == 1 && counts["payouts"] == 1, "\(counts)")
    }

    @Test func theScriptStillSearchesWhenTheAmountItIsGivenIsBelowTheMinimum() async throws {
        let made = try await WalkthroughSessions.shared.session(.payoutMinimumSearch)
        let script = try await exportScript(made)
        let emulator = try await ServedEmulator(["--auto-verify-after", "0", "--va-ready-after", "0"])
        defer { emulator.terminate() }
        let run = try await runScript(script.path, against: emulator, extra: ["KIRA_PAYOUT_AMOUNT": "1.50"])
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr)")
        #expect(run.stdout.contains("⚑ Q-PAYOUT-MIN"))
        #expect(run.stdout.contains("✓ the smallest amount accepted is \(made.session.inputs["payout_amount"] ?? "?")"))
        let counts = try await emulator.counts()
        #expect(counts["payouts"] == 1, "\(counts)")
    }

    @Test func withoutAToolOrACredentialTheScriptStopsAtOnceWithAClearMessage() async throws {
        let made = try await WalkthroughSessions.shared.session(.standard)
        let script = try await exportScript(made)
        var missing = KiraBinary.demoCredentials(baseURL: "http://127.0.0.1:9/sandbox")
        missing["KIRA_PASSWORD"] = nil
        let noPassword = try await KiraBinary.run(
            [script.path], executable: URL(fileURLWithPath: "/bin/bash"), environment: missing, cleanEnvironment: true)
        #expect(noPassword.status == 1)
        #expect(noPassword.stderr.contains("KIRA_PASSWORD is not set"), "\(noPassword.stderr)")
        #expect(noPassword.stdout.isEmpty, "nothing was sent")

        // A PATH with curl but no jq.
        let bin = try KiraBinary.temporaryDirectory("kira-no-jq")
        try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent("curl").path, withDestinationPath: "/usr/bin/curl")
        var environment = KiraBinary.demoCredentials(baseURL: "http://127.0.0.1:9/sandbox")
        environment["PATH"] = bin.path
        let noJQ = try await KiraBinary.run(
            [script.path], executable: URL(fileURLWithPath: "/bin/bash"), environment: environment, cleanEnvironment: true)
        #expect(noJQ.status == 1)
        #expect(noJQ.stderr.contains("jq is required"), "\(noJQ.stderr)")

        let insecure = try await KiraBinary.run(
            [script.path], executable: URL(fileURLWithPath: "/bin/bash"),
            environment: KiraBinary.demoCredentials(baseURL: "http://example.com/sandbox"),
            cleanEnvironment: true
        )
        #expect(insecure.status == 1)
        #expect(insecure.stderr.contains("must use https"), "\(insecure.stderr)")
    }

    @Test func theScriptIsGeneratedFromTheFlowNotWrittenForTheQuickstart() async throws {
        // A flow of one step with a conditional request, a wait and a note, nothing of the quickstart.
        let text = """
            flow: tiny
            title: A tiny flow
            api_version: "2026-04-14"
            inputs:
              api_key: { env: KIRA_API_KEY, secret: true, credential: api_key, prompt: key }
              client_id: { env: KIRA_CLIENT_ID, secret: true, credential: client_id, prompt: id }
              password: { env: KIRA_PASSWORD, secret: true, credential: password, prompt: password }
              colour: { env: TINY_COLOUR, default: blue, prompt: A colour }
            steps:
              - id: only
                title: The only step
                explain: Polls a widget.
                requests:
                  - id: login
                    method: POST
                    path: /auth
                    auth: api_key
                    safe_to_repeat: true
                    body: { client_id: "{{ client_id }}", password: "{{ password }}" }
                    expect: [200]
                    capture:
                      token: { path: [data.access_token], secret: true, role: bearer_token }
                  - id: widget
                    when: { set: colour }
                    method: GET
                    path: /v1/widgets?colour={{ colour }}
                    expect: [200]
                    capture:
                      widget_id: [items.0.id, 0.id]
                    wait:
                      until: { field: items.0.state, equals: ready }
                      timeout: 30s
            """
        let flow = try FlowLoader.load(text, file: "tiny.yaml")
        let session = Session(
            name: "tiny", flow: flow, target: SessionTarget(kind: "url", baseURL: "https://tiny.example/sandbox", isEmulator: false),
            now: Date())
        let script = SessionExporter(flow: flow, session: session).export(.curl)
        #expect(script.contains("KIRA_BASE_URL=\"${KIRA_BASE_URL:-https://tiny.example/sandbox}\""))
        #expect(script.contains("colour=\"${TINY_COLOUR:-blue}\""))
        #expect(script.contains("send_request GET \"/v1/widgets?colour=${colour}\" bearer \"\""))
        #expect(script.contains("if [ -z \"$colour\" ]; then next=\"done\"; continue; fi  # only when colour is set"))
        #expect(script.contains("capture widget_id '.items?[0]?.id? // .[0]?.id?'"))
        #expect(script.contains("poll_start 30 2 1 30"))
        #expect(script.contains("capture_secret token '.data?.access_token?'"))
        #expect(script.contains("BEARER_TOKEN=$token"))
        #expect(script.contains("\"password\": \"\\($ENV.KIRA_PASSWORD)\""), "secrets come from the environment inside jq too")
        #expect(!script.contains("Q-NO-AUTO-VERIFY") && !script.contains("/v1/users"), "nothing of the quickstart")
        let file = try KiraBinary.temporaryDirectory("kira-tiny").appendingPathComponent("tiny.sh")
        try Data(script.utf8).write(to: file)
        let syntax = try await KiraBinary.run(
            ["-n", file.path], executable: URL(fileURLWithPath: "/bin/bash"), cleanEnvironment: true, timeout: 10)
        #expect(syntax.status == 0, "bash -n: \(syntax.stderr)")
    }

    @Test func noValueCanBreakOutOfItsQuoting() async {
        #expect(ShellQuoting.singleQuoted("it's") == "'it'\\''s'")
        #expect(ShellQuoting.doubleQuotedContent("a$b`c\"d\\e") == "a\\$b\\`c\\\"d\\\\e")
        #expect(ShellSyntax.variableName("user_id") == "user_id")
        #expect(ShellSyntax.variableName("PATH") == "flow_path")
        #expect(ShellSyntax.variableName("next") == "flow_next", "the script's own names are not shadowed")
        #expect(ShellSyntax.jqPath(JSONPath("data.0.id")!) == ".data?[0]?.id?")
        #expect(ShellSyntax.jqPath(JSONPath("0.id")!) == ".[0]?.id?")
        #expect(ShellSyntax.jqPath(JSONPath("weird-key")!) == ".[\"weird-key\"]?")
    }
}
