import WalkthroughCore

/// libFuzzer entry point: the input, as UTF-8 text (invalid sequences repaired), is a flow file.
///
/// The contract under test: `FlowLoader.load` returns a `Flow` or throws `FlowLoadError` with at
/// least one problem; it never traps, overflows or loops.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let flow = try FlowLoader.load(text, file: "fuzz.yaml")
        _ = flow.steps.count
    } catch {
        // A rejected flow must say why, with a location.
        precondition(!error.problems.isEmpty, "FlowLoadError without problems")
        _ = error.description
    }
    return 0
}
