import Testing

@testable import TerminalUI

/// How a body is cut into lines for the response pane.
@Suite struct PrettyBodyTests {
    /// `PrettyBody.lines(of:)` scans the bytes of the text as one buffer and makes each line by
    /// offset; the lines must be exactly those of splitting at every line feed, empty lines and
    /// the last line included, whatever the characters around the breaks.
    @Test(arguments: [
        "", "\n", "\n\n", "one", "one\n", "\none", "a\nb\nc", "é\n漢字\n😀\n", "\u{301}\ncombining", "crlf\r\nkept\r\n",
        "👩‍👩‍👧\n\nafter a blank", String(repeating: "x\n", count: 1000),
    ])
    func linesAreTheTextSplitAtEveryLineFeed(_ text: String) {
        // Split at line feed bytes (a `Character` split would keep "\r\n" whole, a line break does not).
        let expected = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        #expect(PrettyBody.lines(of: text).map(String.init) == expected)
    }

    /// A JSON body is pretty-printed before it is cut: every line of the pretty text is kept.
    @Test func aJSONBodyIsCutIntoThePrettyLines() {
        let body = PrettyBody(text: #"{"name":"Ada é","tags":["a","b"],"note":"line\nbreak"}"#)
        #expect(body.isJSON)
        #expect(
            body.lines.map(String.init) == [
                "{", #"  "name": "Ada é","#, #"  "tags": ["#, #"    "a","#, #"    "b""#, "  ],", #"  "note": "line\nbreak""#, "}",
            ])
    }
}
