import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// The state's tenant accessor: a call for a tenant the emulator does not have is a 404, never a
/// crash (the state used to force-unwrap `tenants[clientID]`).
@Suite struct TenantAccessTests {
    let stranger = "00000000-0000-4000-8000-00000000dead"

    func context(_ method: String, _ path: String, body: JSONValue? = nil) -> CallContext {
        CallContext(
            clientID: stranger, version: .baseline,
            request: SandboxRequest(
                method: method, path: path, headers: ["idempotency-key": UUID().uuidString, "content-type": "application/json"],
                body: body?.serialized() ?? []
            )
        )
    }

    /// The status `call` answered with, 0 when it succeeded.
    func status(_ call: () async throws(APIError) -> APIResult) async -> Int {
        do {
            _ = try await call()
            return 0
        } catch {
            #expect(error.body["code"] == "not_found", "\(error.body)")
            #expect(error.body["message"]?.stringValue?.contains(stranger) == true, "\(error.body)")
            return error.status
        }
    }

    @Test func handlersAnswerA404ForAnUnknownTenant() async throws {
        let state = try SandboxState(clock: .fixed(at: testEpoch))
        let id = "11111111-2222-4333-8444-555555555555"
        #expect(await status { () throws(APIError) in try await state.listUsers(context("GET", "/sandbox/v1/users")) } == 404)
        #expect(await status { () throws(APIError) in try await state.getUser(context("GET", "/sandbox/v1/users/\(id)"), id: id) } == 404)
        #expect(
            await status { () throws(APIError) in
                try await state.createUser(context("POST", "/sandbox/v1/users", body: Fixtures.completeIndividual()))
            } == 404)
        #expect(await status { () throws(APIError) in try await state.listRecipients(context("GET", "/sandbox/v1/recipients")) } == 404)
        #expect(
            await status { () throws(APIError) in try await state.getPayout(context("GET", "/sandbox/v1/payouts/\(id)"), id: id) } == 404)
        #expect(
            await status { () throws(APIError) in
                try await state.registerWebhook(
                    context(
                        "POST", "/sandbox/webhooks/register",
                        body: ["client_uuid": .string(stranger), "webhook_url": "http://127.0.0.1:9/"]))
            } == 404
        )
        #expect(await status { () throws(APIError) in .created(try await state.provision(clientID: stranger)) } == 404)
        // The configured tenant is untouched and still served.
        let summary = await state.stateSummary()
        #expect(summary["tenants"]?.arrayValue?.first?["users"] == 0)
    }

    @Test func aScheduledTransitionOfAnUnknownTenantIsDropped() async throws {
        let state = try SandboxState(clock: .fixed(at: testEpoch))
        await state.apply(ScheduledTransition(due: testEpoch, clientID: stranger, kind: .userAutoVerify, resourceID: "x"))
        #expect(await state.stateSummary()["tenants"]?.arrayValue?.count == 1)
    }
}
