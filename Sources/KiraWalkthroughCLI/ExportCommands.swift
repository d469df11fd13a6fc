import ArgumentParser
import DurableFiles
import Exports
import Foundation
import KiraSandbox
import SessionStore
import ShippedFlows
import WalkthroughCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ExportFormat: ExpressibleByArgument {}

/// `kira-walkthrough export`: a saved session as a curl script, a HAR file or a Markdown transcript.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a session as a curl script, a HAR file or a Markdown transcript.",
        discussion: """
            curl: a bash script that performs the walkthrough again from scratch with curl and jq, reading \
            KIRA_API_KEY, KIRA_CLIENT_ID, KIRA_PASSWORD and KIRA_BASE_URL. har: every exchange of the session \
            (HAR 1.2, for browser devtools). markdown: a readable transcript. None of them holds a credential or a token.
            """
    )

    @Option(help: "curl, har or markdown.")
    var format: ExportFormat

    @OptionGroup var sessionOptions: SessionOptions

    @Option(help: "Write to this file (replaced whole) instead of standard output.")
    var output: String?

    @Option(help: "The flow the session ran: a shipped flow's name or a file (default: the session's own, else quickstart).")
    var flow: String?

    func run() throws {
        let store = sessionOptions.store
        let loaded: Session?
        do {
            loaded = try store.load(sessionOptions.session)
        } catch {
            throw CommandFailure(message: "\(error)")
        }
        guard let session = loaded else {
            throw CommandFailure(
                message:
                    "No session '\(sessionOptions.session)' in \(store.directory). Run `kira-walkthrough run` first, or name one with --session."
            )
        }
        let walkthrough =
            try flow == nil ? FlowFile.load(FlowSource.recorded(session.flowFile) ?? .default) : FlowFile.load(flow)
        guard walkthrough.id == session.flowID else {
            throw CommandFailure(
                message:
                    "Session '\(session.name)' ran flow '\(session.flowID)', but \(walkthrough.file) is flow '\(walkthrough.id)'. Name its file with --flow."
            )
        }
        // Whatever credentials this machine holds are masked too, should one have slipped in.
        let environment = ProcessInfo.processInfo.environment
        let demo = TenantCredentials.demo
        let secrets = ["KIRA_API_KEY", "KIRA_PASSWORD"].compactMap { environment[$0] } + [demo.apiKey, demo.password]
        let text = SessionExporter(flow: walkthrough, session: session, knownSecrets: secrets).export(format)
        guard let output else {
            StandardStream.output.write(text)
            return
        }
        try ExportFile.write(text, to: output, executable: format == .curl)
        printError("Wrote \(format.rawValue) export of session \(session.name) to \(output)")
    }
}

/// Writing an export: to a temporary file beside the destination, then renamed over it, so a
/// reader never sees half a file.
enum ExportFile {
    static func write(_ text: String, to path: String, executable: Bool) throws {
        let destination = URL(fileURLWithPath: path)
        let directory = destination.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: directory) else {
            throw CommandFailure(message: "Cannot write \(path): the directory \(directory) does not exist")
        }
        let temporary = directory + "/.\(destination.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8))"
        guard
            FileManager.default.createFile(
                atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: executable ? 0o755 : 0o644])
        else {
            throw CommandFailure(message: "Cannot write \(path): creating \(temporary) failed")
        }
        guard rename(temporary, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw CommandFailure(message: "Cannot write \(path): \(reason)")
        }
    }
}

/// `kira-walkthrough flows …`.
struct Flows: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Work with flow files.", subcommands: [List.self, Validate.self])

    /// `kira-walkthrough flows list`: the flows inside the binary.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the flows shipped inside the binary, with their titles and step counts.",
            discussion: "Run one with `kira-walkthrough run --flow NAME`; `--flow` also takes a flow file's path."
        )

        func run() throws {
            let names = ShippedFlows.flowNames
            let width = names.map(\.count).max() ?? 0
            for name in names {
                let flow = try FlowFile.load(name)
                let steps = "\(flow.steps.count) step\(flow.steps.count == 1 ? "" : "s")"
                printLine("\(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(flow.title) (\(steps))")
            }
        }
    }

    /// `kira-walkthrough flows validate FILE`.
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a flow file without sending anything, and print what it would send.",
            discussion: """
                Reports every problem with its file, line and column (exit code 1), in the flow and in the API \
                description it names (api:): unknown references, captures used before they are captured, waits without \
                an overall timeout, requests that break the API's rules (credentials, idempotency keys), secrets written \
                literally, quirk ids the API's catalogue does not list. A valid flow prints its plan: the requests it will send \
                in order, which are conditional, what remedies may send, and what each creates.
                """
        )

        @Argument(help: "The flow file (YAML).")
        var file: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure(message: "Cannot read the flow file \(file)")
            }
            let source = FlowSource(.file(path: file))
            let check = FlowLinter.check(
                String(decoding: data, as: UTF8.self), file: file, readFile: { source.text(relativeTo: $0) },
                readData: { source.data(relativeTo: $0) })
            guard check.isValid, let flow = check.flow else {
                for issue in check.issues { printError(issue.diagnostic) }
                printError("\(file): \(check.issues.count) problem\(check.issues.count == 1 ? "" : "s"); nothing was sent.")
                throw ExitCode(1)
            }
            printLine(FlowPlan.describe(flow))
        }
    }
}
