import Testing
import WalkthroughCore

/// `HTTPReason`: the one table of reason phrases behind the terminal interface's status line, the
/// plain output, the Markdown transcript and HAR's `statusText`.
@Suite struct HTTPReasonTests {
    @Test(arguments: [
        (200, "OK"), (201, "Created"), (202, "Accepted"), (304, "Not Modified"), (405, "Method Not Allowed"),
        (422, "Unprocessable Entity"), (429, "Too Many Requests"), (503, "Service Unavailable"),
    ])
    func knownStatuses(_ status: Int, _ phrase: String) {
        #expect(HTTPReason.text(status) == phrase)
    }

    @Test func anUnlistedStatusHasNoPhrase() {
        #expect(HTTPReason.text(299) == "")
        #expect(HTTPReason.text(0) == "")
    }
}
