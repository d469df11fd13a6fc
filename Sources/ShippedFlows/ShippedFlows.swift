import Foundation
import WalkthroughCore

/// The flows that ship inside the binary: every file under the repository's `flows/` directory
/// (flows, the API descriptions they name, their images), embedded at build time by the
/// `EmbedFlows` plugin, so the binary needs no source tree beside it.
public enum ShippedFlows {
    /// The embedded files' paths relative to `flows/` (`quickstart.yaml`, `images/…`), sorted.
    public static var paths: [String] { encodedFiles.keys.filter { !$0.isEmpty }.sorted() }

    /// The bytes of `path` (relative to `flows/`, `..` and `.` resolved), or `nil` when no such
    /// file shipped or the path leaves `flows/`.
    public static func data(_ path: String) -> Data? {
        guard let normalized = normalize(path), !normalized.isEmpty, let encoded = encodedFiles[normalized] else { return nil }
        return Data(base64Encoded: encoded)
    }

    /// The names of the shipped flows (`quickstart` for `quickstart.yaml`): the YAML files at the
    /// top of `flows/` with a `flow:` id and steps (the others are API descriptions, tours and
    /// the coach's rules).
    public static var flowNames: [String] {
        paths.filter { !$0.contains("/") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) }.filter { path in
            let text = String(decoding: data(path) ?? Data(), as: UTF8.self)
            let lines = text.split(separator: "\n")
            return lines.contains { $0.hasPrefix("flow:") } && lines.contains { $0.hasPrefix("steps:") }
        }.map { String($0[..<$0.lastIndex(of: ".")!]) }
    }

    /// The path in `flows/` of the flow called `name`, if one shipped.
    static func path(ofFlow name: String) -> String? {
        ["\(name).yaml", "\(name).yml"].first { encodedFiles[$0] != nil && flowNames.contains(name) }
    }

    /// `path` with `.` and `..` resolved, relative to `flows/`; `nil` when it is absolute or
    /// climbs out.
    static func normalize(_ path: String) -> String? {
        guard !path.hasPrefix("/") else { return nil }
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..":
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            default: parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }
}

/// Where a flow comes from, and how files it names (its `api:` description, its images) are
/// found: inside the embedded set for a shipped flow, beside the file for a flow given by path.
///
/// `run --flow NAME|FILE` resolves its argument with `resolve(_:)`; anything that needs a file
/// the flow names reads it with `data(relativeTo:)` (bytes) or `text(relativeTo:)`.
public struct FlowSource: Sendable, Equatable {
    /// The two origins of a flow.
    public enum Origin: Sendable, Equatable {
        /// Embedded in the binary; the path is relative to `flows/` (`quickstart.yaml`).
        case shipped(path: String)
        /// A file on disk, by the path the person gave.
        case file(path: String)
    }

    /// Where this flow comes from.
    public var origin: Origin

    /// The flow's file as problems and sessions name it: `flows/quickstart.yaml` for a shipped
    /// flow (its path in the repository), the path as given for a file.
    public var label: String {
        switch origin {
        case .shipped(let path): "flows/\(path)"
        case .file(let path): path
        }
    }

    /// A source of the given origin.
    public init(_ origin: Origin) { self.origin = origin }

    /// The flow `run` takes when none is named: the shipped quickstart.
    public static var `default`: FlowSource { FlowSource(.shipped(path: "quickstart.yaml")) }

    /// Why a flow argument names no flow.
    public struct NotFound: Error, Sendable, CustomStringConvertible {
        /// What was asked for.
        public var argument: String
        /// Whether it was read as a shipped flow's name (else as a path).
        public var isName: Bool
        public var description: String {
            isName
                ? "No shipped flow named '\(argument)'. The shipped flows: \(ShippedFlows.flowNames.joined(separator: ", ")) (`kira-walkthrough flows list`); a file needs a path such as ./\(argument).yaml"
                : "No flow file at \(argument)"
        }
    }

    /// `--flow`'s argument: a shipped flow's name (no `/`, no `.yaml`/`.yml` ending, such as
    /// `quickstart`), else a path, relative to the working directory. `nil` is the default flow.
    public static func resolve(_ argument: String?) throws(NotFound) -> FlowSource {
        guard let argument else { return .default }
        let isName = !argument.contains("/") && !argument.hasSuffix(".yaml") && !argument.hasSuffix(".yml")
        if isName {
            guard let path = ShippedFlows.path(ofFlow: argument) else { throw NotFound(argument: argument, isName: true) }
            return FlowSource(.shipped(path: path))
        }
        guard FileManager.default.fileExists(atPath: argument) else { throw NotFound(argument: argument, isName: false) }
        return FlowSource(.file(path: argument))
    }

    /// The source a session recorded (`Session.flowFile`, a `label`): the shipped flow of that
    /// label, else the file if it exists, else `nil`.
    public static func recorded(_ label: String) -> FlowSource? {
        if label.hasPrefix("flows/"), let path = ShippedFlows.normalize(String(label.dropFirst("flows/".count))),
            ShippedFlows.flowNames.contains(where: { path == "\($0).yaml" || path == "\($0).yml" })
        {
            return FlowSource(.shipped(path: path))
        }
        return FileManager.default.fileExists(atPath: label) ? FlowSource(.file(path: label)) : nil
    }

    /// The flow file's own bytes, or `nil` when it cannot be read.
    public var data: Data? {
        switch origin {
        case .shipped(let path): ShippedFlows.data(path)
        case .file(let path): FileManager.default.contents(atPath: path)
        }
    }

    /// The bytes of `reference`, a path as the flow writes it (`kira-api.yaml`, `images/a.png`):
    /// relative to the flow's own directory, inside the embedded set for a shipped flow (which
    /// cannot name files outside it), on disk for a file (where an absolute path is taken as is).
    public func data(relativeTo reference: String) -> Data? {
        switch origin {
        case .shipped(let path):
            let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" : ""
            return reference.hasPrefix("/") ? nil : ShippedFlows.data(directory + reference)
        case .file(let path):
            let file =
                reference.hasPrefix("/")
                ? reference : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(reference).path
            return FileManager.default.contents(atPath: file)
        }
    }

    /// `data(relativeTo:)` as UTF-8 text (the shape `FlowLoader` and `FlowLinter` read files in).
    public func text(relativeTo reference: String) -> String? {
        data(relativeTo: reference).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Loads and validates the flow, its named files read with `text(relativeTo:)`.
    public func load() throws(FlowLoadError) -> Flow {
        let own = String(decoding: data ?? Data(), as: UTF8.self)
        return try FlowLoader.load(own, file: label, readFile: { text(relativeTo: $0) }, readData: { data(relativeTo: $0) })
    }
}
