import Foundation
import KiraJSON
import KiraTestSupport
import SessionStore
import Testing
import WalkthroughCore

@testable import KiraSandbox

extension KiraBinary {
    /// Reads a file the shipped flows name (their API description), from `flows/`.
    static func shippedFlowFile(_ reference: String) -> String? {
        try? String(contentsOf: packageRoot.appendingPathComponent("flows").appendingPathComponent(reference), encoding: .utf8)
    }

    /// Reads the bytes of a file the shipped flows embed (their images), from `flows/`.
    static func shippedFlowData(_ reference: String) -> Data? {
        FileManager.default.contents(atPath: packageRoot.appendingPathComponent("flows").appendingPathComponent(reference).path)
    }

    /// The shipped quickstart, loaded with its API description.
    static func quickstartFlow() throws -> Flow {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("flows/quickstart.yaml"), encoding: .utf8)
        return try FlowLoader.load(text, file: "flows/quickstart.yaml", readFile: shippedFlowFile, readData: shippedFlowData)
    }

    /// The demo tenant's credentials as the `KIRA_*` variables an exported script reads.
    static func demoCredentials(baseURL: String) -> [String: String] {
        let demo = TenantCredentials.demo
        return ["KIRA_API_KEY": demo.apiKey, "KIRA_CLIENT_ID": demo.clientID, "KIRA_PASSWORD": demo.password, "KIRA_BASE_URL": baseURL]
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
        /// The versioning flow (`flows/versioning.yaml`) with its defaults.
        case versioning

        /// The shipped flow file the kind runs.
        var flowFile: String { self == .versioning ? "flows/versioning.yaml" : "flows/quickstart.yaml" }
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
        let directory = try KiraBinary.temporaryDirectory("kira-export-session")
        var environment = [
            "KIRA_API_KEY": "", "KIRA_CLIENT_ID": "", "KIRA_PASSWORD": "", "KIRA_PAYOUT_AMOUNT": "", "KIRA_DEPOSIT_AMOUNT": "",
        ]
        if kind == .payoutMinimumSearch { environment["KIRA_PAYOUT_AMOUNT"] = "1.00" }
        let run = try await KiraBinary.run(
            [
                "run", "--plain", "--yes", "--target", "local", "--state-dir", directory.path, "--va-ready-after", "0.2", "--flow",
                kind.flowFile,
            ],
            environment: environment, workingDirectory: KiraBinary.packageRoot, timeout: 180
        )
        guard run.status == 0 else { throw WalkthroughFailed(output: String(run.stdout.suffix(3000)) + run.stderr) }
        guard let session = try SessionStore(directory: directory.path).load("default") else {
            throw WalkthroughFailed(output: "no session file")
        }
        let flowText = try String(contentsOf: KiraBinary.packageRoot.appendingPathComponent(kind.flowFile), encoding: .utf8)
        let flow = try FlowLoader.load(
            flowText, file: kind.flowFile, readFile: KiraBinary.shippedFlowFile, readData: KiraBinary.shippedFlowData)
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
