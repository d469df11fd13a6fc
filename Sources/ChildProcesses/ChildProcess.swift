import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Starting a program the way a shell would: an empty signal mask, every signal's disposition
/// at its default, and no descriptor of ours but the three it is given.
///
/// Not Foundation's `Process`: a thread of Swift's concurrency pool blocks most signals, and a
/// child spawned from it without `POSIX_SPAWN_SETSIGMASK` keeps that mask for life (a tmux server
/// that never sees its SIGTERM, an editor that ignores Ctrl-C); and any descriptor opened without
/// close-on-exec (a pipe, a lock file, a listening socket) would stay open in the child.
public enum ChildProcess {
    /// Why a program could not be started.
    public struct SpawnError: Error, CustomStringConvertible {
        /// The program.
        public var program: String
        /// The `errno` value `posix_spawn` returned.
        public var code: Int32
        public var description: String { "cannot start \(program): \(String(cString: strerror(code)))" }
    }

    /// Where one of the child's standard descriptors goes.
    public enum Stream: Sendable {
        /// The same descriptor as ours (the terminal, for an editor).
        case inherit
        /// `/dev/null`.
        case null
        /// A file, created or truncated, mode 0600.
        case file(String)
    }

    /// Starts `program` (looked up in `PATH` when it has no `/`) with `arguments` (not counting
    /// argv[0]) and `environment` (ours when `nil`), and returns its process id.
    public static func spawn(
        _ program: String, _ arguments: [String], environment: [String: String]? = nil, stdin: Stream = .inherit,
        stdout: Stream = .inherit, stderr: Stream = .inherit
    ) throws(SpawnError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (descriptor, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                posix_spawn_file_actions_addopen(
                    &actions, descriptor, path, descriptor == 0 ? O_RDONLY : (O_WRONLY | O_CREAT | O_TRUNC), 0o600)
            }
        }
        closeAboveStandardError(&actions)
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
        let argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) } + [nil]
        let variables = environment ?? ProcessInfo.processInfo.environment
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let code =
            program.contains("/")
            ? posix_spawn(&pid, program, &actions, &attributes, argv, envp)
            : posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
        guard code == 0 else { throw SpawnError(program: program, code: code) }
        return pid
    }

    /// Closes every descriptor above 2 in the child: with glibc's
    /// `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; looked up at run time, since
    /// Swift's Glibc module does not show it), else one close per descriptor open now.
    static func closeAboveStandardError(_ actions: inout posix_spawn_file_actions_t) {
        #if os(Linux)
            typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
            if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
                _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
                return
            }
            let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            for descriptor in open.compactMap({ Int32($0) }) where descriptor > 2 {
                posix_spawn_file_actions_addclose(&actions, descriptor)
            }
        #endif
    }

    /// Waits for `pid` to end (blocking this thread) and returns its exit status, or 128 plus
    /// the signal that ended it.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Runs `program` to the end and returns its exit status (see `wait(_:)`).
    @discardableResult
    public static func run(
        _ program: String, _ arguments: [String], environment: [String: String]? = nil, stdin: Stream = .inherit,
        stdout: Stream = .inherit, stderr: Stream = .inherit
    ) throws(SpawnError) -> Int32 {
        wait(try spawn(program, arguments, environment: environment, stdin: stdin, stdout: stdout, stderr: stderr))
    }
}
