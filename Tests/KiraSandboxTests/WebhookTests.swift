import Crypto
import Foundation
import KiraJSON
import KiraTestSupport
import Testing

@testable import KiraSandbox

/// Webhooks: registration, signed single-attempt delivery, the delivery log.
@Suite struct WebhookTests {
    /// The documented scheme, computed independently of the emulator: hex HMAC-SHA256 of the raw body.
    static func expectedSignature(_ body: [UInt8], secret: String) -> String {
        HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// The delivery log's entry for `event` once `isDone` holds for it, polled for up to 10 s;
    /// `nil` when it never did.
    static func delivery(of event: String, in sandbox: LiveSandbox, _ isDone: (JSONValue) -> Bool) async -> JSONValue? {
        let deadline = ContinuousClock.now + .seconds(30)  // generous: see `WebhookReceiver.waitFor`
        while ContinuousClock.now < deadline {
            let log = (try? await sandbox.control("GET", "webhooks").json["deliveries"]?.arrayValue) ?? []
            if let entry = log.first(where: { $0["event"]?.stringValue == event }), isDone(entry) { return entry }
            try? await TestThreads.sleep(for: .milliseconds(20))
        }
        return nil
    }

    @Test func depositWebhookArrivesSignedWithTheRegisteredSecret() async throws {
        try await WebhookReceiver.with { receiver, url in
            try await LiveSandbox.with(on: .timing) { sandbox in
                let client = try await sandbox.client()
                let registered = try await client.post(
                    "/webhooks/register",
                    ["client_uuid": .string(sandbox.demo.clientID), "webhook_url": .string(url), "secret": "s3cret-for-tests"]
                )
                #expect(registered.status == 200)
                #expect(registered.json == ["message": "Webhook registered successfully"])
                let (_, account) = try await client.readyAccount()
                let deposit = try await client.post("/v1/virtual-accounts/\(account)/simulate-deposit", ["amount": "100.00"])
                let received = try #require(try await receiver.waitFor("virtual_account.deposit_funds_received"))
                #expect(received.signature == Self.expectedSignature(received.body, secret: "s3cret-for-tests"))
                let data = try #require(received.json["data"])
                #expect(data["deposit_id"] == deposit.json["deposit_id"])
                #expect(data["virtual_account_id"]?.stringValue == account)
                #expect(data["amount"] == "100.00")
                #expect(data["event_id"]?.stringValue?.hasPrefix("evt_") == true)
                #expect(data["source"]?.objectValue != nil)
                // The log records the delivery and its outcome (once the delivery has finished).
                let entry = try #require(
                    await Self.delivery(of: "virtual_account.deposit_funds_received", in: sandbox) { $0["outcome"] != "pending" })
                #expect(entry["outcome"] == "delivered")
                #expect(entry["response_status"] == 200)
                #expect(entry["attempts"] == 1)
            }
        }
    }

    @Test func withoutASecretTheTenantSecretSigns() async throws {
        try await WebhookReceiver.with { receiver, url in
            try await LiveSandbox.with(on: .timing) { sandbox in
                let client = try await sandbox.client()
                _ = try await client.post(
                    "/webhooks/register", ["client_uuid": .string(sandbox.demo.clientID), "webhook_url": .string(url)])
                _ = try await client.createUser()
                let received = try #require(try await receiver.waitFor("user.created"))
                #expect(received.signature == Self.expectedSignature(received.body, secret: sandbox.demo.webhookSecret))
            }
        }
    }

    @Test func aFailedDeliveryIsNotRetried() async throws {
        try await WebhookReceiver.with { receiver, url in
            await receiver.setStatus(500)
            try await LiveSandbox.with(on: .timing) { sandbox in
                let client = try await sandbox.client()
                _ = try await client.post(
                    "/webhooks/register", ["client_uuid": .string(sandbox.demo.clientID), "webhook_url": .string(url)])
                _ = try await client.createUser()
                _ = try #require(try await receiver.waitFor("user.created"))
                // Once the delivery is over (logged as failed), it was made once and is not retried.
                let entry = try #require(await Self.delivery(of: "user.created", in: sandbox) { $0["outcome"] == "failed" })
                #expect(entry["attempts"] == 1)
                #expect(await receiver.received.filter { $0.event == "user.created" }.count == 1)
            }
        }
    }

    @Test func timeBasedEventsLeaveWithoutARequest() async throws {
        try await WebhookReceiver.with { receiver, url in
            try await LiveSandbox.with(SandboxConfiguration(autoVerifyAfter: .zero), clock: .system, on: .timing) { sandbox in
                let client = try await sandbox.client()
                _ = try await client.post(
                    "/webhooks/register", ["client_uuid": .string(sandbox.demo.clientID), "webhook_url": .string(url)])
                _ = try await client.createUser()
                // No further request: the ticker applies the transition and sends the event.
                #expect(try await receiver.waitFor("user.verification.accepted") != nil)
            }
        }
    }

    @Test func deliveriesArriveInEmissionOrder() async throws {
        try await WebhookReceiver.with { receiver, url in
            try await LiveSandbox.with(on: .timing) { sandbox in
                let client = try await sandbox.client()
                _ = try await client.post(
                    "/webhooks/register", ["client_uuid": .string(sandbox.demo.clientID), "webhook_url": .string(url)])
                let (user, account) = try await client.readyAccount()
                let recipient = try await client.recipient(user: user)
                _ = try await client.post(
                    "/v1/virtual-accounts/\(account)/payout", ["recipient_id": .string(recipient), "amount": "50.00"], key: newKey()
                )
                try await sandbox.advance(60)
                _ = try #require(try await receiver.waitFor("payout.completed"))
                let sequence = await receiver.received.compactMap(\.event)
                let expected = [
                    "user.created", "user.verification.accepted", "virtual_account.created", "virtual_account.activated",
                    "payout.created", "payout.status_changed", "payout.status_changed", "payout.status_changed", "payout.completed",
                ]
                #expect(sequence == expected)
            }
        }
    }

    @Test func registrationIsValidated() async throws {
        try await LiveSandbox.with(on: .timing) { sandbox in
            let client = try await sandbox.client()
            let otherClient = try await client.post(
                "/webhooks/register", ["client_uuid": .string(newKey()), "webhook_url": "https://example.com/hook"]
            )
            #expect(otherClient.status == 403)
            let badURL = try await client.post(
                "/webhooks/register", ["client_uuid": .string(sandbox.demo.clientID), "webhook_url": "ftp://example.com"]
            )
            #expect(badURL.status == 400)
            let noBearer = try await sandbox.raw(
                "POST", "/webhooks/register", headers: [("x-api-key", sandbox.demo.apiKey)], body: Array("{}".utf8))
            #expect(noBearer.status == 401)
        }
    }

    @Test func theLogKeepsTheLastN() async throws {
        try await LiveSandbox.with(SandboxConfiguration(webhookLogLimit: 3), on: .timing) { sandbox in
            let client = try await sandbox.client()
            for _ in 0..<5 { _ = try await client.createUser() }
            let log = try await sandbox.control("GET", "webhooks").json["deliveries"]?.arrayValue ?? []
            #expect(log.count == 3)
            #expect(log.compactMap { $0["sequence"]?.intValue } == [3, 4, 5])
            #expect(log.allSatisfy { $0["outcome"] == "not_registered" })
        }
    }
}

extension WebhookReceiver {
    func setStatus(_ status: Int) { self.status = status }
}
