/// The API versions the emulator knows, oldest first.
enum APIVersion: String, Codable, Sendable, CaseIterable, Comparable {
    /// What an account that never pinned gets.
    case baseline = "2025-01-01"
    /// The version the quickstart documents.
    case v20260414 = "2026-04-14"

    static func < (lhs: APIVersion, rhs: APIVersion) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
