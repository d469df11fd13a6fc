import Foundation
import KiraTestSupport
import Testing
import WalkthroughCore

@testable import Exports

/// `kira-walkthrough flows validate FILE`: the shipped flow passes and prints its plan; broken
/// copies fail with each problem at its file, line and column.
@Suite struct FlowValidateTests {
    static var quickstartText: String {
        get throws { try String(contentsOf: KiraBinary.packageRoot.appendingPathComponent("flows/quickstart.yaml"), encoding: .utf8) }
    }

    /// A copy of the quickstart with one edit, written to a temporary directory; returns its path
    /// and the 1-based line and column where `marker` (a piece of the new text) is.
    func brokenCopy(_ name: String, replacing old: String, with new: String, marker: String) throws -> (
        path: String, line: Int, column: Int
    ) {
        let text = try Self.quickstartText
        #expect(text.contains(old), "the shipped flow no longer contains \(old)")
        let broken = text.replacingOccurrences(of: old, with: new)
        let directory = try KiraBinary.temporaryDirectory("kira-flows")
        let path = directory.appendingPathComponent(name).path
        try Data(broken.utf8).write(to: URL(fileURLWithPath: path))
        // The API description the flow names travels with it.
        let api = try #require(KiraBinary.shippedFlowFile("kira-api.yaml"))
        try Data(api.utf8).write(to: directory.appendingPathComponent("kira-api.yaml"))
        // So do the images its bodies embed (`{ file_as_data_url: images/… }`).
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("images"), withIntermediateDirectories: true)
        for image in ["images/specimen-passport.jpg", "images/specimen-utility-bill.png"] {
            try #require(KiraBinary.shippedFlowData(image)).write(to: directory.appendingPathComponent(image))
        }
        let lines = broken.components(separatedBy: "\n")
        let index = try #require(lines.firstIndex { $0.contains(marker) }, "\(marker) in the broken copy")
        let column = lines[index].distance(from: lines[index].startIndex, to: lines[index].range(of: marker)!.lowerBound) + 1
        return (path, index + 1, column)
    }

    func validate(_ path: String) async throws -> KiraBinary.Outcome { try await KiraBinary.run(["flows", "validate", path], timeout: 30) }

    @Test func theShippedQuickstartIsValidAndItsPlanIsPrinted() async throws {
        let run = try await validate(KiraBinary.packageRoot.appendingPathComponent("flows/quickstart.yaml").path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        for expected in [
            "is valid: flow 'quickstart'",
            "Step 1 · Get your credentials", "Step 7 · Make a payout (preview, then create)",
            "1. POST /auth — exchanges the credentials for an access token (creates nothing)",
            "POST /v1/users — creates a user [Idempotency-Key]",
            "POST /v1/virtual-accounts — creates a virtual account [Idempotency-Key]",
            "GET /v1/recipients/{{ recipient_id }} — reads a recipient (only when recipient_id is set)",
            "POST /v1/recipients — creates a recipient [Idempotency-Key] (only when recipient_id is not set)",
            "may send up to 12 more POST /v1/virtual-accounts/{{ va_id }}/payout/preview",
            "POST /__emulator/users/{id}/verify (this project's emulator only)",
            "may send GET /v1/virtual-accounts?user_id={{ user_id }}&limit=10",
            "When every step goes as planned it creates: a user (when provisioned_user_id is not set), a virtual account (when provisioned_va_id is not set)",
        ] {
            #expect(run.stdout.contains(expected), "\(expected)\n---\n\(run.stdout)")
        }
        // In order: the user before the account before the payout.
        let user = try #require(run.stdout.range(of: "POST /v1/users —"))
        let account = try #require(run.stdout.range(of: "POST /v1/virtual-accounts —"))
        let payout = try #require(run.stdout.range(of: "/payout — creates a payout"))
        #expect(user.lowerBound < account.lowerBound && account.lowerBound < payout.lowerBound)
    }

    /// Each broken copy: a non-zero exit, and the problem at `file:line:column` naming `words`.
    func expectProblem(
        _ copy: (path: String, line: Int, column: Int), _ words: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws {
        let run = try await validate(copy.path)
        #expect(run.status == 1, "exit code", sourceLocation: sourceLocation)
        #expect(run.stdout.isEmpty, "no plan for a broken flow", sourceLocation: sourceLocation)
        let prefix = "\(copy.path):\(copy.line):\(copy.column): error: "
        let line = run.stderr.split(separator: "\n").first { $0.hasPrefix(prefix) }
        #expect(line != nil, "expected \(prefix)… in:\n\(run.stderr)", sourceLocation: sourceLocation)
        for word in words { #expect(line?.contains(word) == true, "\(word) in \(line ?? "")", sourceLocation: sourceLocation) }
    }

    @Test func anUnknownCaptureReferenceIsReportedWhereItIsWritten() async throws {
        let copy = try brokenCopy(
            "unknown.yaml", replacing: "path: /v1/users/{{ user_id }}", with: "path: /v1/users/{{ user_idd }}", marker: "{{ user_idd }}")
        try await expectProblem(copy, ["'{{ user_idd }}'", "did you mean 'user_id'"])
        // In a body too, at the reference itself rather than the start of the body.
        let body = try brokenCopy(
            "unknown-body.yaml", replacing: "user_id: \"{{ user_id }}\"\n          type: US_BANK",
            with: "user_id: \"{{ usr_id }}\"\n          type: US_BANK",
            marker: "{{ usr_id }}"
        )
        try await expectProblem(body, ["'{{ usr_id }}'", "body of 'create_va'"])
    }

    @Test func aCaptureUsedBeforeItIsCapturedIsAnOrderingProblem() async throws {
        let later = try brokenCopy(
            "later.yaml", replacing: "path: /v1/virtual-accounts/{{ va_id }}/simulate-deposit",
            with: "path: /v1/virtual-accounts/{{ payout_id }}/simulate-deposit",
            marker: "{{ payout_id }}/simulate-deposit"
        )
        try await expectProblem(later, ["'{{ payout_id }}'", "before it is captured", "'create_payout' in step 'payout'"])
        let itself = try brokenCopy(
            "itself.yaml", replacing: "path: /v1/payouts/{{ payout_id }}", with: "path: /v1/payouts/{{ payout_status }}",
            marker: "{{ payout_status }}"
        )
        try await expectProblem(itself, ["'{{ payout_status }}'", "the request that captures it"])
    }

    @Test func aWaitWithoutAnOverallTimeoutIsReported() async throws {
        // The wait for a VERIFIED user, whose mapping starts at its one-line `until`.
        let copy = try brokenCopy(
            "no-timeout.yaml", replacing: "          max_interval: 15s\n          timeout: 10m\n", with: "          max_interval: 15s\n",
            marker: "until: { field: status, equals: VERIFIED }"
        )
        try await expectProblem(copy, ["timeout"])
    }

    @Test func creatingAUserWithoutAnIdempotencyKeyIsReported() async throws {
        let copy = try brokenCopy(
            "no-key.yaml", replacing: "        path: /v1/users\n        idempotency: true\n", with: "        path: /v1/users\n",
            marker: "      - id: create_user"
        )
        // The request's mapping starts at its `id` key, after the list's dash.
        try await expectProblem((copy.path, copy.line, copy.column + 8), ["POST /v1/users", "Idempotency-Key"])
    }

    @Test func secretsWrittenLiterallyAreReported() async throws {
        let password = try brokenCopy(
            "password.yaml", replacing: "password: \"{{ password }}\"", with: "password: hunter2-literal",
            marker: "password: hunter2-literal"
        )
        try await expectProblem(password, ["'password' in the body of 'auth' is written literally"])
        let token = try brokenCopy(
            "token.yaml", replacing: "sender_name: Walkthrough Sender", with: "sender_name: kat_0123456789abcdef0123",
            marker: "kat_0123456789abcdef0123"
        )
        try await expectProblem(token, ["literal access token"])
        let key = try brokenCopy(
            "key.yaml", replacing: "    prompt: Your api_key (sent as x-api-key on every request)",
            with: "    prompt: Your api_key (sent as x-api-key on every request)\n    default: kira_sandbox_demo_key",
            marker: "kira_sandbox_demo_key"
        )
        try await expectProblem(key, ["literal api key"])
    }

    @Test func anUnknownQuirkIdIsReported() async throws {
        let copy = try brokenCopy("quirk.yaml", replacing: "- id: Q-ONE-VA", with: "- id: Q-ONE-VAA", marker: "Q-ONE-VAA")
        try await expectProblem(copy, ["Unknown quirk id 'Q-ONE-VAA'", "did you mean 'Q-ONE-VA'"])
    }

    @Test func everyProblemIsReportedInOneRun() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            var text = try Self.quickstartText
            text = text.replacingOccurrences(of: "- id: Q-ONE-VA", with: "- id: Q-NOT-A-QUIRK")
            text = text.replacingOccurrences(of: "sender_name: Walkthrough Sender", with: "sender_name: Bearer abcdefghijklmnopqrstuvwxyz")
            let check = FlowLinter.check(
                text, file: "many.yaml", readFile: KiraBinary.shippedFlowFile, readData: KiraBinary.shippedFlowData)
            #expect(!check.isValid)
            #expect(check.issues.count == 2, "\(check.issues)")
            #expect(check.issues.allSatisfy { $0.location.file == "many.yaml" && $0.location.line > 1 })

        }
    }

    @Test func inputDefaultsThatReferToEachOtherAreACycle() async throws {
        let text = """
            flow: cycle
            title: Cycle
            api_version: "2026-04-14"
            inputs:
              first: { default: "{{ second }}", prompt: First }
              second: { default: "x{{ first }}", prompt: Second }
            steps:
              - id: only
                title: Only
                explain: Nothing.
            """
        let check = FlowLinter.check(text, file: "cycle.yaml") { _ in nil }
        #expect(check.issues.contains { $0.message.contains("in a circle: first → second → first") }, "\(check.issues)")
        #expect(check.issues.first?.location.line == 5)
    }

    @Test func theKnownQuirkIdsAreTheContractsAndTheWalkthroughsOwn() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            // The catalogue is the API description's (flows/kira-api.yaml), plus the walkthrough's own id.
            let known = try KiraBinary.quickstartFlow().api.quirkIDs
            for id in [
                "Q-ONE-VA", "Q-PAYOUT-MIN", "Q-NO-AUTO-VERIFY", "Q-PIN-FORWARD-ONLY", "Q-WAIT-TIMEOUT", "Q-LIMIT-100", "Q-TOKEN-TTL",
                "Q-NOT-TRIGGERED", "Q-DUPLICATE-EMAIL", "Q-VA-RFI", "Q-VA-DEACTIVATED",
            ] {
                #expect(known.contains(id), "\(id)")
            }
            // The contract's nineteen, the project's names for the pin's forward-only rule, a duplicate
            // email and a virtual account's rfi and deactivation, and the walkthrough's wait timeout.
            #expect(known.count == 24)
            // Every quirk the shipped flow uses is known.
            let check = FlowLinter.check(
                (try? Self.quickstartText) ?? "", file: "flows/quickstart.yaml", readFile: KiraBinary.shippedFlowFile,
                readData: KiraBinary.shippedFlowData)
            #expect(check.isValid, "\(check.issues)")

        }
    }
}
