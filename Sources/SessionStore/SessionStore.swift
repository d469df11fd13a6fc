import DurableFiles
import Foundation
import KiraJSON
import WalkthroughCore

/// Why a session file cannot be used. The file is left untouched.
public struct SessionFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "Session file \(path) \(reason)" }
}

/// A session's file in a few words, for `sessions`.
public struct SessionSummary: Sendable {
    public var name: String
    public var path: String
    public var updatedAt: Date?
    public var target: String?
    public var finishedSteps: Int
    public var totalSteps: Int
    public var complete: Bool
    /// Why it could not be read, when it could not.
    public var problem: String?
}

/// Session files under a state directory: one JSON file per session, written atomically with
/// mode 0600, guarded by a lock so two runners never share a session.
public struct SessionStore: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// `--state-dir`, else `KIRA_WALKTHROUGH_STATE_DIR`, else `$XDG_STATE_HOME/kira-walkthrough`,
    /// else `~/.local/state/kira-walkthrough`.
    public static func directory(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let configured = environment["KIRA_WALKTHROUGH_STATE_DIR"], !configured.isEmpty { return configured }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/kira-walkthrough" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/kira-walkthrough"
    }

    /// Session names are file names: letters, digits, `.`, `_`, `-`. A name may not end in
    /// `.emulator`: `NAME.emulator.json` is where session `NAME` keeps its emulator's state.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 100 && !name.hasPrefix(".") && !name.hasSuffix(".emulator")
            && name.allSatisfy { ($0.isLetter || $0.isNumber) && $0.isASCII || $0 == "." || $0 == "_" || $0 == "-" }
    }

    public func path(for name: String) -> String { "\(directory)/\(name).json" }

    /// Where the embedded emulator of a local session keeps its state.
    public func emulatorStatePath(for name: String) -> String { "\(directory)/\(name).emulator.json" }

    func lockPath(for name: String) -> String { "\(directory)/\(name).lock" }

    /// Creates the directory (mode 0700) when missing.
    public func prepare() throws {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw SessionFileError(path: directory, reason: "cannot be created: \(error.localizedDescription)")
        }
    }

    /// Takes the session's lock; another live runner on it is a clear error.
    public func lock(_ name: String) throws -> FileLock {
        try prepare()
        do {
            let lock = try FileLock(path: lockPath(for: name))
            removeInterruptedSaves(of: name)
            return lock
        } catch .held(_, let pid) {
            throw SessionFileError(
                path: path(for: name),
                reason: "is in use by another kira-walkthrough\(pid.map { " (pid \($0))" } ?? ""). "
                    + "Finish or stop that one first, or use another --session NAME."
            )
        } catch {
            throw SessionFileError(path: lockPath(for: name), reason: "\(error)")
        }
    }

    /// Deletes `NAME.json.tmp-PID` files: the temporary files of saves that were killed between
    /// creating them and renaming them over `NAME.json` (`AtomicFile`). Only called with the
    /// session's lock held, so no live save of this session can own one.
    func removeInterruptedSaves(of name: String) {
        let prefix = "\(name).json.tmp-"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for file in files where file.hasPrefix(prefix) {
            let pid = file.dropFirst(prefix.count)
            guard !pid.isEmpty, pid.allSatisfy(\.isASCII), pid.allSatisfy(\.isNumber) else { continue }
            try? FileManager.default.removeItem(atPath: "\(directory)/\(file)")
        }
    }

    /// The session, or `nil` when there is none yet.
    public func load(_ name: String) throws -> Session? {
        let path = path(for: name)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SessionFileError(path: path, reason: "cannot be read")
        }
        guard let json = try? JSONValue.parse(data), let schema = json["schema_version"]?.intValue else {
            throw SessionFileError(
                path: path,
                reason:
                    "is not a readable session (corrupt or not JSON); it was left untouched. Move it away or run `kira-walkthrough reset --session \(name)`."
            )
        }
        guard schema <= Session.currentSchema else {
            throw SessionFileError(
                path: path,
                reason:
                    "was written by a newer kira-walkthrough (schema \(schema), this one reads \(Session.currentSchema)); it was left untouched."
            )
        }
        do {
            var session = try Self.decoder.decode(Session.self, from: json)
            // The file's name is the session's name: a copied file (`cp a.json b.json`) is saved as b.
            session.name = name
            return session
        } catch {
            throw SessionFileError(path: path, reason: "is corrupt (\(error)); it was left untouched.")
        }
    }

    /// Writes the session atomically (temporary file, fsync, rename, fsync of the directory), as
    /// indented JSON in the session's own key order, response bodies with their number text.
    public func save(_ session: Session) throws {
        // `prepare()` (FileManager's createDirectory with attributes) costs more than a stat; a
        // save after the first finds the directory there.
        var status = stat()
        if stat(directory, &status) != 0 || (status.st_mode & S_IFMT) != S_IFDIR { try prepare() }
        try AtomicFile.replace(path(for: session.name), with: Self.serialized(session))
    }

    /// The bytes of a session file.
    public static func serialized(_ session: Session) throws -> [UInt8] {
        try encoder.encode(session).serialized(.pretty) + [UInt8(ascii: "\n")]
    }

    /// Every session in the directory.
    public func list() -> [SessionSummary] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.filter { $0.hasSuffix(".json") && !$0.hasSuffix(".emulator.json") }.sorted().map { file in
            let name = String(file.dropLast(".json".count))
            do {
                guard let session = try load(name) else {
                    return SessionSummary(
                        name: name, path: path(for: name), finishedSteps: 0, totalSteps: 0, complete: false, problem: "missing")
                }
                return SessionSummary(
                    name: name, path: path(for: name), updatedAt: session.updatedAt,
                    target: session.target.kind == "local" ? "local emulator" : session.target.baseURL,
                    finishedSteps: session.steps.filter { $0.state.isFinal }.count, totalSteps: session.steps.count,
                    complete: session.isComplete, problem: nil
                )
            } catch {
                return SessionSummary(
                    name: name, path: path(for: name), finishedSteps: 0, totalSteps: 0, complete: false, problem: "\(error)")
            }
        }
    }

    /// Moves the session (and a local emulator's state) aside as a timestamped backup; returns
    /// the backup paths.
    public func reset(_ name: String, now: Date = Date()) throws -> [String] {
        var moved: [String] = []
        let stamp = Self.stamp(now)
        for source in [path(for: name), emulatorStatePath(for: name)] where FileManager.default.fileExists(atPath: source) {
            // Two resets within one second keep both backups.
            var backup = "\(source).bak-\(stamp)"
            var counter = 2
            while FileManager.default.fileExists(atPath: backup) {
                backup = "\(source).bak-\(stamp)-\(counter)"
                counter += 1
            }
            do {
                try FileManager.default.moveItem(atPath: source, toPath: backup)
            } catch {
                throw SessionFileError(path: source, reason: "cannot be moved to \(backup): \(error.localizedDescription)")
            }
            moved.append(backup)
        }
        return moved
    }

    static func stamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    /// Dates as ISO 8601 text in UTC, to the second: what `JSONEncoder`'s `.iso8601` wrote, which
    /// files from earlier versions hold.
    static let encoder = JSONValueEncoder { value in
        // The encoder asks about every value of the session: compare the type before casting (a
        // dynamic cast on each of them showed in the save's profile).
        guard ObjectIdentifier(type(of: value)) == ObjectIdentifier(Date.self), let date = value as? Date else { return nil }
        return .string(date.formatted(.iso8601))
    }

    /// Reads what `encoder` writes, and files written by earlier versions.
    static let decoder = JSONValueDecoder { type, json, path in
        guard type == Date.self else { return nil }
        guard let text = json.stringValue, let date = try? Date.ISO8601FormatStyle().parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "Expected an ISO 8601 date, found \(json)"))
        }
        return date
    }
}
