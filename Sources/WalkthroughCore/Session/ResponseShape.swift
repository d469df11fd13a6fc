import Foundation
import KiraJSON

/// The shape of one answer, without its values: the status code, and for each field path the
/// JSON types seen there and, for enum-like strings, their casing. Two answers to the same request
/// from two servers (the real sandbox and the emulator) have the same shape when the emulator is
/// right, whatever ids, names and amounts they carry.
public struct ResponseShape: Sendable, Hashable {
    /// A JSON type, or `text` for a body that is not JSON.
    public enum ValueType: String, Sendable, Hashable, Comparable, Codable {
        case object, array, string, number, boolean, null, text

        public static func < (lhs: ValueType, rhs: ValueType) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// How an enum-like string is written.
    public enum Casing: String, Sendable, Hashable, Comparable, Codable {
        case lower = "lower case"
        case upper = "UPPER CASE"
        case mixed = "Mixed Case"

        public static func < (lhs: Casing, rhs: Casing) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// What one path holds: every type seen there (array elements are merged) and the casings of
    /// its enum-like strings.
    public struct Field: Sendable, Hashable {
        public var types: Set<ValueType> = []
        public var casings: Set<Casing> = []
    }

    /// The path of the body itself.
    public static let bodyPath = "(body)"

    public var status: Int
    /// By path: `data.access_token`, `data[].id` for the items of an array, `(body)` for the body.
    public var fields: [String: Field]

    /// The shape of an answer with `status` and `body` (as recorded: JSON text, other text, or none).
    public init(status: Int, body: String?) {
        self.status = status
        fields = [:]
        guard let body, !body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return }
        guard let json = try? JSONValue.parse(Array(body.utf8)) else {
            fields[Self.bodyPath, default: Field()].types.insert(.text)
            return
        }
        collect(json, at: Self.bodyPath)
    }

    mutating func collect(_ value: JSONValue, at path: String) {
        func child(_ name: String) -> String { path == Self.bodyPath ? name : "\(path).\(name)" }
        switch value {
        case .object(let object):
            fields[path, default: Field()].types.insert(.object)
            for entry in object.entries { collect(entry.value, at: child(entry.key)) }
        case .array(let items):
            fields[path, default: Field()].types.insert(.array)
            for item in items { collect(item, at: path == Self.bodyPath ? "[]" : "\(path)[]") }
        case .string(let text):
            fields[path, default: Field()].types.insert(.string)
            if let casing = Self.casing(ofEnumLike: text) { fields[path, default: Field()].casings.insert(casing) }
        case .number: fields[path, default: Field()].types.insert(.number)
        case .bool: fields[path, default: Field()].types.insert(.boolean)
        case .null: fields[path, default: Field()].types.insert(.null)
        }
    }

    /// The casing of a string that looks like an enum value (`approved`, `PENDING`,
    /// `resource_conflict`: a letter, then letters, digits and single underscores, at most 40
    /// characters); `nil` for anything else (ids, emails, sentences, amounts).
    public static func casing(ofEnumLike text: String) -> Casing? {
        guard (1...40).contains(text.count), let first = text.unicodeScalars.first, first.isASCIILetter else { return nil }
        var previousUnderscore = false
        for scalar in text.unicodeScalars {
            if scalar == "_" {
                if previousUnderscore { return nil }
                previousUnderscore = true
            } else if scalar.isASCIILetter || ("0"..."9").contains(scalar) {
                previousUnderscore = false
            } else {
                return nil
            }
        }
        let letters = text.unicodeScalars.filter(\.isASCIILetter)
        if letters.allSatisfy({ ("a"..."z").contains($0) }) { return .lower }
        if letters.allSatisfy({ ("A"..."Z").contains($0) }) { return .upper }
        return .mixed
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}

/// One way a recorded answer and the emulator's answer to the same request differ in shape.
public struct ShapeDifference: Sendable, Hashable, Codable, CustomStringConvertible {
    public var stepID: String
    public var requestID: String
    /// The field path, `HTTP status` for the status code, or `(body)`.
    public var path: String
    /// The recorded side, in shape words only (`201`, `string`, `lower-case string`, `absent`).
    public var recorded: String
    /// The emulator's side, in the same words.
    public var emulator: String

    public init(stepID: String, requestID: String, path: String, recorded: String, emulator: String) {
        self.stepID = stepID
        self.requestID = requestID
        self.path = path
        self.recorded = recorded
        self.emulator = emulator
    }

    /// `STEP/REQUEST: PATH: recorded … emulator …`.
    public var description: String { "\(stepID)/\(requestID): \(path): recorded \(recorded) emulator \(emulator)" }

