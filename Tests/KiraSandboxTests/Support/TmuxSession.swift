import Foundation
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
        try Self.tmux(["-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)", shell])
        try Self.tmux(["-L", socket, "set-option", "-g", "status", "off"])
    }

    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    struct SpawnError: Error, CustomStringConvertible {
        var code: Int32
        var description: String { "cannot start tmux: \(String(cString: strerror(code)))" }
    }

    /// Runs one tmux command and returns what it printed.
    ///
    /// Not Foundation's `Process`: it notices a child's exit through a socket the child inherits,
    /// and the tmux server that `new-session` forks keeps that socket open, so `waitUntilExit`
    /// would wait for the server, forever. `posix_spawnp` and `waitpid` wait for the client alone.
    @discardableResult
    static func tmux(_ arguments: [String]) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("kira-tmux-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = (["tmux"] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        // A thread of the concurrency pool blocks most signals; without an empty mask and default
        // dispositions the tmux server would inherit that mask, and `kill-server` (SIGTERM) would
        // stay pending forever.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let code = posix_spawnp(&pid, "tmux", &actions, &attributes, argv, envp)
        guard code == 0 else { throw SpawnError(code: code) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
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

    func close() {
        _ = try? Self.tmux(["-L", socket, "kill-server"])
    }

    deinit { close() }
}
