#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Standard output and standard error, written so that a terminal or a pipe that has gone away
/// is not a crash.
///
/// Foundation's `FileHandle.write(_:)` traps on any error: when the learner closes the terminal
/// window, the program's last line meets a hung-up terminal (`EIO`) and the process dies in the
/// runtime's crash handler instead of exiting. Here a failed write drops the rest of the text.
public enum StandardStream: Sendable {
    /// File descriptor 1.
    case output
    /// File descriptor 2.
    case error

    var descriptor: Int32 {
        switch self {
        case .output: 1
        case .error: 2
        }
    }

    /// Writes `text` whole, retrying interrupted and partial writes; returns `false` when the
    /// stream is gone (hung up, closed, full disk), having written what it could.
    @discardableResult
    public func write(_ text: String) -> Bool {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let result = systemWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if result < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += result
            }
            return true
        }
    }
}

/// The C library's `write(2)` (inside `StandardStream`, `write` names the method).
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
