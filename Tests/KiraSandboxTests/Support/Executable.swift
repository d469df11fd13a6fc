import Foundation
import Testing

/// The built `kira-walkthrough` binary, run as a subprocess the way a user runs it.
enum Executable {
    /// Where `swift build` put the binary: beside the test bundle, unless `KIRA_WALKTHROUGH_BIN` says otherwise.
    static var url: URL {
        if let override = ProcessInfo.processInfo.environment["KIRA_WALKTHROUGH_BIN"] { return URL(fileURLWithPath: override) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // The test runner may live inside an .xctest bundle directory.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("kira-walkthrough")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/kira-walkthrough")
    }

    /// The package root (for scripts and flows in the repository).
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// Runs to completion (bounded by `timeout`) and returns the exit status and outputs.
    ///
    /// The waiting happens on a thread of its own: blocking one of the cooperative pool's threads
    /// (two on a 2-core machine) would starve every other test of the parallel run.
    static func run(_ arguments: [String], executable: URL? = nil, environment: [String: String] = [:], timeout: Double = 60) async throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let executable = executable ?? url
        let result = try await OwnThread.run { try runBlocking(arguments, executable: executable, environment: environment, timeout: timeout) }
        if result.timedOut { Issue.record("\(arguments.joined(separator: " ")) timed out after \(timeout) s") }
        return (result.status, result.stdout, result.stderr)
    }

    static func runBlocking(_ arguments: [String], executable: URL, environment: [String: String], timeout: Double) throws -> (
        status: Int32, stdout: String, stderr: String, timedOut: Bool
    ) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let collector = OutputCollector(out: out, err: err)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let timedOut = process.isRunning
        if timedOut { process.terminate() }
        process.waitUntilExit()
        let (stdout, stderr) = collector.finish()
        return (process.terminationStatus, stdout, stderr, timedOut)
    }
}

/// Blocking work (waiting for a subprocess) on a thread of its own, awaited without holding a
/// thread of Swift's cooperative pool.
enum OwnThread {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
            }
        }
    }
}

/// Drains a process's pipes on background threads so it never blocks on a full pipe.
final class OutputCollector: @unchecked Sendable {
    // Guarded by `lock`; written by the reader threads, read after they finish.
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    private let group = DispatchGroup()

    init(out: Pipe, err: Pipe) {
        for (pipe, isOut) in [(out, true), (err, false)] {
            group.enter()
            Thread.detachNewThread { [self] in
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                lock.lock()
                if isOut { self.out = data } else { self.err = data }
                lock.unlock()
                group.leave()
            }
        }
    }

    func finish() -> (String, String) {
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

/// `kira-walkthrough sandbox serve` running in the background.
final class ServedEmulator: @unchecked Sendable {
    // Immutable after init; the process object is only touched from the test's thread.
    let process = Process()
    let baseURL: String
    let readinessLine: String
    /// Seconds from launch to the readiness line.
    let secondsToReady: Double
    private let stdout: Pipe

    init(_ arguments: [String] = []) throws {
        process.executableURL = Executable.url
        process.arguments = ["sandbox", "serve", "--port", "0"] + arguments
        stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        var line = Data()
        let handle = stdout.fileHandleForReading
        // Bounded: the readiness line or end of output, whichever comes first.
        while true {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0A]) { break }
            line.append(byte)
            if line.count > 4096 { break }
        }
        secondsToReady = Date().timeIntervalSince(started)
        readinessLine = String(decoding: line, as: UTF8.self)
        guard let range = readinessLine.range(of: #"http://[0-9.]+:[0-9]+/sandbox"#, options: .regularExpression) else {
            process.terminate()
            throw ServeError(line: readinessLine)
        }
        baseURL = String(readinessLine[range])
    }

    struct ServeError: Error, CustomStringConvertible {
        var line: String
        var description: String { "no readiness line; got: \(line)" }
    }

    /// Sends `signal` and waits (bounded) for the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Double = 10) async -> Int32? {
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            process.terminate()
            return nil
        }
        return process.terminationStatus
    }

    /// Sends SIGTERM without waiting (for `defer`, which cannot await).
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}
