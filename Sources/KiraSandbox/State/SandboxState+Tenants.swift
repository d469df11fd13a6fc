extension APIError {
    /// A call for a tenant this emulator does not have.
    static func unknownTenant(_ clientID: String) -> APIError {
        api(404, "not_found", "No tenant with client_id \(clientID)")
    }
}

extension SandboxState {
    /// The tenant `clientID`, or a 404 `not_found` when the emulator has none.
    func tenant(_ clientID: String) throws(APIError) -> Tenant {
        guard let tenant = tenants[clientID] else { throw APIError.unknownTenant(clientID) }
        return tenant
    }

    /// Changes the tenant `clientID` in place and answers what `change` answers, or throws a 404
    /// `not_found` when the emulator has no such tenant. `change` must not touch `tenants` itself.
    @discardableResult
    func withTenant<Result>(_ clientID: String, _ change: (inout Tenant) throws(APIError) -> Result) throws(APIError) -> Result {
        guard let index = tenants.index(forKey: clientID) else { throw APIError.unknownTenant(clientID) }
        return try change(&tenants.values[index])
    }
}
