import AsyncHTTPClient
import Foundation
import KiraJSON
import NIOCore
import NIOHTTP1
import SessionStore
import Testing
import WalkthroughCore

@testable import KiraSandbox

/// The built `kira-walkthrough` binary and other programs, run as subprocesses.
enum Binary {
    /// Where `swift build` put the binary: beside the test bundle, unless `KIRA_WALKTHROUGH_BIN` says otherwise.
    static var walkthrough: URL {
        if let override = ProcessInfo.processInfo.environment["KIRA_WALKTHROUGH_BIN"] { return URL(fileURLWithPath: override) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("kira-walkthrough")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/kira-walkthrough")
    }

    /// The package root (for the shipped flow).
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// The outcome of a run.
    struct Outcome: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `executable` to completion (bounded by `timeout`). With `cleanEnvironment`, the child sees
    /// only `environment` (plus a PATH and a HOME), never this process's variables.
    ///
    /// The waiting happens on a thread of its own: blocking one of the cooperative pool's threads
    /// (two on a 2-core machine) would starve every other test of the parallel run.
    static func run(
        _ arguments: [String], executable: URL? = nil, environment: [String: String] = [:], cleanEnvironment: Bool = false,
        workingDirectory: URL? = nil, timeout: Double = 120
    ) async throws -> Outcome {
        let executable = executable ?? walkthrough
        let (outcome, timedOut) = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(
                        returning: try runBlocking(
                            arguments, executable: executable, environment: environment, cleanEnvironment: cleanEnvironment,
                            workingDirectory: workingDirectory, timeout: timeout))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
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
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
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
    static func temporaryDirectory(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The demo tenant's credentials as the `KIRA_*` variables an exported script reads.
    static func demoCredentials(baseURL: String) -> [String: String] {
        let demo = TenantCredentials.demo
        return ["KIRA_API_KEY": demo.apiKey, "KIRA_CLIENT_ID": demo.clientID, "KIRA_PASSWORD": demo.password, "KIRA_BASE_URL": baseURL]
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
final class ServedEmulator: @unchecked Sendable {
    // Immutable after init; the process object is only touched from the test's thread.
    let process = Process()
    let baseURL: String
    private let stdout: Pipe

    init(_ arguments: [String] = []) throws {
        process.executableURL = Binary.walkthrough
        process.arguments = ["sandbox", "serve", "--port", "0"] + arguments
        stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var line = Data()
        let handle = stdout.fileHandleForReading
        // Bounded: the readiness line or end of output, whichever comes first.
        while line.count <= 4096 {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0A]) { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: #"http://127\.0\.0\.1:[0-9]+/sandbox"#, options: .regularExpression) else {
            process.terminate()
            throw ServeError(line: text)
        }
        baseURL = String(text[range])
    }

    struct ServeError: Error, CustomStringConvertible {
        var line: String
        var description: String { "no readiness line; got: \(line)" }
    }

    var root: String { String(baseURL.dropLast("/sandbox".count)) }

    /// The demo tenant's resource counts, from `GET {root}/__emulator/state`.
    func counts() async throws -> [String: Int] {
        let request = HTTPClientRequest(url: root + "/__emulator/state")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let json = try JSONValue.parse(Array(buffer: try await response.body.collect(upTo: 1 << 20)))
        let tenant = json["tenants"]?.arrayValue?.first
        var counts: [String: Int] = [:]
        for key in ["users", "virtual_accounts", "recipients", "payouts", "deposits"] { counts[key] = tenant?[key]?.intValue }
        return counts
    }

    /// `GET path` as the demo tenant (authenticates first).
    func get(_ path: String) async throws -> JSONValue {
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

    /// Stops it (SIGTERM, then bounded waiting).
    func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Sends SIGTERM without waiting (for `defer`, which cannot await).
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

/// Sessions made by actually running the walkthrough (`run --plain --yes --target local`, no
/// credentials in the environment), once per test process and kind.
actor WalkthroughSessions {
    static let shared = WalkthroughSessions()

    /// The kinds of session the tests export.
    enum Kind: Sendable, Hashable {
        /// The quickstart with its defaults.
        case standard
        /// Started with `KIRA_PAYOUT_AMOUNT=1.00`: the payout step searched for the minimum.
        case payoutMinimumSearch
    }

    /// A finished session: where it lives, and the session and flow as loaded.
    struct Made: Sendable {
        var stateDirectory: URL
        var session: Session
        var flow: Flow
    }

    private var made: [Kind: Task<Made, any Error>] = [:]

    func session(_ kind: Kind) async throws -> Made {
        if let task = made[kind] { return try await task.value }
        let task = Task { try await Self.make(kind) }
        made[kind] = task
        return try await task.value
    }

    private static func make(_ kind: Kind) async throws -> Made {
        let directory = try Binary.temporaryDirectory("kira-export-session")
        var environment = [
            "KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": "", "KIRA_PAYOUT_AMOUNT": "", "KIRA_DEPOSIT_AMOUNT": "",
        ]
        if kind == .payoutMinimumSearch { environment["KIRA_PAYOUT_AMOUNT"] = "1.00" }
        let run = try await Binary.run(
            ["run", "--plain", "--yes", "--target", "local", "--state-dir", directory.path, "--va-ready-after", "0.2"],
            environment: environment, workingDirectory: Binary.packageRoot, timeout: 180
        )
        guard run.status == 0 else { throw WalkthroughFailed(output: String(run.stdout.suffix(3000)) + run.stderr) }
        guard let session = try SessionStore(directory: directory.path).load("default") else {
            throw WalkthroughFailed(output: "no session file")
        }
        let flowText = try String(contentsOf: Binary.packageRoot.appendingPathComponent("flows/quickstart.yaml"), encoding: .utf8)
        let flow = try FlowLoader.load(flowText, file: "flows/quickstart.yaml")
        return Made(stateDirectory: directory, session: session, flow: flow)
    }

    struct WalkthroughFailed: Error, CustomStringConvertible {
        var output: String
        var description: String { "the walkthrough did not complete:\n\(output)" }
    }
}

/// What no export may contain.
enum Secrets {
    static var forbidden: [String] {
        let demo = TenantCredentials.demo
        return [demo.apiKey, demo.password, "kat_"]
    }

    /// The forbidden strings found in `text`.
    static func leaks(in text: String) -> [String] { forbidden.filter { text.contains($0) } }
}
