import Foundation
import SessionStore
import WalkthroughCore

/// A private directory for the session file, made once per process.
let sessionDirectory: String = {
    let path = NSTemporaryDirectory() + "kira-fuzz-session-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

/// libFuzzer entry point: the input is the contents of a session file.
///
/// The contract under test: `SessionStore.load` returns a session or throws `SessionFileError`
/// (corrupt, newer schema); any other error, or a trap, is a bug. A loaded session is encoded
/// again, as a save would.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let store = SessionStore(directory: sessionDirectory)
    let bytes = Data(bytes: data, count: size)
    guard FileManager.default.createFile(atPath: store.path(for: "fuzz"), contents: bytes) else {
        fatalError("cannot write \(store.path(for: "fuzz"))")
    }
    do {
        if let session = try store.load("fuzz") {
            precondition(session.name == "fuzz", "a loaded session takes its file's name")
            _ = try? SessionStore.serialized(session)
        }
    } catch is SessionFileError {
        // Expected for corrupt or newer files.
    } catch {
        fatalError("load threw \(type(of: error)), not SessionFileError: \(error)")
    }
    return 0
}
