import KiraJSON
import Testing
import WalkthroughPresentation

/// What the commands print under a locale that is not UTF-8.
@Suite struct ASCIITextTests {
    @Test(arguments: [
        ([String: String](), false),
        (["LANG": "C"], false),
        (["LANG": "POSIX"], false),
        (["LANG": "en_US.ISO-8859-1"], false),
        (["LANG": "C.UTF-8"], true),
        (["LANG": "en_US.utf8"], true),
        (["LANG": "de_DE.UTF-8@euro"], true),
        (["LANG": "C.UTF-8", "LC_ALL": "C"], false),
        (["LANG": "C", "LC_CTYPE": "C.UTF-8"], true),
        (["LANG": "C.UTF-8", "LC_ALL": ""], true),
    ])
    func theLocaleIsReadAsTheCLibraryReadsIt(environment: [String: String], utf8: Bool) {
        #expect(ASCIIText.localeIsUTF8(environment: environment) == utf8, "\(environment)")
    }

    @Test func theWalkthroughsGlyphsHaveOneColumnStandIns() {
        #expect(ASCIIText.fold("━━ Step 2 of 7 · Authenticate ━━") == "-- Step 2 of 7 - Authenticate --")
        #expect(ASCIIText.fold("  ✓ Done") == "  + Done")
        #expect(ASCIIText.fold("→ Request it will send") == "> Request it will send")
        #expect(ASCIIText.fold("ℹ Q-SHAPES: … ⚑ ⏸ ➜ ☎ ↻ ⚡ •••• ←") == "i Q-SHAPES: . ! = > @ ~ ! **** <")
        #expect(ASCIIText.fold("plain ASCII stays as it is") == "plain ASCII stays as it is")
    }

    /// Other characters are written as JSON escapes: nothing is lost, and a body stays JSON.
    @Test func otherCharactersBecomeJSONEscapesAndABodyStaysTheSameJSON() throws {
        let body = #"{"first_name": "Zoë", "city": "Zürich", "note": "“quoted” 😀 ✓"}"#
        let folded = ASCIIText.fold(body)
        #expect(folded.utf8.allSatisfy { $0 < 0x80 }, "\(folded)")
        #expect(folded.contains(#""Zo\u00eb""#))
        #expect(folded.contains(#"\ud83d\ude00"#))
        // The mark inside a value becomes its stand-in; a parser reads the rest back unchanged.
        let parsed = try JSONValue.parse(folded)
        #expect(parsed["first_name"] == "Zoë")
        #expect(parsed["city"] == "Zürich")
        #expect(parsed["note"] == "“quoted” 😀 +")
    }
}
