import Foundation
import KiraJSON
import TerminalUI
import WalkthroughCore

/// libFuzzer entry point: the input is a request or response body.
///
/// Checked, besides "never traps":
/// - `JSONValue.parse` accepts or throws `JSONSyntaxError`; what it accepts survives a round trip
///   through the compact, pretty and canonical writers unchanged;
/// - `PrettyBody.spans(of:colored:)` splits every line into runs that put together give the line
///   back, whether the body was JSON or not;
/// - a screen showing the body as the request and as the response renders, scrolled by an amount
///   taken from the input, at a normal and at a cramped size.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: buffer, as: UTF8.self)

    if let value = try? JSONValue.parse(buffer) {
        for options in [JSONWriteOptions.compact, .pretty, .canonical] {
            let written = value.text(options)
            guard let again = try? JSONValue.parse(written) else {
                fatalError("the writer's output does not parse: \(written.debugDescription)")
            }
            precondition(again == value, "round trip changed the value: \(written.debugDescription)")
        }
    }

    let body = PrettyBody(text: text)
    for line in body.lines {
        for colored in [true, false] {
            let spans = PrettyBody.spans(of: line, colored: colored)
            let joined = spans.map(\.0).joined()
            precondition(joined == String(line), "spans lose text: \(String(line).debugDescription) → \(joined.debugDescription)")
        }
    }

    let scroll = size > 0 ? Int(data[0]) - 64 : 0
    var screen = WalkthroughScreen(
        flowTitle: "Fuzz", sessionName: "fuzz", targetLabel: "LOCAL EMULATOR", isLocalEmulator: true,
        steps: [("Send the body", .ready), ("Read the answer", .pending)], mode: .confirm
    )
    screen.preview = RequestPreview(
        method: "POST", url: "http://127.0.0.1:4010/sandbox/v1/users", headers: [("x-api-key", "kira_sandbox_fuzz_key")],
        body: nil, editableBody: nil, label: "fuzz", idempotencyKey: nil, secrets: ["kira_sandbox_fuzz_key"], requestID: "fuzz"
    )
    screen.previewBody = body
    screen.exchange = ExchangeRecord(
        sequence: 1, stepID: "fuzz", requestID: "fuzz", note: nil, method: "POST", url: "http://127.0.0.1:4010/sandbox/v1/users",
        requestHeaders: [], requestBody: text, status: 200, responseHeaders: [["content-type", "application/json"]], responseBody: text,
        error: nil, startedAt: Date(timeIntervalSince1970: 1_800_000_000), durationMilliseconds: 12
    )
    screen.responseBody = body
    screen.showResponseHeaders = true
    screen.scroll = [.request: scroll, .response: scroll]
    let renderer = WalkthroughRenderer(glyphs: .unicode, colors: true, now: Date(timeIntervalSince1970: 1_800_000_000))
    for (width, height) in [(100, 30), (41, 12)] {
        screen.focus = width == 100 ? .request : .response
        _ = renderer.render(screen, width: width, height: height).text
    }
    return 0
}
