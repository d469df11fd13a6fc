import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// The `kira-walkthrough` binary as people run it: `sandbox serve`, the operator commands, `run`.
@Suite(.serialized) struct CommandLineTests {
    @Test func serveAnnouncesItsBaseURLAndTheDemoCredentials() async throws {
        let served = try await ServedEmulator()
        let demo = TenantCredentials.demo
        #expect(served.baseURL.hasPrefix("http://127.0.0.1:"))
        #expect(served.readinessLine.contains("KIRA_API_KEY=\(demo.apiKey)"))
        #expect(served.readinessLine.contains("KIRA_CLIENT_ID=\(demo.clientID)"))
        #expect(served.readinessLine.contains("KIRA_PASSWORD=\(demo.password)"))
        print("sandbox serve: readiness line after \(String(format: "%.3f", served.secondsToReady)) s")
        #expect(await served.stop(signal: SIGTERM) == 0, "SIGTERM shuts down cleanly")
    }

    @Test func sigintAlsoShutsDownCleanly() async throws {
        let served = try await ServedEmulator()
        #expect(await served.stop(signal: SIGINT) == 0)
    }

    @Test func operatorCommandsActOnARunningEmulator() async throws {
        let served = try await ServedEmulator()
        defer { served.terminate() }
        let provisioned = try await KiraBinary.run(["sandbox", "provision", "--url", served.baseURL])
        #expect(provisioned.status == 0, "\(provisioned.stderr)")
        let lines = provisioned.stdout.split(separator: "\n").map(String.init)
        #expect(lines.map { $0.split(separator: "=").first.map(String.init) } == ["KIRA_USER_ID", "KIRA_VA_ID", "KIRA_RECIPIENT_ID"])
        let userID = try #require(lines.first?.split(separator: "=").last.map(String.init))
        let accountID = try #require(lines.dropFirst().first?.split(separator: "=").last.map(String.init))

        let verified = try await KiraBinary.run(["sandbox", "verify-user", userID, "--url", served.baseURL, "--json"])
        #expect(verified.status == 0)
        #expect((try? JSONValue.parse(verified.stdout))?["status"] == "VERIFIED")
        let rejected = try await KiraBinary.run(["sandbox", "reject-user", userID, "--url", served.baseURL])
        #expect(rejected.status == 0)
        #expect(rejected.stdout.contains("REJECTED"))
        let refusedVerify = try await KiraBinary.run(["sandbox", "verify-user", userID, "--url", served.baseURL])
        #expect(refusedVerify.status != 0)
        #expect(
            refusedVerify.stderr.contains("409") && refusedVerify.stderr.contains("REJECTED, which is final"), "\(refusedVerify.stderr)")

        // The provider's holds, unpinned: the baseline vocabulary.
        let held = try await KiraBinary.run(["sandbox", "rfi-account", accountID, "--url", served.baseURL, "--reason", "proof of income"])
        #expect(held.status == 0, "\(held.stderr)")
        #expect(held.stdout.contains("is now RFI"), "\(held.stdout)")
        let cleared = try await KiraBinary.run(["sandbox", "clear-rfi", accountID, "--url", served.baseURL, "--json"])
        #expect(cleared.status == 0, "\(cleared.stderr)")
        #expect((try? JSONValue.parse(cleared.stdout))?["status"] == "ACTIVE")
        let closed = try await KiraBinary.run(["sandbox", "deactivate-account", accountID, "--url", served.baseURL])
        #expect(closed.status == 0, "\(closed.stderr)")
        #expect(closed.stdout.contains("is now DEACTIVATED"), "\(closed.stdout)")
        let again = try await KiraBinary.run(["sandbox", "clear-rfi", accountID, "--url", served.baseURL])
        #expect(again.status != 0)
        #expect(again.stderr.contains("409"), "\(again.stderr)")

