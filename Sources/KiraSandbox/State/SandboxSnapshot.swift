import DurableFiles
import Foundation

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
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        struct Header: Decodable {
            var schema_version: Int?
        }
        guard let header = try? decoder.decode(Header.self, from: data), let schema = header.schema_version else {
            throw SandboxStateFileError(path: path, reason: "is not an emulator state file (no schema_version); it was left untouched")
        }
        guard schema <= currentSchema else {
            throw SandboxStateFileError(
                path: path, reason: "was written by a newer emulator (schema \(schema) > \(currentSchema)); it was left untouched"
            )
        }
        do {
            return try decoder.decode(SandboxSnapshot.self, from: data)
        } catch {
            throw SandboxStateFileError(path: path, reason: "is corrupt (\(error)); it was left untouched")
        }
    }

    /// Writes atomically: a temporary file, fsync, rename, fsync of the directory.
    func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.replace(path, with: Array(try encoder.encode(self)))
    }
}
