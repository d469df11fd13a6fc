import Foundation
import Testing

/// A program in a real terminal: a private tmux server, a fixed size, `LANG=C.UTF-8`, the status
/// bar off. Keys go in with `send-keys`; the screen comes out with `capture-pane`.
final class TmuxSession: @unchecked Sendable {
    // Immutable after init.
    let socket: String
    let name = "kira"

    /// Starts `command` in a new tmux server (bounded by the caller's deadlines).
    init(command: String, width: Int = 120, height: Int = 35, environment: [String: String] = [:]) throws {
        socket = "kira-test-\(UUID().uuidString.prefix(8))"
        let exports = environment.map { "\($0.key)=\(Self.quote($0.value))" }.joined(separator: " ")
        // Keep the pane after the program exits, to read what it printed.
        let shell = "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color \(exports) \(command); echo \"[exited $?]\"; sleep 120"
        try Self.tmux(["-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)", shell])
        try Self.tmux(["-L", socket, "set-option", "-g", "status", "off"])
    }

    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    @discardableResult
    static func tmux(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tmux"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Sends keys (tmux key names such as `Enter`, `Escape`, `q`).
    func send(_ keys: String...) {
        _ = try? Self.tmux(["-L", socket, "send-keys", "-t", name] + keys)
    }

    /// The screen as text.
    var screen: String { (try? Self.tmux(["-L", socket, "capture-pane", "-p", "-t", name])) ?? "" }

    /// Waits (bounded) until the screen contains `text`.
    @discardableResult
    func waitFor(_ text: String, timeout: Double = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if screen.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// Presses Enter until the screen shows `text`, at most `limit` times.
    func pressEnter(until text: String, limit: Int = 60, pause: Double = 0.35) -> Int? {
        for press in 1...limit {
            if screen.contains(text) { return press - 1 }
            send("Enter")
            Thread.sleep(forTimeInterval: pause)
        }
        return screen.contains(text) ? limit : nil
    }

    func resize(width: Int, height: Int) {
        _ = try? Self.tmux(["-L", socket, "resize-window", "-t", name, "-x", "\(width)", "-y", "\(height)"])
    }

    func close() {
        _ = try? Self.tmux(["-L", socket, "kill-server"])
    }

    deinit { close() }
}
