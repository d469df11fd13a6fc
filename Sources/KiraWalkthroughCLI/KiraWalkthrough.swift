import ArgumentParser
import DurableFiles
import Foundation
import Logging
import WalkthroughPresentation

/// Runs the command and maps outcomes to the documented exit codes: 0 complete, 1 error,
/// 2 usage, 3 blocked on something only a person can do.
@main
enum Main {
    static func main() async {
        do {
            var command = try KiraWalkthrough.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            printError("kira-walkthrough: \(failure.message)")
            exit(1)
        } catch {
            let code = KiraWalkthrough.exitCode(for: error)
            let message = KiraWalkthrough.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { printLine(message) }
                exit(0)
            }
            if !message.isEmpty { printError(message) }
            // ArgumentParser says 64 for usage errors; this project says 2.
            exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

/// The `kira-walkthrough` command: the walkthrough itself and the local sandbox emulator.
struct KiraWalkthrough: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kira-walkthrough",
        abstract: "Walks you through the Kira sandbox quickstart, one step at a time.",
        discussion: """
            With no credentials in the environment it targets a local emulator of the Kira sandbox, \
            so you can try every step without an account.
            """,
        subcommands: [Run.self, Status.self, Sessions.self, Reset.self, Export.self, Flows.self, Sandbox.self, Drift.self, CoachCommand.self],
        defaultSubcommand: Run.self
    )
}

/// Routes swift-log to standard error so standard output stays for the program's own lines.
enum LogSetup {
    static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Whether this process's locale shows UTF-8. Under another (`LANG=C`, or none), everything the
/// commands print for a person is folded to ASCII (`ASCIIText`); exports are files, written as is.
let consoleIsUTF8 = ASCIIText.localeIsUTF8(environment: ProcessInfo.processInfo.environment)

/// `text` as the console can show it.
func consoleText(_ text: String) -> String { consoleIsUTF8 ? text : ASCIIText.fold(text) }

/// Writes `text` (a prompt, no line feed) to standard output, as the console can show it.
func printPrompt(_ text: String) {
    StandardStream.output.write(consoleText(text))
}

/// Prints a line to standard output and flushes it, so that a pipe sees it at once.
func printLine(_ line: String) {
    StandardStream.output.write(consoleText(line) + "\n")
}

/// Prints lines to standard output in one write (a follower that prints many at a time).
func printLines(_ lines: [String]) {
    StandardStream.output.write(consoleText(lines.joined(separator: "\n")) + "\n")
}

/// Prints a line to standard error.
func printError(_ line: String) {
    StandardStream.error.write(consoleText(line) + "\n")
}
