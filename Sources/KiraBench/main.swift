// The in-process benchmarks behind `bench/run`: rendering a large response, saving a session and
// building a large JSON object.
// Not a test: it prints figures as one JSON object per command on standard output.
import DurableFiles
import Foundation
import KiraJSON
import SessionStore
import TerminalUI
import WalkthroughCore

/// Milliseconds taken by `body`, on the monotonic clock.
func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
}

/// Median, spread and extremes of a sample, as JSON numbers (milliseconds).
func summary(_ samples: [Double]) -> JSONValue {
    let sorted = samples.sorted()
    func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))] }
    func number(_ value: Double) -> JSONValue { .number(String(format: "%.4f", value)) }
    return [
        "n": .int(sorted.count), "median_ms": number(quantile(0.5)), "p10_ms": number(quantile(0.1)), "p90_ms": number(quantile(0.9)),
        "min_ms": number(sorted.first ?? 0), "max_ms": number(sorted.last ?? 0),
    ]
}

/// A `GET /v1/users?limit=…` page of complete individuals, compact, of at least `bytes` bytes:
/// the shape of a large response the walkthrough may have to show.
func largeUserList(bytes: Int) -> String {
    func user(_ index: Int) -> JSONValue {
        let id = String(format: "%08x-4b7e-4c06-9d2e-%012x", index, index * 7919)
        return [
            "id": .string(id), "type": "individual", "email": .string("ada+\(index)@example.com"), "first_name": "Ada",
            "last_name": .string("Lovelace \(index)"), "birth_date": "1990-12-10", "phone": "+14155550123", "nationality": "USA",
            "source_of_funds": "salary", "account_purpose": "receive_payments", "status": "VERIFIED", "verification_status": "verified",
            "verification_triggered": true, "amount": .number("\(index).25"), "suspended": false, "middle_name": .null,
            "residential_address": [
                "street_line_1": "1 Main St", "street_line_2": .null, "city": "Springfield", "subdivision": "IL", "postal_code": "62701",
                "country": "USA",
            ],
            "metadata": ["note": "Unicode é ü 漢字 and \"escapes\" \\ too"], "created_at": "2026-04-14T09:30:00.000Z",
            "updated_at": "2026-04-14T09:30:03.500Z",
        ]
    }
    var users: [JSONValue] = []
    var size = 0
    while size < bytes {
        let next = user(users.count)
        size += next.text().utf8.count + 1
        users.append(next)
    }
    let page: JSONValue = [
        "data": .array(users),
        "pagination": ["total": .int(users.count), "limit": .int(users.count), "offset": 0, "has_more": false],
    ]
    return page.text()
}

/// The screen after `GET /v1/users` answered with `body`: the step, the exchange and its body.
func screen(showing body: PrettyBody, exchange: ExchangeRecord) -> WalkthroughScreen {
    let titles = [
        "Get your credentials", "Authenticate", "Pin your version", "Create a user", "Create a virtual account",
        "Simulate a deposit (sandbox)", "Make a payout (preview, then create)",
    ]
    var screen = WalkthroughScreen(
        flowTitle: "Kira sandbox quickstart", sessionName: "bench", targetLabel: "LOCAL EMULATOR", isLocalEmulator: true,
        steps: titles.enumerated().map { ($0.element, $0.offset < 3 ? StepState.succeeded : $0.offset == 3 ? .ready : .pending) },
        mode: .confirm
    )
    screen.cursor = 3
    screen.pinnedVersion = "2026-04-14"
    screen.tokenExpiresAt = Date().addingTimeInterval(3000)
    screen.explanation = "A user is the person or business the money belongs to."
    screen.exchange = exchange
    screen.responseBody = body
    screen.focus = .response
    screen.scroll[.response] = 0
    return screen
}

