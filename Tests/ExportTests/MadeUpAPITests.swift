import Foundation
import KiraTestSupport
import Testing
import WalkthroughCore

@testable import Exports

/// A flow for an API that is not Kira's (`Tests/Fixtures/made-up-api`: a bakery) validates, plans
/// and exports from its own description alone: no Kira path, quirk or text is involved.
@Suite struct MadeUpAPITests {
    static let fixtures = KiraBinary.packageRoot.appendingPathComponent("Tests/Fixtures/made-up-api")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    }

    /// What only Kira's description or the quickstart would bring in.
    static let kiraWords = ["/v1", "/auth", "Q-IDEMPOTENCY", "Q-AUTH-HEADERS", "webhooks/register", "virtual account", "a user"]

    func check(_ flow: String, api: String) -> FlowCheck {
        FlowLinter.check(flow, file: "bakery.yaml") { $0 == "bakery-api.yaml" ? api : nil }
    }

    @Test func theBakeryFlowValidatesAndPlansFromItsOwnDescription() async throws {
        let run = try await KiraBinary.run(["flows", "validate", Self.fixtures.appendingPathComponent("bakery.yaml").path], timeout: 30)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        for expected in [
            "is valid: flow 'bakery' (Order a loaf), 2 steps, 3 requests",
            "1. POST /session — opens a baker's session (bakes nothing)",
            "x-api-key only (no bearer token yet)",
            "2. POST /api/orders — creates an order of bread [Idempotency-Key]",
            "then waits at most 5 s for the webhook order.baked",
            "3. POST /api/orders/{{ order_id }}/taste — tastes an order (eats nothing)",
            "(Q-WARM-OVEN)",
            "When every step goes as planned it creates: an order of bread.",
        ] {
            #expect(run.stdout.contains(expected), "\(expected)\n---\n\(run.stdout)")
        }
        for word in Self.kiraWords { #expect(!run.stdout.contains(word), "\(word) in\n\(run.stdout)") }
        // The flow takes the session call's credentials from the rules; it never wrote them.
        let flow = try #require(check(try Self.text("bakery.yaml"), api: try Self.text("bakery-api.yaml")).flow)
        #expect(flow.steps[0].requests[0].auth == .apiKey && flow.steps[0].requests[0].safeToRepeat)
        #expect(flow.api.webhookRegistration?.path == "/hooks" && flow.api.webhookRegistration?.expect == [204])
        #expect(flow.steps[1].requests[0].webhook?.quirk == "Q-WARM-OVEN")
    }

    @Test func theBakerysRulesAndCatalogueAreTheOnesEnforced() throws {
        let flow = try Self.text("bakery.yaml")
        let api = try Self.text("bakery-api.yaml")
        let unkeyed = check(flow.replacingOccurrences(of: "        idempotency: true\n", with: ""), api: api)
        #expect(
            unkeyed.issues.map(\.message) == [
                "POST /api/orders needs 'idempotency: true': the API rejects it without an Idempotency-Key (Q-ONE-LOAF)"
            ])
        // Kira's quirk ids mean nothing here.
        let kiraQuirk = check(
            flow.replacingOccurrences(of: "quirk: Q-WARM-OVEN\n          explain", with: "quirk: Q-ONE-VA\n          explain"), api: api)
        #expect(
            kiraQuirk.issues.count == 1 && kiraQuirk.issues.first?.message.contains("Unknown quirk id 'Q-ONE-VA'") == true,
            "\(kiraQuirk.issues)")
        #expect(kiraQuirk.issues.first?.message.contains("bakery-api.yaml") == true)
        // A misspelt one of its own is suggested.
        #expect(flow.hasSuffix("quirk: Q-WARM-OVEN\n"), "the fixture ends with the taste's wait")
        let misspelt = check(String(flow.dropLast("Q-WARM-OVEN\n".count)) + "Q-WARM-OVN\n", api: api)
        #expect(misspelt.issues.first?.message.contains("did you mean 'Q-WARM-OVEN'") == true, "\(misspelt.issues)")
        // The curl export reads the same description.
        let loaded = try #require(check(flow, api: api).flow)
        let session = Session(
            name: "bakery", flow: loaded, target: SessionTarget(kind: "url", baseURL: "https://bakery.example", isEmulator: false),
            now: Date())
        let script = SessionExporter(flow: loaded, session: session).export(.curl)
        #expect(script.contains("creates an order of bread"))
        #expect(script.contains("(Q-ONE-LOAF)"))
        #expect(script.contains("SAFE_TO_REPEAT=yes send_request POST \"/session\" api_key"), "the session call is retried like a GET")
        for word in ["Q-IDEMPOTENCY", "Q-AUTH-HEADERS", "/v1", "webhooks/register"] { #expect(!script.contains(word), "\(word)") }
    }

    @Test func problemsInTheDescriptionAreReportedAtTheirFileLineAndColumn() async throws {
        let directory = try KiraBinary.temporaryDirectory("made-up-api")
        try Data(try Self.text("bakery.yaml").utf8).write(to: directory.appendingPathComponent("bakery.yaml"))
        let broken = try Self.text("bakery-api.yaml").replacingOccurrences(
            of: "match: POST /api/orders\n", with: "match: BAKE /api/orders\n")
        let api = directory.appendingPathComponent("bakery-api.yaml")
        try Data(broken.utf8).write(to: api)
        let lines = broken.components(separatedBy: "\n")
        let line = try #require(lines.firstIndex { $0.contains("BAKE /api/orders") }) + 1
        let column = try #require(lines[line - 1].range(of: "BAKE")).lowerBound.utf16Offset(in: lines[line - 1]) + 1
        let run = try await KiraBinary.run(["flows", "validate", directory.appendingPathComponent("bakery.yaml").path], timeout: 30)
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        let prefix = "\(api.path):\(line):\(column): error: match is 'METHOD /path'"
        #expect(run.stderr.split(separator: "\n").contains { $0.hasPrefix(prefix) }, "expected \(prefix)… in:\n\(run.stderr)")
    }
}
