import Foundation
import KiraJSON

extension FlowLoader {
    /// Whether `id` has the form of a quirk id: `Q-` and capitals, digits or dashes.
    static func isQuirkID(_ id: String) -> Bool {
        id.hasPrefix("Q-") && id.count > 2 && id.dropFirst(2).allSatisfy { ($0.isUppercase && $0.isASCII) || $0.isNumber || $0 == "-" }
    }
}

extension FlowStep {
    /// The step's requests and those its remedies send.
    public var requestsIncludingRemedies: [FlowRequest] {
        var all: [FlowRequest] = []
        for request in requests {
            all.append(request)
            for quirk in request.quirks {
                for remedy in quirk.remedies {
                    switch remedy.kind {
                    case .request(let followUp): all.append(followUp)
                    case .prompt(_, let validation?): all.append(validation)
                    default: break
                    }
                }
            }
        }
        return all
    }
}

/// Amounts as the API writes them: positive decimal strings with at most two places.
public enum Amount {
    /// `"100.00"` → 10000; `nil` for anything else.
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

    /// 10000 → `"100.00"`.
    public static func format(_ cents: Int) -> String {
        let fraction = abs(cents) % 100
        return "\(cents < 0 ? "-" : "")\(abs(cents) / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