/// `render [--megabytes 5] [--repeat 7] [--width 120] [--height 35]`: pretty-print, colour and draw
/// the first screen of a large response, then scroll it one line at a time.
func benchmarkRender(_ options: [String: String]) {
    let bytes = Int((Double(options["megabytes"] ?? "5") ?? 5) * 1_000_000)
    let repeats = Int(options["repeat"] ?? "7") ?? 7
    let width = Int(options["width"] ?? "120") ?? 120
    let height = Int(options["height"] ?? "35") ?? 35
    let text = largeUserList(bytes: bytes)
    let exchange = ExchangeRecord(
        sequence: 9, stepID: "create_user", requestID: "list_users", note: nil, method: "GET",
        url: "http://127.0.0.1:4010/sandbox/v1/users?limit=100", requestHeaders: [], requestBody: nil, status: 200,
        responseHeaders: [["content-type", "application/json"], ["content-length", String(text.utf8.count)]], responseBody: text,
        error: nil, startedAt: Date(), durationMilliseconds: 12
    )
    let renderer = WalkthroughRenderer(glyphs: .unicode, colors: true)
    var parse: [Double] = [], pretty: [Double] = [], split: [Double] = [], prepare: [Double] = [], first: [Double] = [],
        total: [Double] = []
    var lineCount = 0
    var lastGrid = ScreenGrid(width: 0, height: 0)
    for _ in 0..<(repeats + 1) {  // the first round warms up and is dropped
        var json: JSONValue = .null
        var prettyText = ""
        var body: PrettyBody?
        let parseTime = milliseconds { json = (try? JSONValue.parse(text)) ?? .null }
        let prettyTime = milliseconds { prettyText = json.text(.pretty) }
        // What the app does when the response arrives (PrettyBody(text:) = parse + pretty + split) …
        let prepareTime = milliseconds { body = PrettyBody(text: exchange.responseBody ?? "") }
        let shown = screen(showing: body!, exchange: exchange)
        // … then the first frame, coloured.
        let firstTime = milliseconds { lastGrid = renderer.render(shown, width: width, height: height) }
        // Splitting into lines is what PrettyBody(text:) does beyond parsing and pretty-printing.
        let splitTime = max(0, prepareTime - parseTime - prettyTime)
        _ = prettyText.utf8.count
        lineCount = body!.lines.count
        parse.append(parseTime)
        pretty.append(prettyTime)
        split.append(splitTime)
        prepare.append(prepareTime)
        first.append(firstTime)
        total.append(prepareTime + firstTime)
    }
    // One scroll step (j): move the offset by one line and draw the whole screen again, at the top,
    // the middle and the end of the body.
    let body = PrettyBody(text: text)
    var shown = screen(showing: body, exchange: exchange)
    var steps: [String: JSONValue] = [:]
    for (place, start) in [("top", 0), ("middle", body.lines.count / 2), ("end", max(0, body.lines.count - 300))] {
        var samples: [Double] = []
        for step in 0..<201 {
            shown.scroll[.response] = start + step
            let time = milliseconds { lastGrid = renderer.render(shown, width: width, height: height) }
            if step > 0 { samples.append(time) }
        }
        steps[place] = summary(samples)
    }
    let result: JSONValue = [
        "bytes": .int(text.utf8.count), "pretty_lines": .int(lineCount), "width": .int(width), "height": .int(height),
        "first_screen_total": summary(Array(total.dropFirst())), "prepare_body": summary(Array(prepare.dropFirst())),
        "first_render": summary(Array(first.dropFirst())), "parse": summary(Array(parse.dropFirst())),
        "pretty_print": summary(Array(pretty.dropFirst())), "split_lines": summary(Array(split.dropFirst())),
        "scroll_step": .object(JSONObject(steps.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })),
        "last_grid_lines": .int(lastGrid.lines.count),
    ]
    print(result.text())
}

/// `save --state-dir DIR --session NAME [--repeat 200] [--into DIR]`: saves a finished session
/// (loaded from DIR) again and again into a scratch directory, each save a full atomic write with
/// fsync of the file and of the directory.
func benchmarkSave(_ options: [String: String]) throws {
    guard let source = options["state-dir"], let name = options["session"] else {
        throw BenchError.usage("save needs --state-dir DIR --session NAME")
    }
    let repeats = Int(options["repeat"] ?? "200") ?? 200
    guard let session = try SessionStore(directory: source).load(name) else { throw BenchError.usage("no session \(name) in \(source)") }
    let scratch = options["into"] ?? NSTemporaryDirectory() + "kira-bench-save-\(getpid())"
    let store = SessionStore(directory: scratch)
    try store.prepare()
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    var samples: [Double] = []
    for index in 0..<(repeats + 10) {  // ten warm-up saves
        let time = try milliseconds { try store.save(session) }
        if index >= 10 { samples.append(time) }
    }
    // The two halves of a save: encoding (as SessionStore does) and the durable replace of the file.
    // For comparison, Foundation's JSONEncoder as sessions were written before KiraJSON wrote them
    // (pretty, sorted keys, ISO 8601 dates, response bodies' numbers through Double).
    let foundation = JSONEncoder()
    foundation.dateEncodingStrategy = .iso8601
    foundation.outputFormatting = [.prettyPrinted, .sortedKeys]
    var encodes: [Double] = [], writes: [Double] = [], foundationEncodes: [Double] = []
    let bytes = try SessionStore.serialized(session)
    for index in 0..<(repeats + 10) {
        let encode = try milliseconds { _ = try SessionStore.serialized(session) }
        let write = try milliseconds { try AtomicFile.replace(scratch + "/replace-only.json", with: bytes) }
        let foundationEncode = try milliseconds { _ = try foundation.encode(session) }
        if index >= 10 {
            encodes.append(encode)
            writes.append(write)
            foundationEncodes.append(foundationEncode)
        }
    }
    // Where a save's time goes, step by step: the same system calls as `AtomicFile.replace`, each
    // timed on its own, after the check that the directory is there and the encoding.
    var steps: [String: [Double]] = [:]
    let target = scratch + "/steps.json"
    let temporary = target + ".tmp-steps"
    for index in 0..<(repeats + 10) {
        var descriptor: Int32 = -1
        var times: [(String, Double)] = []
        times.append(
            (
                "directory_check",
                milliseconds {
                    var status = stat()
                    _ = stat(scratch, &status)
                }
            ))
        var encoded: [UInt8] = []
        times.append(("encode", try milliseconds { encoded = try SessionStore.serialized(session) }))
        times.append(
            (
                "open_write",
                milliseconds {
                    descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                    _ = encoded.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                }
            ))
        times.append(("fsync_file", milliseconds { _ = fsync(descriptor) }))
        times.append(
            (
                "close_rename",
                milliseconds {
                    close(descriptor); _ = rename(temporary, target)
                }
            ))
        times.append(
            (
                "fsync_directory",
                milliseconds {
                    let directory = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                    _ = fsync(directory)
                    close(directory)
                }
            ))
        if index >= 10 { for (name, time) in times { steps[name, default: []].append(time) } }
    }
    let size = (try? FileManager.default.attributesOfItem(atPath: store.path(for: session.name))[.size] as? Int) ?? 0
    let result: JSONValue = [
        "file_bytes": .int(size), "exchanges": .int(session.exchanges.count), "directory": .string(scratch),
        "save": summary(samples), "encode": summary(encodes), "atomic_replace": summary(writes),
        "encode_with_foundation": summary(foundationEncodes),
        "steps": .object(JSONObject(steps.sorted { $0.key < $1.key }.map { ($0.key, summary($0.value)) })),
    ]
    print(result.text())
}

