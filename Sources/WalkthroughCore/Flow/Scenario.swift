import Foundation
import KiraJSON

/// A tour of a flow: what to set up on an emulator, and which values and bodies to change, so
/// that the flow's quirks happen on purpose (`run --tour`, the file `NAME.tour.yaml` beside the
/// flow `NAME.yaml`).
///
/// Pure data, loaded by `Scenario.load(_:file:flow:)`: the runner applies it (the setups through
/// an IO seam, the rest through the engine). It knows no API of its own: what the setups do comes
/// from the file.
public struct Scenario: Sendable {
    /// The id of the flow it tours (`tour:`), which must be the flow's `flow:` id.
    public var flowID: String
    /// What the run's header shows.
    public var title: String
    /// What the tour does, shown once when it starts.
    public var explain: String
    /// Input values the tour gives, over the environment's (a payout below the minimum).
    public var inputs: [String: String]
    /// What happens around which request, in file order.
    public var moments: [ScenarioMoment]
    /// The file it came from.
    public var file: String

    /// The moment at a request (`step/request`), if the tour has one.
    public func moment(stepID: String, requestID: String) -> ScenarioMoment? {
        moments.first { $0.stepID == stepID && $0.requestID == requestID }
    }

    /// `quickstart.yaml` → `quickstart.tour.yaml`: where a flow's tour lives.
    public static func file(besideFlow path: String) -> String {
        let base = path.hasSuffix(".yaml") ? String(path.dropLast(5)) : (path.hasSuffix(".yml") ? String(path.dropLast(4)) : path)
        return base + ".tour.yaml"
    }
}

/// What the tour does at one request of the flow: before it is first sent, the `setup`; the first
/// time it is rendered, the `body` change; and `say`, recorded as a note, so the learner and the
/// transcript know what was arranged.
public struct ScenarioMoment: Sendable {
    public var stepID: String
    public var requestID: String
    /// What the tour arranged here, in words (a template over the flow's values).
    public var say: String?
    /// Done before the request is sent for the first time in the session, in order.
    public var setup: [ScenarioSetup]
    /// Applied to the request's body the first time it is rendered in the session.
    public var body: BodyChange?
    public var location: SourceLocation

    /// The session marks that say the moment's setup, or its body change, was done.
    public var setupMark: String { "\(stepID)/\(requestID)#setup" }
    public var bodyMark: String { "\(stepID)/\(requestID)#body" }
}

/// One thing the tour arranges on the emulator before a request.
public enum ScenarioSetup: Sendable {
    /// Move the emulator's clock forward (seconds).
    case clock(seconds: Double)
    /// What a Kira operator would do (its id a template).
    case operatorAction(OperatorAction)
    /// A fault the emulator answers with (its control's JSON, passed as written).
    case fault(JSONValue)
    /// A request to the API, sent as the flow's requests are (its own idempotency key), and
    /// recorded in the session.
    case request(FlowRequest)
}

/// A change to a request's JSON body: keys removed from its top-level object, then keys set
/// (values may hold references, rendered like the body's).
public struct BodyChange: Sendable {
    public var remove: [String]
    public var set: JSONObject

    /// `body` with the keys removed and set; a body that is not an object is left as it is.
    public func applied(to body: JSONValue?, render: (JSONValue) -> JSONValue) -> JSONValue? {
        guard case .object(let object)? = body else { return body }
        var kept = JSONObject(object.entries.filter { !remove.contains($0.key) }.map { ($0.key, $0.value) })
        for entry in set.entries { kept[entry.key] = render(entry.value) }
        return .object(kept)
    }
}
