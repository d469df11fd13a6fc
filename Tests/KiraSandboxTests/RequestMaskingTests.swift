import Testing

@testable import KiraSandbox

/// The byte search and the path split that every request goes through when the coach is on.
@Suite struct RequestMaskingTests {
    @Test(arguments: [
        ("password", "{\"password\":\"x\"}", true),
        ("token", "{\"access_token\":1}", true),
        ("token", "tttttoken", true),
        ("token", "toke", false),
        ("token", "tokentoken", true),
        ("token", "t o k e n", false),
        ("data:", "xxxxdata:", true),
        ("data:", "data", false),
        ("secret", "", false),
        ("a", "a", true),
    ])
    func aNeedleIsFoundWhereverItIsAndOnlyThere(needle: String, haystack: String, expected: Bool) {
        #expect(RequestMasking.contains(Array(haystack.utf8), Array(needle.utf8)) == expected)
    }

    @Test func aSecretFieldNameOrADataURLMarksABodyForMasking() {
        #expect(RequestMasking.mayHoldSecret(Array("{\"client_id\":\"c\"}".utf8)))
        #expect(RequestMasking.mayHoldSecret(Array("{\"file\":\"data:image/png;base64,AAAA\"}".utf8)))
        #expect(!RequestMasking.mayHoldSecret(Array("{\"id\":\"u\",\"status\":\"CREATED\"}".utf8)))
    }

    @Test(arguments: [
        ("/sandbox/v1/users", ["sandbox", "v1", "users"]),
        ("//sandbox//auth/", ["sandbox", "auth"]),
        ("/", []),
        ("", []),
        ("sandbox", ["sandbox"]),
        ("/sandbox/v1/users/ü-1", ["sandbox", "v1", "users", "ü-1"]),
    ])
    func aPathSplitsIntoItsSegmentsAsStringSplitDoes(path: String, expected: [String]) {
        let segments = RequestMasking.segments(of: path)
        #expect(segments.map(String.init) == expected)
        #expect(segments == path.split(separator: "/", omittingEmptySubsequences: true))
    }
}
