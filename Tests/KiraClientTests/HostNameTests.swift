import HostNames
import Testing

/// `HostName.isLoopback`: the one check behind plain http in the client and an open
/// `/__emulator/` in the emulator.
@Suite struct HostNameTests {
    @Test(arguments: ["localhost", "::1", "[::1]", "127.0.0.1", "127.1.2.3", "127.255.255.255", "127.0.0.01"])
    func loopback(_ host: String) {
        #expect(HostName.isLoopback(host))
    }

    @Test(arguments: [
        "", "0.0.0.0", "10.0.0.1", "192.168.1.1", "::", "example.com", "127.example.com", "127.0.0.1.example.com", "127.0.0",
        "127.0.0.256", "127..0.1", "127.0.0.1000", "128.0.0.1", "localhost.", "LOCALHOST-ish", "127.0.0.١",
    ])
    func notLoopback(_ host: String) {
        #expect(!HostName.isLoopback(host))
    }
}
