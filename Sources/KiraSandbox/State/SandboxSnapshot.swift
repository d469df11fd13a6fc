import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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

/// Crash-safe file replacement.
enum AtomicFile {
    struct WriteError: Error, CustomStringConvertible {
        var description: String
    }

    /// Replaces the file at `path` with `bytes` so that a crash leaves either the old or the new
    /// content, never a mix. The file is created with mode 0600.
    static func replace(_ path: String, with bytes: [UInt8]) throws {
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let temporary = "\(path).tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw WriteError(description: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if result < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(descriptor)
                unlink(temporary)
                throw WriteError(description: "cannot write \(temporary): \(reason)")
            }
            written += result
        }
        guard fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            unlink(temporary)
            throw WriteError(description: "cannot fsync \(temporary): \(reason)")
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw WriteError(description: "cannot rename \(temporary) to \(path): \(reason)")
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}
