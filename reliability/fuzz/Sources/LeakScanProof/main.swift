// The evidence behind two rules of lsan-suppressions.txt: LeakSanitizer reports memory that a
// global still holds when the only reference to it sits in the payload of a Swift enum with
// several payload cases (`JSONValue`, and Foundation's `Data`, whose representation is one).
// The same memory held without the enum around it is not reported. Run:
//
//     swift build --package-path reliability/fuzz --sanitize=address --product LeakScanProof
//     for mode in json object array data bytes; do
//         reliability/fuzz/.build/debug/LeakScanProof $mode
//     done
//
// `json`, `array` and `data` end with "Direct leak …" reports (the storage of the
// OrderedDictionary inside a JSONObject, allocated in OrderedDictionary's subscript setter; the
// storage of a Data read from a file, allocated in readDataFromFile); `object` and `bytes`, which
// hold the same memory as a plain struct or array, end with none. Nothing is leaked in Swift's
// sense in any mode: every value is held by a global until exit.
import Foundation
import KiraJSON

nonisolated(unsafe) var heldValue: JSONValue = .null
nonisolated(unsafe) var heldObject: JSONObject?
nonisolated(unsafe) var heldArray: [JSONValue] = []
nonisolated(unsafe) var heldData: Data?
nonisolated(unsafe) var heldBytes: [UInt8] = []

/// An object built key by key, as FlowLoader builds one from YAML.
func makeObject() -> JSONObject {
    var object = JSONObject()
    for index in 0..<200 {
        object["key-\(index)"] = .array([.string("value-\(index)"), .number("\(index)")])
    }
    return object
}

/// Some file's bytes, as FlowLoader reads an image a body embeds.
func readFile() throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: CommandLine.arguments[0]))
}

let mode = CommandLine.arguments.dropFirst().first ?? "json"
switch mode {
case "json": heldValue = .object(makeObject())
case "object": heldObject = makeObject()
case "array": heldArray = [.object(makeObject())]
case "data": heldData = try readFile()
case "bytes": heldBytes = Array(try readFile())
default:
    FileHandle.standardError.write(Data("modes: json object array data bytes\n".utf8))
    exit(2)
}
FileHandle.standardError.write(Data("holding \(mode) until exit\n".utf8))