    enum CodingKeys: String, CodingKey {
        case stepID = "step", requestID = "request", path, recorded, emulator
    }
}

/// Comparing the shapes of a session's recorded answers with another run's answers to the same
/// flow (the emulator's): pure, values never leave it.
public enum ShapeDrift {
    /// The result of a comparison.
    public struct Report: Sendable, Hashable {
        /// Every difference, by request in the recorded order, then by path.
        public var differences: [ShapeDifference]
        /// `STEP/REQUEST` pairs compared.
        public var compared: [String]
        /// `STEP/REQUEST` pairs the recorded session answered that the emulator's run never sent
        /// (a remedy or a provisioned id it did not need): not compared.
        public var notCompared: [String]
    }

    /// The last answer to each request (`STEP/REQUEST`), in the order the requests were first
    /// answered. Exchanges without an answer (a network failure) are left out.
    public static func finalAnswers(_ exchanges: [ExchangeRecord]) -> [(
        key: String, stepID: String, requestID: String, shape: ResponseShape
    )] {
        var order: [String] = []
        var last: [String: (String, String, ResponseShape)] = [:]
        for exchange in exchanges {
            guard let status = exchange.status else { continue }
            let key = "\(exchange.stepID)/\(exchange.requestID)"
            if last[key] == nil { order.append(key) }
            last[key] = (exchange.stepID, exchange.requestID, ResponseShape(status: status, body: exchange.responseBody))
        }
        return order.compactMap { key in last[key].map { (key: key, stepID: $0.0, requestID: $0.1, shape: $0.2) } }
    }

    /// Compares each request the recorded exchanges answered with the emulator's last answer to it.
    public static func compare(recorded: [ExchangeRecord], emulator: [ExchangeRecord]) -> Report {
        let theirs = Dictionary(finalAnswers(emulator).map { ($0.key, $0.shape) }, uniquingKeysWith: { _, new in new })
        var report = Report(differences: [], compared: [], notCompared: [])
        for answer in finalAnswers(recorded) {
            guard let other = theirs[answer.key] else {
                report.notCompared.append(answer.key)
                continue
            }
            report.compared.append(answer.key)
            report.differences += compare(answer.shape, other, stepID: answer.stepID, requestID: answer.requestID)
        }
        return report
    }

    /// The differences between two answers to one request. Once the status codes differ, the
    /// bodies are not compared (an error body against a resource says nothing useful).
    public static func compare(_ recorded: ResponseShape, _ emulator: ResponseShape, stepID: String, requestID: String)
        -> [ShapeDifference]
    {
        func difference(_ path: String, _ left: String, _ right: String) -> ShapeDifference {
            ShapeDifference(stepID: stepID, requestID: requestID, path: path, recorded: left, emulator: right)
        }
        guard recorded.status == emulator.status else {
            return [difference("HTTP status", String(recorded.status), String(emulator.status))]
        }
        // A path that is null on one side and holds a value on the other is a value not filled in
        // yet (an account number still pending), not a shape: neither it nor what is under it counts.
        func nullOnly(_ shape: ResponseShape, _ path: String) -> Bool { shape.fields[path]?.types == [.null] }
        func underNull(_ shape: ResponseShape, _ path: String) -> Bool {
            var candidate = path
            while let cut = candidate.lastIndex(where: { $0 == "." || $0 == "[" }) {
                candidate = String(candidate[..<cut])
                if nullOnly(shape, candidate) { return true }
            }
            return false
        }
        var differences: [ShapeDifference] = []
        for path in Set(recorded.fields.keys).union(emulator.fields.keys).sorted() {
            let left = recorded.fields[path]
            let right = emulator.fields[path]
            guard let left, let right else {
                let missingSide = left == nil ? recorded : emulator
                if underNull(missingSide, path) { continue }
                differences.append(difference(path, describe(left), describe(right)))
                continue
            }
            let leftTypes = left.types.subtracting([.null])
            let rightTypes = right.types.subtracting([.null])
            if leftTypes != rightTypes, !leftTypes.isEmpty, !rightTypes.isEmpty {
                differences.append(difference(path, describe(left), describe(right)))
            } else if !left.casings.isEmpty, !right.casings.isEmpty, left.casings != right.casings {
                differences.append(difference(path, describe(left, casing: true), describe(right, casing: true)))
            }
        }
        return differences
    }

    /// A field in shape words: `string`, `string or null`, `lower-case string`, `absent`.
    static func describe(_ field: ResponseShape.Field?, casing: Bool = false) -> String {
        guard let field else { return "absent" }
        let types = field.types.sorted().map(\.rawValue).joined(separator: " or ")
        guard casing else { return types }
        return field.casings.sorted().map(\.rawValue).joined(separator: "/") + " " + types
    }
}
