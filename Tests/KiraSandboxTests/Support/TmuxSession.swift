import ChildProcesses
import Foundation
import KiraTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A program in a real terminal: a private tmux server, a fixed size, `LANG=C.UTF-8`, the status
/// bar off. Keys go in with `send-keys`; the screen comes out with `capture-pane`.
final class TmuxSession: Sendable {
    let socket: String
    let name = "kira"

    /// Starts `command` in a new tmux server (bounded by the caller's deadlines).
    init(command: String, width: Int = 120, height: Int = 35, environment: [String: String] = [:]) throws {
        socket = "kira-test-\(UUID().uuidString.prefix(8))"
        let exports = environment.map { "\($0.key)=\(Self.quote($0.value))" }.joined(separator: " ")
        // Keep the pane after the program exits, to read what it printed.
        let shell = "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color \(exports) \(command); echo \"[exited $?]\"; sleep 120"
        try Self.tmux(
            ["-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)", shell], marker: socket)
        try Self.tmux(["-L", socket, "set-option", "-g", "status", "off"])
    }

    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Runs one tmux command and returns what it printed.
    ///
    /// Not Foundation's `Process`: it notices a child's exit through a socket the child inherits,
    /// and the tmux server that `new-session` forks keeps that socket open, so `waitUntilExit`
    /// would wait for the server, forever. `ChildProcess` waits for the client alone, and starts it
    /// with an empty signal mask, default dispositions and none of the test runner's descriptors
    /// (a thread of the concurrency pool blocks most signals: a server started with that mask
    /// never sees `kill-server`'s SIGTERM). Every tmux carries `marker`, and so does everything it
    /// starts, so that `survivors(of:)` can find them.
    @discardableResult
    static func tmux(_ arguments: [String], marker: String? = nil) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("kira-tmux-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        var environment = ProcessInfo.processInfo.environment
        // `swift test` runs the tests with NO_COLOR=1: a program in the pane must see it only
        // when a test exports it itself (the NO_COLOR test does).
        environment.removeValue(forKey: "NO_COLOR")
        KiraBinary.sanitizeChildren(&environment)
        if let marker {
            environment[markerVariable] = marker
            environment[packageVariable] = KiraBinary.packageRoot.path
        }
        try ChildProcess.run("tmux", arguments, environment: environment, stdin: .null, stdout: .file(output), stderr: .null)
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }

    /// The variable that marks a tmux server of the tests and everything in it; its value is
    /// the server's socket name.
    static let markerVariable = "KIRA_TEST_TMUX"
    /// The variable naming the package whose tests started a process (what `.ci/run` looks for).
    static let packageVariable = "KIRA_TEST_PACKAGE"

    /// The processes still running with `marker` in their environment (Linux `/proc`; empty
    /// elsewhere), as "pid command line".
    static func survivors(of marker: String) -> [String] {
        #if os(Linux)
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.filter { Int32($0) != nil && Int32($0) != getpid() }.compactMap { pid in
                guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                    environ.split(separator: 0).contains(where: { $0.elementsEqual("\(markerVariable)=\(marker)".utf8) })
                else { return nil }
                guard let number = pid_t(pid), isRunning(number) else { return nil }
                let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
                return "\(pid) " + String(decoding: command.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            }
        #else
            return []
        #endif
    }

    /// Whether `pid` is a process that has not exited. A zombie has exited: only its parent's
    /// wait is missing (a daemonized tmux server's parent is init, which reaps when it gets to it).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        #if os(Linux)
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            if let close = stat.lastIndex(of: ")"), stat[close...].dropFirst(2).first == "Z" { return false }
        #endif
        return true
    }

    /// Sends keys (tmux key names such as `Enter`, `Escape`, `q`).
    func send(_ keys: String...) {
        _ = try? Self.tmux(["-L", socket, "send-keys", "-t", name] + keys)
    }

    /// The screen as text.
    var screen: String { (try? Self.tmux(["-L", socket, "capture-pane", "-p", "-t", name])) ?? "" }

    /// Waits (bounded) until the screen contains `text`.
    @discardableResult
    func waitFor(_ text: String, timeout: Double = 15) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if screen.contains(text) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return screen.contains(text)
    }

    /// Presses Enter until the screen shows `text`, at most `limit` times.
    func pressEnter(until text: String, limit: Int = 60, pause: Double = 0.35) async -> Int? {
        for press in 1...limit {
            if screen.contains(text) { return press - 1 }
            send("Enter")
            try? await Task.sleep(for: .seconds(pause))
        }
        return screen.contains(text) ? limit : nil
    }

    /// Runs any tmux command against this session's server (`show-buffer`, `set-option` …).
    func command(_ arguments: String...) -> String {
        (try? Self.tmux(["-L", socket] + arguments)) ?? ""
    }

    func resize(width: Int, height: Int) {
        _ = try? Self.tmux(["-L", socket, "resize-window", "-t", name, "-x", "\(width)", "-y", "\(height)"])
    }

    /// Stops the tmux server and checks (bounded) that it, the program and everything else it
    /// started are gone; what is still running is an issue of the test, and is then killed.
    func close() {
        _ = try? Self.tmux(["-L", socket, "kill-server"])
        let deadline = Date().addingTimeInterval(30)
        var left = Self.survivors(of: socket)
        while !left.isEmpty, Date() < deadline {
            usleep(20_000)
            left = Self.survivors(of: socket)
        }
        guard !left.isEmpty else { return }
        Issue.record("still running 30 s after kill-server of \(socket):\n\(left.joined(separator: "\n"))")
        for survivor in left { if let pid = pid_t(survivor.prefix { $0 != " " }) { kill(pid, SIGKILL) } }
    }

    deinit { close() }
}
