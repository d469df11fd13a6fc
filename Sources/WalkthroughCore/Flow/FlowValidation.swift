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
