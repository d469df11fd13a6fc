import Foundation
import KiraJSON
import Testing

@testable import KiraSandbox

/// The emulator's state file as written through KiraJSON.
@Suite struct SnapshotFileTests {
    /// `Fixtures/emulator-schema1.json`: the state a whole quickstart left, saved by the version that
    /// wrote it with `JSONEncoder` (sorted keys, dates as seconds since 1970).
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/emulator-schema1.json")

    func temporaryCopy() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kira-snapshot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("state.json").path
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        return path
    }

    @Test func aFileWrittenByTheJSONEncoderVersionLoadsAndIsWrittenBackValueForValue() throws {
        let old = try JSONValue.parse(try Data(contentsOf: fixture))
        let snapshot = try #require(try SandboxSnapshot.load(from: try temporaryCopy()))
        #expect(snapshot.tenants.count == 1)
        #expect(snapshot.savedAt == Date(timeIntervalSince1970: try #require(old["saved_at"]?.doubleValue)))
        // Every value, date and number text included, is what the old file held; only key order differs.
        let written = try JSONValue.parse(try snapshot.serialized())
        #expect(written == old)
        #expect(written.objectValue?.keys == ["schema_version", "tenants", "schedule", "saved_at"], "the snapshot's own order, not sorted")
    }

    @Test func theEmulatorStartsFromAnOldFileAndRewritesItLoadably() throws {
        let path = try temporaryCopy()
        _ = try SandboxState(configuration: SandboxConfiguration(stateFile: path))
        let rewritten = try #require(try SandboxSnapshot.load(from: path))
        let original = try #require(try SandboxSnapshot.load(from: fixture.path))
        #expect(try JSONValue.parse(rewritten.serialized())["tenants"] == JSONValue.parse(original.serialized())["tenants"])
        #expect(try JSONValue.parse(String(contentsOfFile: path, encoding: .utf8))["schema_version"] == 1)
    }
}
