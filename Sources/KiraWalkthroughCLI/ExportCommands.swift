import ArgumentParser
import Exports

/// `kira-walkthrough export`.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a session as a curl script, a HAR file or a Markdown transcript.")

    @Option(help: "curl, har or markdown.")
    var format: String

    func run() throws {
        throw CommandFailure(message: "export is being built (issue 5)")
    }
}

/// `kira-walkthrough flows …`.
struct Flows: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Work with flow files.", subcommands: [])
}
