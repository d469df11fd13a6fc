import Foundation
import KiraJSON

/// Records of one kind, by id, in creation order, holding at most `limit` (the oldest go first).
///
/// Creation order makes lists stable and pagination cheap; the limit keeps a long-running
/// emulator's memory bounded.
struct RecordStore<Record: Codable & Sendable>: Codable, Sendable {
    private(set) var byID: [String: Record] = [:]
    private var order: [String] = []
    private var head = 0

    init() {}

    var count: Int { byID.count }

    subscript(id: String) -> Record? {
        get { byID[id] }
        set {
            guard let newValue else { return }
            precondition(byID[id] != nil, "RecordStore: update of an unknown id; use insert")
            byID[id] = newValue
        }
    }

    /// Adds a record and returns those dropped to stay within `limit`.
    @discardableResult
    mutating func insert(_ record: Record, id: String, limit: Int) -> [Record] {
        if byID.updateValue(record, forKey: id) == nil { order.append(id) }
        var evicted: [Record] = []
        while byID.count > max(1, limit), head < order.count {
            if let old = byID.removeValue(forKey: order[head]) { evicted.append(old) }
            head += 1
        }
        compactIfNeeded()
        return evicted
    }

    /// Removes records from the oldest while `shouldRemove` holds for them.
    mutating func removeOldest(while shouldRemove: (Record) -> Bool) {
        while head < order.count {
            guard let record = byID[order[head]] else {
                head += 1
                continue
            }
            guard shouldRemove(record) else { break }
            byID.removeValue(forKey: order[head])
            head += 1
        }
        compactIfNeeded()
    }

    private mutating func compactIfNeeded() {
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    /// All records in creation order.
    var all: some Sequence<Record> {
        order[head...].lazy.compactMap { byID[$0] }
    }

    /// One page of the records that pass `filter`, and how many pass in all.
    func page(offset: Int, limit: Int, where filter: (Record) -> Bool = { _ in true }) -> (items: [Record], total: Int) {
        var items: [Record] = []
        var total = 0
        for record in all where filter(record) {
            if total >= offset, items.count < limit { items.append(record) }
            total += 1
        }
        return (items, total)
    }

    enum CodingKeys: String, CodingKey { case records }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let records = try container.decode([IdentifiedRecord].self, forKey: .records)
        for record in records {
            if byID.updateValue(record.record, forKey: record.id) == nil { order.append(record.id) }
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let records = order[head...].compactMap { id in byID[id].map { IdentifiedRecord(id: id, record: $0) } }
        try container.encode(records, forKey: .records)
    }

    private struct IdentifiedRecord: Codable {
        var id: String
        var record: Record
    }
}

/// A stored response for an `Idempotency-Key`.
struct IdempotencyRecord: Codable, Sendable {
    /// Method, path and canonical body of the first request.
    var fingerprint: String
    var status: Int
    var body: JSONValue
    var createdAt: Date
}

/// Something the emulator will do by itself when its time comes.
struct ScheduledTransition: Codable, Sendable {
    enum Kind: String, Codable, Sendable {
        case userVerifying, userReview, userAutoReject, userAutoVerify, accountReady, payoutStep
    }

    var due: Date
    var clientID: String
    var kind: Kind
    var resourceID: String
}