        let unknown = try await KiraBinary.run(["sandbox", "verify-user", UUID().uuidString, "--url", served.baseURL])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("404"))
        let unreachable = try await KiraBinary.run(["sandbox", "verify-user", userID, "--url", "http://127.0.0.1:9/sandbox"])
        #expect(unreachable.status != 0)
        #expect(unreachable.stderr.contains("Cannot reach the emulator"))
    }

    /// `sandbox provision` prints lines a POSIX shell evals; the three ids it sets answer over HTTP.
    @Test func provisionedIdsCanBeEvaluatedByAShell() async throws {
        let served = try await ServedEmulator()
        defer { served.terminate() }
        let demo = TenantCredentials.demo
        let script = """
            set -eu
            eval "$("$KIRA_WALKTHROUGH" sandbox provision --url "$BASE_URL")"
            TOKEN=$(curl -sf "$BASE_URL/auth" -H "x-api-key: $KIRA_API_KEY" -H 'Content-Type: application/json' \\
              -d "{\\"client_id\\":\\"$KIRA_CLIENT_ID\\",\\"password\\":\\"$KIRA_PASSWORD\\"}" | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')
            for path in "users/$KIRA_USER_ID" "virtual-accounts/$KIRA_VA_ID" "recipients/$KIRA_RECIPIENT_ID"; do
              printf '%s ' "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/v1/$path" -H "x-api-key: $KIRA_API_KEY" -H "Authorization: Bearer $TOKEN")"
            done
            echo "$KIRA_USER_ID"
            """
        let result = try await KiraBinary.run(
            ["-c", script], executable: URL(fileURLWithPath: "/bin/sh"),
            environment: [
                "BASE_URL": served.baseURL, "KIRA_API_KEY": demo.apiKey, "KIRA_CLIENT_ID": demo.clientID,
                "KIRA_PASSWORD": demo.password, "KIRA_WALKTHROUGH": KiraBinary.url.path,
            ],
            timeout: 60
        )
        #expect(result.status == 0, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        let words = result.stdout.split(whereSeparator: \.isWhitespace).map(String.init)
        #expect(Array(words.prefix(3)) == ["200", "200", "200"], "\(result.stdout)")
        #expect(words.last.flatMap { UUID(uuidString: $0) } != nil, "KIRA_USER_ID is set to a UUID: \(result.stdout)")
    }

    @Test func aNonLoopbackHostWithoutAdminTokenIsRefused() async throws {
        let result = try await KiraBinary.run(["sandbox", "serve", "--host", "0.0.0.0", "--port", "0"], timeout: 20)
        #expect(result.status != 0)
        #expect(result.stderr.contains("--admin-token"))
    }

    @Test func badOptionsAreUsageErrors() async throws {
        let negative = try await KiraBinary.run(["sandbox", "serve", "--token-ttl", "-1"])
        #expect(negative.status == 2)
        #expect(negative.stderr.contains("--token-ttl"))
        let clientID = try await KiraBinary.run(["sandbox", "serve", "--client-id", "not-a-uuid"])
        #expect(clientID.status == 2)
    }

    /// `--va-ready-after` comes from one option group that both commands use: both list it and
    /// both refuse a negative value the same way.
    @Test(arguments: [["run"], ["sandbox", "serve"]])
    func theSharedEmulatorOptionsAreListedAndCheckedByBothCommands(_ command: [String]) async throws {
        let help = try await KiraBinary.run(command + ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--va-ready-after <va-ready-after>"), "\(help.stdout)")
        #expect(help.stdout.contains("PENDING-ACT-ACCOUNT"))
        let negative = try await KiraBinary.run(command + ["--va-ready-after=-1"])
        #expect(negative.status == 2)
        #expect(negative.stderr.contains("--va-ready-after must be a non-negative number of seconds"), "\(negative.stderr)")
    }

    @Test func theSeedPagesCurlCommandsBehaveAsDocumented() async throws {
        let served = try await ServedEmulator(["--va-ready-after", "1"])
        defer { served.terminate() }
        let demo = TenantCredentials.demo
        let script = KiraBinary.packageRoot.appendingPathComponent("Tests/KiraSandboxTests/Scripts/quickstart-curl.sh")
        let result = try await KiraBinary.run(
            [script.path], executable: URL(fileURLWithPath: "/bin/bash"),
            environment: [
                "BASE_URL": served.baseURL, "KIRA_API_KEY": demo.apiKey, "KIRA_CLIENT_ID": demo.clientID,
                "KIRA_PASSWORD": demo.password, "KIRA_WALKTHROUGH": KiraBinary.url.path,
            ],
            timeout: 60
        )
        #expect(result.status == 0, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(result.stdout.contains("quickstart complete"))
        #expect(result.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count >= 18)
    }
}
