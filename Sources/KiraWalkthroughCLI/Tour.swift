import ArgumentParser
import Foundation
import HostNames
import KiraClient
import ShippedFlows
import WalkthroughCore

/// `run --tour`: the tour file beside the flow, and the targets it may run on.
enum TourFile {
    /// The tour of `flow`, read from `NAME.tour.yaml` beside the flow file `--flow` named (else
    /// beside the quickstart, where `FlowFile.load` found it).
    static func load(for flow: Flow, flowArgument: String?) throws -> Scenario {
        let source: FlowSource
        do {
            source = try FlowSource.resolve(flowArgument)
        } catch {
            throw ValidationError("--tour: \(error.description)")
        }
        let tourFile = Scenario.file(besideFlow: source.label)
        let reference = URL(fileURLWithPath: tourFile).lastPathComponent
        guard let text = source.text(relativeTo: reference) else {
            throw ValidationError("--tour: the flow '\(flow.id)' has no tour (no file \(tourFile))")
        }
        do {
            return try Scenario.load(text, file: tourFile, flow: flow)
        } catch {
            throw CommandFailure(message: "The tour is not valid:\n\(error)")
        }
    }

    /// Refuses (a usage error, exit code 2) any target but this project's emulator on this
    /// machine: the tour moves the emulator's clock and plays the Kira operator.
    static func checkTarget(_ name: String) async throws {
        if name == "local" { return }
        let refusal =
            "--tour runs only on the local emulator: --target local (the default with --tour), or the URL of "
            + "`kira-walkthrough sandbox serve` on this machine. It moves the emulator's clock and plays the Kira operator, "
            + "which no real sandbox allows"
        guard name != "sandbox", let url = URL(string: name), let host = url.host, HostName.isLoopback(host) else {
            throw ValidationError("\(refusal); \(name) is not one.")
        }
        guard await EmulatorControls.isEmulator(name) else {
            throw ValidationError("\(refusal); \(name) does not answer as the emulator.")
        }
    }
}