/// `object [--keys 50000] [--repeat 7]`: builds a JSON object of that many keys member by member,
/// from pairs, and by parsing its text; each linear in the keys since objects are ordered
/// dictionaries (the old array of pairs made each of them quadratic).
func benchmarkObject(_ options: [String: String]) {
    let count = Int(options["keys"] ?? "50000") ?? 50000
    let repeats = Int(options["repeat"] ?? "7") ?? 7
    let keys = (0..<count).map { "key_\($0)" }
    let pairs = keys.enumerated().map { ($0.element, JSONValue.int($0.offset)) }
    var bySubscript: [Double] = [], fromPairs: [Double] = [], parse: [Double] = [], lookups: [Double] = []
    var text = ""
    var found = 0
    for index in 0..<(repeats + 1) {  // the first round warms up and is dropped
        var built = JSONObject()
        let subscriptTime = milliseconds { for (key, value) in pairs { built[key] = value } }
        var fromPairsObject = JSONObject()
        let pairsTime = milliseconds { fromPairsObject = JSONObject(pairs) }
        text = JSONValue.object(fromPairsObject).text()
        var parsed = JSONValue.null
        let parseTime = milliseconds { parsed = (try? JSONValue.parse(text)) ?? .null }
        let lookupTime = milliseconds {
            found = 0
            for key in keys where parsed[key] != nil { found += 1 }
        }
        if index > 0 {
            bySubscript.append(subscriptTime)
            fromPairs.append(pairsTime)
            parse.append(parseTime)
            lookups.append(lookupTime)
        }
    }
    let result: JSONValue = [
        "keys": .int(count), "bytes": .int(text.utf8.count), "found": .int(found), "build_by_subscript": summary(bySubscript),
        "build_from_pairs": summary(fromPairs), "parse": summary(parse), "lookup_every_key": summary(lookups),
    ]
    print(result.text())
}

enum BenchError: Error, CustomStringConvertible {
    case usage(String)
    var description: String {
        switch self {
        case .usage(let message): "usage: \(message)"
        }
    }
}

/// `--name value` pairs after the command.
func options(_ arguments: ArraySlice<String>) -> [String: String] {
    var result: [String: String] = [:]
    var iterator = arguments.makeIterator()
    while let argument = iterator.next() {
        guard argument.hasPrefix("--") else { continue }
        result[String(argument.dropFirst(2))] = iterator.next() ?? ""
    }
    return result
}

let arguments = CommandLine.arguments
do {
    switch arguments.dropFirst().first {
    case "render": benchmarkRender(options(arguments.dropFirst(2)))
    case "save": try benchmarkSave(options(arguments.dropFirst(2)))
    case "object": benchmarkObject(options(arguments.dropFirst(2)))
    default: throw BenchError.usage("kira-bench render|save|object [--option value …]")
    }
} catch {
    StandardStream.error.write("\(error)\n")
    exit(2)
}
