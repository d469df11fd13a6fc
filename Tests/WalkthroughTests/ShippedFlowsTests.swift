import Foundation
import ShippedFlows
import Testing
import WalkthroughCore

/// The flows inside the binary, and how a flow's own references are found.
@Suite struct ShippedFlowsTests {
    /// Every file under `flows/` (hidden ones aside), relative to it.
    static func filesInTheRepository() -> [String] {
        let root = packageRoot.appendingPathComponent("flows").path
        let all = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
        return all.filter { path in
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory)
            return !isDirectory.boolValue && !path.split(separator: "/").contains { $0.hasPrefix(".") }
        }.sorted()
    }

    @Test func everyFileUnderFlowsIsShippedByteForByte() throws {
        let files = Self.filesInTheRepository()
        #expect(files.contains("quickstart.yaml") && files.contains("kira-api.yaml"))
        #expect(ShippedFlows.paths == files)
        for file in files {
            let onDisk = try Data(contentsOf: packageRoot.appendingPathComponent("flows").appendingPathComponent(file))
            #expect(ShippedFlows.data(file) == onDisk, "\(file) differs from the repository's")
        }
    }

    @Test func theFlowsAreTheYAMLFilesWithSteps() {
        #expect(ShippedFlows.flowNames.contains("quickstart"))
        #expect(!ShippedFlows.flowNames.contains("kira-api"), "an API description is not a flow")
    }

    @Test func aShippedFlowIsFoundByNameAndItsAPIDescriptionInsideTheBinary() throws {
        let source = try FlowSource.resolve("quickstart")
        #expect(source == FlowSource(.shipped(path: "quickstart.yaml")))
        #expect(try FlowSource.resolve(nil) == source, "the default flow is the quickstart")
        let flow = try source.load()
        #expect(flow.id == "quickstart")
        #expect(flow.file == "flows/quickstart.yaml")
        #expect(flow.api.file == "kira-api.yaml" || flow.api.file.hasSuffix("kira-api.yaml"), "\(flow.api.file)")
        #expect(!flow.api.quirks.isEmpty, "the catalogue came from the embedded kira-api.yaml")
        #expect(source.data(relativeTo: "kira-api.yaml") == ShippedFlows.data("kira-api.yaml"))
        // Relative references stay inside the embedded set.
        #expect(source.data(relativeTo: "./sub/../kira-api.yaml") == ShippedFlows.data("kira-api.yaml"))
        #expect(source.data(relativeTo: "../Package.swift") == nil)
        #expect(source.data(relativeTo: "/etc/passwd") == nil)
        #expect(source.data(relativeTo: "images/none-such.png") == nil)
    }

    @Test func aFlowGivenByPathReadsItsReferencesBesideItsFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kira-flow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("images"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let flowPath = directory.appendingPathComponent("mine.yaml").path
        try Data(contentsOf: packageRoot.appendingPathComponent("flows/quickstart.yaml")).write(to: URL(fileURLWithPath: flowPath))
        // An API description beside the copy that differs from the shipped one: the copy's is read.
        let api = try String(contentsOf: packageRoot.appendingPathComponent("flows/kira-api.yaml"), encoding: .utf8)
        try (api + "\n# the copy beside mine.yaml\n").write(
            to: directory.appendingPathComponent("kira-api.yaml"), atomically: true, encoding: .utf8)
        let image = Data([0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF])
        try image.write(to: directory.appendingPathComponent("images/step.png"))
        // The images the quickstart's bodies embed, copied beside it as a user's copy would have them.
        for name in ["specimen-passport.jpg", "specimen-utility-bill.png"] {
            try FileManager.default.copyItem(
                at: packageRoot.appendingPathComponent("flows/images/\(name)"), to: directory.appendingPathComponent("images/\(name)"))
        }

        let source = try FlowSource.resolve(flowPath)
        #expect(source == FlowSource(.file(path: flowPath)))
        #expect(source.text(relativeTo: "kira-api.yaml")?.hasSuffix("# the copy beside mine.yaml\n") == true)
        #expect(source.data(relativeTo: "images/step.png") == image)
        #expect(try source.load().file == flowPath)
    }

    @Test func anUnknownNameOrAMissingFileIsExplained() {
        let name = #expect(throws: FlowSource.NotFound.self) { try FlowSource.resolve("no-such-flow") }
        #expect(name?.description.contains("No shipped flow named 'no-such-flow'") == true)
        #expect(name?.description.contains("quickstart") == true, "the shipped flows are named")
        let file = #expect(throws: FlowSource.NotFound.self) { try FlowSource.resolve("missing/flow.yaml") }
        #expect(file?.description == "No flow file at missing/flow.yaml")
    }

    @Test func aSessionsRecordedFlowFileFindsTheShippedFlow() {
        #expect(FlowSource.recorded("flows/quickstart.yaml") == FlowSource(.shipped(path: "quickstart.yaml")))
        #expect(FlowSource.recorded("flows/kira-api.yaml") != FlowSource(.shipped(path: "kira-api.yaml")), "not a shipped flow")
        #expect(FlowSource.recorded("/nonexistent/flow.yaml") == nil)
    }
}
