import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP socket bound to a free port on 127.0.0.1.
///
/// Without `listen()`, the port is reserved but nothing listens on it, so a connection is refused
/// at once and no other test can take the port meanwhile. With `serve(_:)` it answers every request
/// with one canned HTTP response (a loopback server that is not the emulator).
final class LoopbackSocket: @unchecked Sendable {
    // The descriptor is written in init and in close(), from the test's own task.
    private var descriptor: Int32
    let port: Int
    private var thread: Thread?

    init() throws {
        #if canImport(Darwin)
            let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #else
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard descriptor >= 0 else { throw SocketError(step: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            systemClose(descriptor)
            throw SocketError(step: "bind")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: actual.sin_port))
    }

    /// `http://127.0.0.1:PORT/sandbox`.
    var baseURL: String { "http://127.0.0.1:\(port)/sandbox" }

    /// Listens, so connections are established, but never answers them.
    func listenWithoutAnswering() throws {
        guard listen(descriptor, 16) == 0 else { throw SocketError(step: "listen") }
    }

    /// Starts answering every connection with `status` and `body` (as `application/json`).
    func serve(status: Int, body: String) throws {
        guard listen(descriptor, 16) == 0 else { throw SocketError(step: "listen") }
        let listener = descriptor
        let response = Array(
            "HTTP/1.1 \(status) Canned\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)"
                .utf8
        )
        let thread = Thread {
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }  // closed by close()
                var received: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !received.containsHeaderEnd {
                    let count = read(connection, &buffer, buffer.count)
                    if count <= 0 { break }
                    received += buffer[0..<count]
                }
                _ = response.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                systemClose(connection)
            }
        }
        self.thread = thread
        thread.start()
    }

    /// Stops listening and releases the port.
    func close() {
        guard descriptor >= 0 else { return }
        shutdown(descriptor, Int32(SHUT_RDWR))
        systemClose(descriptor)
        descriptor = -1
    }

    deinit { close() }

    struct SocketError: Error, CustomStringConvertible {
        var step: String
        var description: String { "\(step) failed: \(String(cString: strerror(errno)))" }
    }
}

extension [UInt8] {
    fileprivate var containsHeaderEnd: Bool {
        count >= 4 && (0...(count - 4)).contains { self[$0] == 13 && self[$0 + 1] == 10 && self[$0 + 2] == 13 && self[$0 + 3] == 10 }
    }
}

/// `close(2)`, under a name the class's own `close()` does not shadow.
private func systemClose(_ descriptor: Int32) { _ = close(descriptor) }
