import Testing

@testable import WalkthroughCore

@Suite struct AmountTests {
    @Test func amountsParseToCents() {
        #expect(Amount.cents("100.00") == 10000)
        #expect(Amount.cents("2.5") == 250)
        #expect(Amount.cents("1.234") == nil)
        #expect(Amount.format(277) == "2.77")
    }
}
