import AsyncHTTPClient
import Coach
import Foundation
import KiraJSON
import KiraSandbox
import NIOCore
import NIOHTTP1

/// The shipped coach rules (`flows/coach.yaml`).
package func shippedCoachRules() throws -> CoachRules {
    let text = try String(contentsOf: KiraBinary.packageRoot.appendingPathComponent("flows/coach.yaml"), encoding: .utf8)
    return try CoachRules.load(text, file: "flows/coach.yaml")
}

/// `kira-walkthrough coach --plain --port 0 …` in the background: its base URL, and everything it
/// prints after the readiness line, read as it comes so the pipe never fills.
package final class ServedCoach: @unchecked Sendable {
    let process = Process()
    package let baseURL: String
    package let readinessLine: String
    private let lock = NSLock()
    private var printed = Data()

    package init(_ arguments: [String] = []) async throws {
        process.executableURL = KiraBinary.url
        process.arguments = ["coach", "--plain", "--port", "0"] + arguments
        process.environment = KiraBinary.inheritedEnvironment()
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        process.currentDirectoryURL = KiraBinary.packageRoot
        try process.run()
        let handle = stdout.fileHandleForReading
        readinessLine = try await ServedEmulator.firstLine(of: handle)
        guard let range = readinessLine.range(of: #"http://127\.0\.0\.1:[0-9]+/sandbox"#, options: .regularExpression) else {
            process.terminate()
            throw ServedEmulator.ServeError(line: readinessLine)
        }
        baseURL = String(readinessLine[range])
        let thread = Thread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                lock.withLock { printed.append(chunk) }
            }
        }
        thread.start()
    }

    /// What it printed after the readiness line, so far.
    package var output: String { lock.withLock { String(decoding: printed, as: UTF8.self) } }

    /// Waits (bounded) until its output contains `text`.
    package func waitForOutput(_ text: String, timeout: Double = 15) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if output.contains(text) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return output.contains(text)
    }

    /// `GET path` with only the demo tenant's x-api-key (no token); returns the status.
    package func getWithKeyOnly(_ path: String) async throws -> Int {
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "x-api-key", value: TenantCredentials.demo.apiKey)
        return Int(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status.code)
    }

    /// Stops it (SIGTERM).
    package func terminate() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
