import Testing

@testable import TerminalUI

/// Inputs found by fuzzing (`reliability/fuzz/run`, target FuzzPrettyBody), kept so they stay fixed.
@Suite struct FuzzRegressionTests {
    /// `PrettyBody.spans` took any `Character.isNumber` for the start of a number, but only
    /// consumed ASCII digits: on "½" or "٣" at the start of a run it never moved on, and the
    /// highlighter hung. The runs must always put the line back together.
    @Test(.timeLimit(.minutes(1)), arguments: ["٣", "1½", "t½", "-²", "null٣", "[\"a\", ½]", "x ½ y"])
    func aNonASCIIDigitIsNotANumber(_ line: String) {
        let spans = PrettyBody.spans(of: Substring(line), colored: true)
        #expect(spans.map(\.0).joined() == line)
        for (text, style) in spans where text.contains(where: { !$0.isASCII }) {
            #expect(style.color != .yellow, "\(text.debugDescription) is not coloured as a number")
        }
    }

    /// The same lines in a body that is not JSON, drawn the way the response pane draws them.
    @Test(.timeLimit(.minutes(1)))
    func aTextBodyWithNonASCIIDigitsRenders() {
        let body = PrettyBody(text: "Fehler 502: in ½ Minute erneut\n١٢ ثانية\n")
        #expect(!body.isJSON)
        for line in body.lines {
            #expect(PrettyBody.spans(of: line, colored: true).map(\.0).joined() == String(line))
        }
    }
}
