import Foundation
import KiraTestSupport
import Testing

/// The engine, the runner, the terminal interface and the exports know no API of their own: what is
/// Kira's (paths, quirk ids, the webhook registration, the pending account number) lives in the
/// data beside the flows (`flows/kira-api.yaml`, `flows/quickstart.yaml`).
@Suite struct GenericModulesTests {
    /// The modules that must stay free of any one API's knowledge.
    static let modules = ["WalkthroughCore", "WalkthroughPresentation", "WalkthroughRunner", "TerminalUI", "Exports", "Coach"]

    /// What betrays Kira knowledge in code: a quirk id other than the walkthrough's own, a path of
    /// the Kira API, its webhook registration path, its placeholder account number.
    static func findings(in code: String) -> [String] {
        var found: [String] = []
        let characters = Array(code)
        var index = 0
        while index + 2 < characters.count {
            if characters[index] == "Q", characters[index + 1] == "-", characters[index + 2].isUppercase,
                index == 0 || !(characters[index - 1].isLetter || characters[index - 1].isNumber)
            {
                var end = index + 2
                while end < characters.count, characters[end].isUppercase || characters[end].isNumber || characters[end] == "-" { end += 1 }
                let id = String(characters[index..<end])
                if id != "Q-WAIT-TIMEOUT" { found.append(id) }
                index = end
            } else {
                index += 1
            }
        }
        for word in ["/v1", "/auth", "webhooks/register", "PENDING-ACT-ACCOUNT"] where code.contains(word) { found.append(word) }
        return found
    }

    /// A Swift file without its comments: `//` to the end of the line, `/* … */` (nested), and the
    /// `#` comment lines of a shell script embedded in a multi-line string literal. String literals
    /// are kept (they are code: text the program shows or writes).
    static func code(of source: String) -> String {
        var out = ""
        let characters = Array(source)
        var index = 0
        var inString = false
        var inMultiline = false
        var blockDepth = 0
        func at(_ text: String) -> Bool {
            let needle = Array(text)
            guard index + needle.count <= characters.count else { return false }
            return Array(characters[index..<(index + needle.count)]) == needle
        }
        while index < characters.count {
            let character = characters[index]
            if blockDepth > 0 {
                if at("*/") {
                    blockDepth -= 1
                    index += 2
                } else if at("/*") {
                    blockDepth += 1
                    index += 2
                } else {
                    if character == "\n" { out.append("\n") }
                    index += 1
                }
                continue
            }
            if inMultiline {
                if at("\"\"\"") {
                    inMultiline = false
                    out += "\"\"\""
                    index += 3
                    continue
                }
                // A line of the literal that is a shell comment.
                if index == 0 || characters[index - 1] == "\n" {
                    var start = index
                    while start < characters.count, characters[start] == " " { start += 1 }
                    if start < characters.count, characters[start] == "#" {
                        while index < characters.count, characters[index] != "\n" { index += 1 }
                        continue
                    }
                }
                out.append(character)
                index += 1
                continue
            }
            if inString {
                if character == "\\", index + 1 < characters.count {
                    out.append(character)
                    out.append(characters[index + 1])
                    index += 2
                    continue
                }
                if character == "\"" || character == "\n" { inString = false }
                out.append(character)
                index += 1
                continue
            }
            if at("\"\"\"") {
                inMultiline = true
                out += "\"\"\""
                index += 3
            } else if character == "\"" {
                inString = true
                out.append(character)
                index += 1
            } else if at("//") {
                while index < characters.count, characters[index] != "\n" { index += 1 }
            } else if at("/*") {
                blockDepth = 1
                index += 2
            } else {
                out.append(character)
                index += 1
            }
        }
        return out
    }

    @Test func theScannerSeesCodeButNotComments() {
        let sample = #"""
            /// Cites Q-ONE-VA in a comment, and /v1/users. /* Q-SHAPES */
            let wait = "Q-WAIT-TIMEOUT"  // Q-LIMIT-100
            let path = "/v1/users" + "webhooks/register"
            let script = """
                # Q-AUTH-HEADERS in a shell comment
                [ "$p" = /auth ]
                """
            let id = "Q-DEPOSIT-INVISIBLE"
            """#
        #expect(Self.findings(in: Self.code(of: sample)) == ["Q-DEPOSIT-INVISIBLE", "/v1", "/auth", "webhooks/register"])
    }

    @Test func noGenericModuleHoldsKiraKnowledgeOutsideComments() async throws {
        // Computes for a while without suspending: on a computing thread, not the pool (see TestThreads).
        try await TestThreads.compute {
            let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
                .appendingPathComponent("Sources")
            var offenders: [String] = []
            for module in Self.modules {
                let directory = sources.appendingPathComponent(module)
                let enumerator = try #require(FileManager.default.enumerator(atPath: directory.path), "\(directory.path)")
                var files = 0
                for case let relative as String in enumerator where relative.hasSuffix(".swift") {
                    files += 1
                    let text = try String(contentsOf: directory.appendingPathComponent(relative), encoding: .utf8)
                    let found = Self.findings(in: Self.code(of: text))
                    if !found.isEmpty {
                        offenders.append("Sources/\(module)/\(relative): \(Array(Set(found)).sorted().joined(separator: ", "))")
                    }
                }
                #expect(files > 0, "no Swift file found under \(directory.path)")
            }
            #expect(offenders.isEmpty, "Kira knowledge in generic modules:\n\(offenders.joined(separator: "\n"))")

        }
    }
}
