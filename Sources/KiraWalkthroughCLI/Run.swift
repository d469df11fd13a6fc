import ArgumentParser
import Foundation
import KiraSandbox

/// `kira-walkthrough run`: the guided walkthrough.
///
/// The flow engine is not built yet (see the project's issues), so this command says what the
/// walkthrough will do and how to explore the sandbox with the emulator today; it does not pretend
/// to run the steps.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the quickstart walkthrough (the default command)."
    )

    func run() async throws {
        let hasCredentials = ProcessInfo.processInfo.environment["KIRA_API_KEY"].map { !$0.isEmpty } ?? false
        let demo = TenantCredentials.demo
        let target = hasCredentials ? "the real Kira sandbox (https://api.balampay.com/sandbox), with your KIRA_* credentials" : "a local emulator of the Kira sandbox (no credentials found in KIRA_API_KEY)"
        printLine(
            """
            kira-walkthrough — the Kira sandbox quickstart, step by step

            The guided walkthrough is not available in this build yet. When it is, it will run these
            seven steps against \(target):

              1. Get your credentials
              2. Authenticate                        POST /auth
              3. Pin your version                    POST /v1/versioning/upgrade
              4. Create a user                       POST /v1/users
              5. Create a virtual account            POST /v1/virtual-accounts
              6. Simulate a deposit (sandbox)        POST /v1/virtual-accounts/{id}/simulate-deposit
              7. Make a payout (preview, then create) POST /v1/virtual-accounts/{id}/payout[/preview]

            What works today: the local sandbox emulator. Start it with

              swift run kira-walkthrough sandbox serve

            and follow the quickstart's curl commands against the base URL it prints, with
              export KIRA_API_KEY=\(demo.apiKey)
              export KIRA_CLIENT_ID=\(demo.clientID)
              export KIRA_PASSWORD=\(demo.password)
            Play the Kira contact with `kira-walkthrough sandbox verify-user USER_ID --url BASE_URL`.
            """
        )
    }
}
