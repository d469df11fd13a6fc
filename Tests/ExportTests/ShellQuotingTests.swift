import Foundation
import KiraJSON
import KiraTestSupport
import Testing
import WalkthroughCore

/// `ShellQuoting`, the one place bash quoting is written: what it quotes reaches bash unchanged,
/// in the exported scripts and in the curl commands a person copies.
@Suite struct ShellQuotingTests {
    /// Values that would expand, split or end a quoted word if they were quoted badly.
    static let awkward = [
        "it's", "a$b`c\"d\\e", "$(touch /tmp/kira-quoting-pwned)", "`id`", "${HOME}", "two\nlines", "ünïcødé ✓", "'", "''", "",
        "\\", "\\\"", "!!", "*", "tab\there", "end\\",
    ]

    /// What bash prints for `word` as the argument of `printf %s`.
    func bashPrints(_ word: String) async throws -> String {
        let outcome = try await KiraBinary.run(
            ["-c", "printf %s \(word)"], executable: URL(fileURLWithPath: "/bin/bash"), cleanEnvironment: true)
        #expect(outcome.status == 0, "\(word): \(outcome.stderr)")
        return outcome.stdout
    }

    @Test func everyQuotedValueReachesBashUnchanged() async throws {
        for value in Self.awkward {
            #expect(try await bashPrints(ShellQuoting.singleQuoted(value)) == value, "single-quoted \(value.debugDescription)")
            #expect(try await bashPrints(ShellQuoting.doubleQuoted(value)) == value, "double-quoted \(value.debugDescription)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/kira-quoting-pwned"), "nothing was run")
    }

    @Test func theQuotingIsTheShortestSafeForm() {
        #expect(ShellQuoting.singleQuoted("it's") == "'it'\\''s'")
        #expect(ShellQuoting.doubleQuotedContent("a$b`c\"d\\e") == "a\\$b\\`c\\\"d\\\\e")
        #expect(ShellQuoting.doubleQuoted("plain text") == "\"plain text\"")
    }

    @Test func aCopiedCurlCommandQuotesWithTheSameRules() async throws {
        let preview = RequestPreview(
            method: "POST", url: "https://kira.example/sandbox/v1/things?q=$x", headers: [("x-note", "say \"hi\" for $5 `now`")],
            body: nil, editableBody: .object(["note": .string("costs $5 \"net\"")]), label: nil, idempotencyKey: nil, secrets: [],
            requestID: "thing")
        let command = CurlCommand.render(preview, baseURL: "https://kira.example/sandbox")
        #expect(command.contains("/v1/things?q=\\$x\""), "\(command)")
        #expect(command.contains("-H \"x-note: say \\\"hi\\\" for \\$5 \\`now\\`\""), "\(command)")
        // The header line, given to bash, says exactly what the request would send.
        let header = try #require(command.split(separator: "\n").first { $0.contains("x-note") })
        var line = header.trimmingCharacters(in: .whitespaces)
        if line.hasSuffix(" \\") { line.removeLast(2) }
        #expect(try await bashPrints(String(line.dropFirst("-H ".count))) == "x-note: say \"hi\" for $5 `now`")
    }
}
