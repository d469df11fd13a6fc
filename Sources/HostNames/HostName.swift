/// What a host name or address, as it appears in a URL or a `--host` option, says about where it is.
public enum HostName {
    /// `localhost`, `::1` (bracketed or not), or an IPv4 address in 127.0.0.0/8: four numeric parts
    /// of at most 255, not a name that merely starts with "127.".
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && (Int(part) ?? 256) <= 255
        }
    }
}
