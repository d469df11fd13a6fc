import ArgumentParser
import Foundation
import Logging

/// The `kira-walkthrough` command: the walkthrough itself and the local sandbox emulator.
@main
struct KiraWalkthrough: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kira-walkthrough",
        abstract: "Walks you through the Kira sandbox quickstart, one step at a time.",
        discussion: """
            With no credentials in the environment it targets a local emulator of the Kira sandbox, \
            so you can try every step without an account.
            """,
        subcommands: [Run.self, Sandbox.self],
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

/// Prints a line to standard output and flushes it, so that a pipe sees it at once.
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Prints a line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
