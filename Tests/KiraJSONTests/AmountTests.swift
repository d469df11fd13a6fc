import Testing

@testable import KiraJSON

/// `Amount`: decimal strings with at most two places ↔ cents, shared by the engine and the emulator.
@Suite struct AmountTests {
    @Test(arguments: [
        ("100.00", 10000), ("100", 10000), ("1.5", 150), ("0.01", 1), ("000.10", 10), ("999999999999.99", 99_999_999_999_999),
    ])
    func parses(_ text: String, _ cents: Int) {
        #expect(Amount.cents(text) == cents)
    }

    @Test(arguments: ["", ".", "1.", ".5", "1.234", "-1.00", "+1", "1e2", " 1", "1,00", "1.0a", "1234567890123", "١٢"])
    func refuses(_ text: String) {
        #expect(Amount.cents(text) == nil)
    }

    @Test func formatsWithTwoPlaces() {
        #expect(Amount.format(10000) == "100.00")
        #expect(Amount.format(5) == "0.05")
        #expect(Amount.format(150) == "1.50")
        #expect(Amount.format(-5) == "-0.05")
        #expect(Amount.format(Int.min).hasPrefix("-"), "no overflow on the most negative value")
        for cents in [0, 1, 99, 100, 12345, 99_999_999_999_999] { #expect(Amount.cents(Amount.format(cents)) == cents) }
    }
}
