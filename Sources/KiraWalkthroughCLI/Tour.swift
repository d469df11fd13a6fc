import ArgumentParser
import Foundation
import KiraClient
import WalkthroughCore

/// `run --tour`: the tour file beside the flow, and the targets it may run on.
enum TourFile {
    /// The tour of `flow`, read from `NAME.tour.yaml` beside the flow file `--flow` named (else
    /// beside the quickstart, where `FlowFile.load` found it).
    static func load(for flow: Flow, flowArgument: String?) throws -> Scenario {
        let flowPath =
            flowArgument.map { [$0] } ?? [
                FileManager.default.currentDirectoryPath + "/flows/quickstart.yaml",
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                    .appendingPathComponent("flows/quickstart.yaml").path,
            ]
        guard let found = flowPath.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw ValidationError("--tour: no flow file at \(flowPath.joined(separator: " or "))")
        }
        let path = Scenario.file(besideFlow: found)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("--tour: the flow '\(flow.id)' has no tour (no file \(path))")
        }
        do {
            return try Scenario.load(text, file: Scenario.file(besideFlow: flowArgument ?? "flows/quickstart.yaml"), flow: flow)
        } catch {
            throw CommandFailure(message: "The tour is not valid:\n\(error)")
        }
    }

    /// `localhost`, `::1` or `127.*`: this machine.
    static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        return bare == "localhost" || bare == "::1" || bare.hasPrefix("127.")
    }

    /// Refuses (a usage error, exit code 2) any target but this project's emulator on this
    /// machine: the tour moves the emulator's clock and plays the Kira operator.
    static func checkTarget(_ name: String) async throws {
        if name == "local" { return }
        let refusal =
            "--tour runs only on the local emulator: --target local (the default with --tour), or the URL of "
            + "`kira-walkthrough sandbox serve` on this machine. It moves the emulator's clock and plays the Kira operator, "
            + "which no real sandbox allows"
        guard name != "sandbox", let url = URL(string: name), let host = url.host, isLoopback(host) else {
            throw ValidationError("\(refusal); \(name) is not one.")
        }
        guard await EmulatorControls.isEmulator(name) else {
            throw ValidationError("\(refusal); \(name) does not answer as the emulator.")
        }
    }
}
