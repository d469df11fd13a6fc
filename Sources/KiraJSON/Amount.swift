/// Amounts as the API writes them in JSON bodies: decimal strings with at most two places
/// (`"100.00"`), held as whole cents. Shared by the flow engine (amount inputs and the amount
/// search) and the emulator (request fields and the amounts it answers with).
public enum Amount {
    /// `"100.00"` → 10000, `"1.5"` → 150; `nil` for anything that is not a plain non-negative
    /// decimal of at most twelve whole digits and two places.
    public static func cents(_ text: String) -> Int? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.count <= 12,
            whole.allSatisfy({ $0.isASCII && $0.isNumber }), let units = Int(whole)
        else { return nil }
        var cents = units * 100
        if parts.count == 2 {
            let fraction = parts[1]
            guard (1...2).contains(fraction.count), fraction.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(fraction) else {
                return nil
            }
            cents += fraction.count == 1 ? value * 10 : value
        }
        return cents
    }

    /// 10000 → `"100.00"`, -5 → `"-0.05"`.
    public static func format(_ cents: Int) -> String {
        let sign = cents < 0 ? "-" : ""
        let magnitude = cents.magnitude
        let fraction = magnitude % 100
        return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
