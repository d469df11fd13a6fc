import DurableFiles
import Foundation
import KiraJSON

/// Why the state file could not be used.
public struct SandboxStateFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "Emulator state file \(path): \(reason)" }
}

/// What `--state-file` holds: every tenant's resources and the pending transitions. Never
/// credentials, tokens or webhook secrets.
struct SandboxSnapshot: Codable, Sendable {
    static let currentSchema = 1

    var schemaVersion = SandboxSnapshot.currentSchema
    var tenants: [String: TenantResources]
    var schedule: [ScheduledTransition]
    var savedAt: Date

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case tenants, schedule
        case savedAt = "saved_at"
    }

    init(tenants: [String: TenantResources], schedule: [ScheduledTransition], savedAt: Date) {
        self.tenants = tenants
        self.schedule = schedule
        self.savedAt = savedAt
    }

    /// Reads the file at `path`; `nil` when there is none yet.
    static func load(from path: String) throws(SandboxStateFileError) -> SandboxSnapshot? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SandboxStateFileError(path: path, reason: "cannot be read")
        }
        guard let json = try? JSONValue.parse(data), let schema = json["schema_version"]?.intValue else {
            throw SandboxStateFileError(path: path, reason: "is not an emulator state file (no schema_version); it was left untouched")
        }
        guard schema <= currentSchema else {
            throw SandboxStateFileError(
                path: path, reason: "was written by a newer emulator (schema \(schema) > \(currentSchema)); it was left untouched"
            )
        }
        do {
            return try decoder.decode(SandboxSnapshot.self, from: json)
        } catch {
            throw SandboxStateFileError(path: path, reason: "is corrupt (\(error)); it was left untouched")
        }
    }

    /// Writes atomically: a temporary file, fsync, rename, fsync of the directory.
    func save(to path: String) throws {
        try AtomicFile.replace(path, with: serialized())
    }

    /// The file's bytes: compact JSON, keys in the order the records declare them, stored request
    /// bodies with their own order and number text.
    func serialized() throws -> [UInt8] {
        try Self.encoder.encode(self).serialized()
    }

    /// Dates as seconds since 1970, a JSON number: what `JSONEncoder`'s `.secondsSince1970` wrote,
    /// which files from earlier versions hold.
    static let encoder = JSONValueEncoder { value in
        guard let date = value as? Date else { return nil }
        var text = date.timeIntervalSince1970.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        return .number(text)
    }

    /// Reads what `encoder` writes, and files written by earlier versions.
    static let decoder = JSONValueDecoder { type, json, path in
        guard type == Date.self else { return nil }
        guard let seconds = json.doubleValue else {
            throw DecodingError.typeMismatch(
                Date.self, .init(codingPath: path, debugDescription: "Expected seconds since 1970, found \(json)"))
        }
        return Date(timeIntervalSince1970: seconds)
    }
}
