import Foundation
import KiraJSON
import KiraTestSupport

@testable import KiraSandbox

// The emulator on a loopback port, `Reply`, `APIClient` and `Fixtures` live in KiraTestSupport.

extension SandboxState {
    /// `SandboxState.handle` for in-process router tests.
    func call(
        _ method: String, _ path: String, headers: [String: String] = [:], body: JSONValue? = nil, query: [String: String] = [:]
    ) -> SandboxResponse {
        var all = headers
        if body != nil, all["content-type"] == nil { all["content-type"] = "application/json" }
        return handle(SandboxRequest(method: method, path: path, query: query, headers: all, body: body?.serialized() ?? [])).response
    }
}

extension SandboxResponse {
    var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
}
