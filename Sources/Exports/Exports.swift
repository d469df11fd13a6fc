import Foundation
import KiraJSON
import WalkthroughCore

/// The formats a session can be exported to.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// A bash script that performs the walkthrough again from scratch with curl and jq.
    case curl
    /// HAR 1.2: every exchange of the session, for browser devtools and HTTP tools.
    case har
    /// A readable transcript of the session, step by step.
    case markdown

    /// The usual file name extension.
    public var fileExtension: String {
        switch self {
        case .curl: "sh"
        case .har: "har"
        case .markdown: "md"
        }
    }
}

/// Turns a saved session, with the flow it ran, into one of the export formats.
///
/// Pure: text in memory, no IO. Whatever the format, the result goes through `SecretScrubber`
/// before it is returned, so a credential, a token or (in a script) an old idempotency key never
/// leaves, even if one slipped into a session.
public struct SessionExporter: Sendable {
    public var flow: Flow
    public var session: Session
    /// Secret values the caller knows (credentials from the environment), masked wherever they appear.
    public var knownSecrets: [String]
    /// When the export is made (the script's header says so).
    public var generatedAt: Date

    public init(flow: Flow, session: Session, knownSecrets: [String] = [], generatedAt: Date = Date()) {
        self.flow = flow
        self.session = session
        self.knownSecrets = knownSecrets
        self.generatedAt = generatedAt
    }

    /// The session in `format`.
    public func export(_ format: ExportFormat) -> String {
        switch format {
        case .curl:
            // A script makes fresh keys: the old ones must not be replayed, so they are masked too.
            let scrubber = SecretScrubber(knownSecrets: knownSecrets + session.idempotencyKeys.values)
            return scrubber.scrub(CurlScript(flow: flow, session: session, generatedAt: generatedAt).text)
        case .har:
            let scrubber = SecretScrubber(knownSecrets: knownSecrets)
            return scrubber.scrub(HTTPArchive(session: session, scrubber: scrubber).json.text(.pretty)) + "\n"
        case .markdown:
            let scrubber = SecretScrubber(knownSecrets: knownSecrets)
            return scrubber.scrub(Transcript(flow: flow, session: session, scrubber: scrubber).text)
        }
    }
}
