import AsyncHTTPClient
import Foundation
import KiraJSON
import KiraSandbox
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The built `kira-walkthrough` binary and other programs, run as subprocesses the way a user runs them.
package enum KiraBinary {
    /// This process's environment with `overrides`, for a child that inherits it. The locale is
    /// UTF-8 unless `overrides` names one: the walkthrough prints ASCII under another (`LANG=C`),
    /// and the machine running the tests may have no locale set at all (a fresh CI container).
    package static func inheritedEnvironment(_ overrides: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if !["LC_ALL", "LC_CTYPE", "LANG"].contains(where: { overrides[$0] != nil }) {
            environment["LC_ALL"] = nil
            environment["LC_CTYPE"] = nil
            environment["LANG"] = "C.UTF-8"
        }
        sanitizeChildren(&environment)
        return environment.merging(overrides) { _, new in new }
    }

    /// Under `reliability/sanitizers`, `KIRA_SANITIZER_CHILD_LOG` names a directory: a sanitized
    /// child (the binary, tmux's programs) writes its reports there (`log_path`), where the script
    /// counts them, instead of to a stream the test reads or a terminal nobody keeps.
    package static func sanitizeChildren(_ environment: inout [String: String]) {
        guard let directory = environment["KIRA_SANITIZER_CHILD_LOG"], !directory.isEmpty else { return }
        for variable in ["TSAN_OPTIONS", "ASAN_OPTIONS"] {
            let existing = environment[variable].map { $0.isEmpty ? "" : $0 + ":" } ?? ""
            environment[variable] = existing + "log_path=\(directory)/child"
        }
    }

    /// Where `swift build` put the binary: beside the test bundle, unless `KIRA_WALKTHROUGH_BIN` says otherwise.
    package static var url: URL {
        if let override = ProcessInfo.processInfo.environment["KIRA_WALKTHROUGH_BIN"] { return URL(fileURLWithPath: override) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // The test runner may live inside an .xctest bundle directory.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("kira-walkthrough")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/kira-walkthrough")
    }

    /// The package root (for scripts and flows in the repository).
    package static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The outcome of a run.
    package struct Outcome: Sendable {
        package var status: Int32
        package var stdout: String
        package var stderr: String
    }

    /// Runs `executable` (the walkthrough by default) to completion, bounded by `timeout`. With
    /// `cleanEnvironment`, the child sees only `environment` (plus a PATH, a HOME and a LANG),
    /// never this process's variables.
    ///
    /// The waiting happens on a thread of its own: blocking one of the cooperative pool's threads
    /// (two on a 2-core machine) would starve every other test of the parallel run.
    package static func run(
        _ arguments: [String], executable: URL? = nil, environment: [String: String] = [:], cleanEnvironment: Bool = false,
        workingDirectory: URL? = nil, timeout: Double = 60
    ) async throws -> Outcome {
        let executable = executable ?? url
        let (outcome, timedOut) = try await OwnThread.run {
            try runBlocking(
                arguments, executable: executable, environment: environment, cleanEnvironment: cleanEnvironment,
                workingDirectory: workingDirectory, timeout: timeout)
        }
        if timedOut { Issue.record("\(arguments.joined(separator: " ")) timed out after \(timeout) s") }
        return outcome
    }

    static func runBlocking(
        _ arguments: [String], executable: URL, environment: [String: String], cleanEnvironment: Bool, workingDirectory: URL?,
        timeout: Double
    ) throws -> (Outcome, Bool) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if cleanEnvironment {
            var clean = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": FileManager.default.temporaryDirectory.path, "LANG": "C.UTF-8"]
            clean.merge(environment) { _, new in new }
            process.environment = clean
        } else {
            process.environment = inheritedEnvironment(environment)
        }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
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
        return (Outcome(status: process.terminationStatus, stdout: stdout, stderr: stderr), timedOut)
    }

    /// A fresh directory under the temporary directory.
    package static func temporaryDirectory(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Blocking work (waiting for a subprocess) on a thread of its own, awaited without holding a
/// thread of Swift's cooperative pool.
package enum OwnThread {
    package static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
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

/// `kira-walkthrough sandbox serve --port 0 …` running in the background, on loopback.
package final class ServedEmulator: @unchecked Sendable {
    // Immutable after init; the process object is only touched from the test's task.
    let process = Process()
    package let baseURL: String
    package let readinessLine: String
    /// Seconds from launch to the readiness line.
    package let secondsToReady: Double
    private let stdout: Pipe

    package init(_ arguments: [String] = []) async throws {
        process.executableURL = KiraBinary.url
        process.arguments = ["sandbox", "serve", "--port", "0"] + arguments
        process.environment = KiraBinary.inheritedEnvironment()
        stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        readinessLine = try await Self.firstLine(of: stdout.fileHandleForReading)
        secondsToReady = Date().timeIntervalSince(started)
        guard let range = readinessLine.range(of: #"http://127\.0\.0\.1:[0-9]+/sandbox"#, options: .regularExpression) else {
            process.terminate()
            throw ServeError(line: readinessLine)
        }
        baseURL = String(readinessLine[range])
    }

    /// The first line `handle` gives (without its newline), read on a thread of its own: a
    /// starting server can take seconds, and a blocked read must not hold a thread of the pool.
    /// Bounded: the line, the end of output or 4 KB, whichever comes first.
    package static func firstLine(of handle: FileHandle) async throws -> String {
        try await OwnThread.run {
            var line = Data()
            while line.count <= 4096 {
                let byte = handle.readData(ofLength: 1)
                if byte.isEmpty || byte == Data([0x0A]) { break }
                line.append(byte)
            }
            return String(decoding: line, as: UTF8.self)
        }
    }

    package struct ServeError: Error, CustomStringConvertible {
        package var line: String
        package var description: String { "no readiness line; got: \(line)" }
    }

    /// The server's root, where `/__emulator/` and `/healthz` live.
    package var root: String { String(baseURL.dropLast("/sandbox".count)) }

    /// The demo tenant's resource counts, from `GET {root}/__emulator/state`.
    package func counts() async throws -> [String: Int] {
        let request = HTTPClientRequest(url: root + "/__emulator/state")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let json = try JSONValue.parse(Array(buffer: try await response.body.collect(upTo: 1 << 20)))
        let tenant = json["tenants"]?.arrayValue?.first
        var counts: [String: Int] = [:]
        for key in ["users", "virtual_accounts", "recipients", "payouts", "deposits"] { counts[key] = tenant?[key]?.intValue }
        return counts
    }

    /// `GET path` as the demo tenant (authenticates first).
    package func get(_ path: String) async throws -> JSONValue {
        let demo = TenantCredentials.demo
        var auth = HTTPClientRequest(url: baseURL + "/auth")
        auth.method = .POST
        auth.headers.add(name: "x-api-key", value: demo.apiKey)
        auth.headers.add(name: "content-type", value: "application/json")
        auth.body = .bytes(
            ByteBuffer(bytes: JSONValue.object(["client_id": .string(demo.clientID), "password": .string(demo.password)]).serialized()))
        let authResponse = try await HTTPClient.shared.execute(auth, timeout: .seconds(10))
        let token = try JSONValue.parse(Array(buffer: try await authResponse.body.collect(upTo: 1 << 20)))["data"]?["access_token"]?
            .stringValue
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "x-api-key", value: demo.apiKey)
        request.headers.add(name: "authorization", value: "Bearer \(try #require(token))")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return try JSONValue.parse(Array(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    /// Sends `signal` and waits (bounded) for the exit status; `nil` when it did not exit in time.
    @discardableResult
    package func stop(signal: Int32 = SIGTERM, timeout: Double = 10) async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
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
    package func terminate() {
        if process.isRunning { process.terminate() }
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}
