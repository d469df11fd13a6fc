import Foundation
import KiraTestSupport
import Testing

/// The plain line mode and the other commands under a locale that is not UTF-8: every byte they
/// print is ASCII, and under UTF-8 they keep their glyphs.
@Suite struct ConsoleLocaleTests {
    static let noCredentials = ["KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": ""]

    func walkthrough(locale: [String: String]) async throws -> (run: KiraBinary.Outcome, status: KiraBinary.Outcome) {
        let home = try KiraBinary.temporaryDirectory("kira-locale")
        var environment = Self.noCredentials.merging(locale) { _, new in new }
        environment["HOME"] = home.path
        let run = try await KiraBinary.run(
            ["run", "--plain", "--yes", "--va-ready-after", "0.2"], environment: environment, cleanEnvironment: true, timeout: 120)
        let status = try await KiraBinary.run(["status"], environment: environment, cleanEnvironment: true)
        return (run, status)
    }

    @Test func underLANGCThePlainWalkthroughPrintsOnlyASCII() async throws {
        let (run, status) = try await walkthrough(locale: ["LANG": "C", "LC_ALL": "C"])
        #expect(run.status == 0, "\(run.stdout.suffix(1500))\n\(run.stderr)")
        for (name, text) in [("run", run.stdout), ("run's stderr", run.stderr), ("status", status.stdout)] {
            let bytes = Array(text.utf8)
            #expect(bytes.allSatisfy { $0 < 0x80 }, "\(name): non-ASCII bytes \(bytes.filter { $0 >= 0x80 }.prefix(10))")
        }
        // The separators are ASCII, not gone.
        #expect(run.stdout.contains("-- Step 2 of 7 - Authenticate --"), "\(run.stdout.prefix(800))")
        #expect(run.stdout.contains("+ Walkthrough complete: all 7 steps done"))
        #expect(status.status == 0)
    }

    @Test func underAUTF8LocaleTheGlyphsStay() async throws {
        let (run, _) = try await walkthrough(locale: ["LANG": "C.UTF-8"])
        #expect(run.status == 0, "\(run.stdout.suffix(1500))\n\(run.stderr)")
        #expect(run.stdout.contains("━━ Step 2 of 7 · Authenticate ━━"), "\(run.stdout.prefix(800))")
        #expect(run.stdout.contains("✓ Walkthrough complete: all 7 steps done"))
    }
}
