import Testing

@testable import KiraClient

@Suite struct KiraClientBasics {
    @Test func plainHTTPIsOnlyForLoopback() {
        #expect(throws: KiraClientError.self) {
            _ = try KiraAPIClient(baseURL: "http://api.example.com/sandbox", apiVersion: "2026-04-14", apiKey: "k", clientID: "c", password: "p")
        }
    }
}
