import WalkthroughCore

/// The formats a session can be exported to.
public enum ExportFormat: String, CaseIterable, Sendable {
    case curl, har, markdown
}
