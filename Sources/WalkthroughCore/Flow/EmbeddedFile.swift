import Crypto
import Foundation
import KiraJSON

/// A file a flow's body embeds as a data URL (`image_front: { file_as_data_url: images/passport.jpg }`).
///
/// The bytes are read at the IO boundary where the flow is loaded and passed in (`FlowLoader`'s
/// `readData`); the core only encodes them. The body itself holds `placeholder`, a short text with
/// the type, size and digest, so that sessions, previews and exports never carry the megabytes:
/// only the client, at send time, puts `dataURL` on the wire, and the curl export writes it into the
/// script.
public struct EmbeddedFile: Sendable, Hashable {
    /// The path as written in the flow, relative to the flow file.
    public let reference: String
    /// Where it was written.
    public let location: SourceLocation
    /// The file's bytes, `nil` when it could not be read.
    public let data: Data?
    /// What sessions, screens and exports show instead of `dataURL`. Worked out once, when the
    /// flow is loaded: its digest is the costly part, and every run and export asks for it.
    public let placeholder: String

    /// A file read (or not) for `reference`.
    public init(reference: String, location: SourceLocation, data: Data?) {
        self.reference = reference
        self.location = location
        self.data = data
        if let data {
            placeholder = DataURL.placeholder(mediaType: DataURL.imageType(of: data) ?? "application/octet-stream", data: data)
        } else {
            placeholder = "data:application/octet-stream;base64,… (\(reference) could not be read)"
        }
    }

    /// `image/jpeg` or `image/png` from the file's first bytes; `nil` for anything else.
    public var mediaType: String? { data.flatMap(DataURL.imageType(of:)) }

    /// `data:<type>;base64,<bytes>`: what is sent.
    public var dataURL: String {
        DataURL.make(mediaType: mediaType ?? "application/octet-stream", data: data ?? Data())
    }
}

/// Data URLs: building them, and shortening large ones to a placeholder with type, size and digest.
public enum DataURL {
    /// Data URLs longer than this are shown and stored as a placeholder.
    public static let placeholderThreshold = 1024

    /// `data:<mediaType>;base64,<data>`.
    public static func make(mediaType: String, data: Data) -> String {
        "data:\(mediaType);base64,\(data.base64EncodedString())"
    }

    /// `data:image/jpeg;base64,… (48 KB, sha256:1a2b3c4d)`: the type, the decoded size and the
    /// first eight hexadecimal digits of the SHA-256 of the bytes.
    public static func placeholder(mediaType: String, data: Data) -> String {
        let digest = SHA256Hash.hex(of: data).prefix(8)
        return "data:\(mediaType);base64,… (\(size(data.count)), sha256:\(digest))"
    }

    /// A size for people: bytes below 1 KB, else whole kilobytes (rounded up) or megabytes.
    static func size(_ bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        if bytes < 1024 * 1024 { return "\((bytes + 1023) / 1024) KB" }
        return String(format: "%.1f MB", Double(bytes) / (1024 * 1024))
    }

    /// `image/jpeg` or `image/png` when `data` starts with that format's signature.
    public static func imageType(of data: Data) -> String? {
        let bytes = [UInt8](data.prefix(8))
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        return nil
    }

    /// `text` as a placeholder when it is a base64 data URL longer than `placeholderThreshold`;
    /// `nil` otherwise (and for a placeholder already).
    public static func shortened(_ text: String) -> String? {
        guard text.utf8.count > placeholderThreshold, text.hasPrefix("data:"), let comma = text.firstIndex(of: ",") else {
            return nil
        }
        let header = text[text.index(text.startIndex, offsetBy: 5)..<comma]
        guard header.hasSuffix(";base64") else { return nil }
        let mediaType = String(header.dropLast(";base64".count))
        let payload = text[text.index(after: comma)...]
        guard let data = Data(base64Encoded: String(payload)) else { return nil }
        return placeholder(mediaType: mediaType.isEmpty ? "application/octet-stream" : mediaType, data: data)
    }

    /// `value` with every large data URL in it shortened to its placeholder.
    public static func shortening(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): return shortened(text).map(JSONValue.string) ?? value
        case .array(let items): return .array(items.map(shortening))
        case .object(let object): return .object(JSONObject(object.entries.map { ($0.key, shortening($0.value)) }))
        default: return value
        }
    }

    /// `value` with each string that is a key of `files` (a placeholder) replaced by its value (the
    /// data URL): what the client puts on the wire.
    public static func embedding(_ files: [String: String], in value: JSONValue) -> JSONValue {
        guard !files.isEmpty else { return value }
        switch value {
        case .string(let text): return files[text].map(JSONValue.string) ?? value
        case .array(let items): return .array(items.map { embedding(files, in: $0) })
        case .object(let object): return .object(JSONObject(object.entries.map { ($0.key, embedding(files, in: $0.value)) }))
        default: return value
        }
    }
}

extension Flow {
    /// Each embedded file's placeholder and its data URL, for the client to fill at send time.
    public var embeddedDataURLs: [String: String] {
        var urls: [String: String] = [:]
        for file in embeddedFiles where file.data != nil { urls[file.placeholder] = file.dataURL }
        return urls
    }
}

extension FlowLinter {
    /// Each file a body embeds must be readable and a JPEG or PNG image.
    static func embeddedFiles(_ flow: Flow) -> [FlowProblem] {
        flow.embeddedFiles.compactMap { file in
            let path = FlowLoader.resolve(file.reference, relativeTo: flow.file)
            guard let data = file.data else {
                return FlowProblem(
                    location: file.location, message: "Cannot read the file '\(file.reference)' (\(path)) that the body embeds")
            }
            guard DataURL.imageType(of: data) != nil else {
                return FlowProblem(
                    location: file.location,
                    message: "'\(file.reference)' is not a JPEG or PNG image: only images are embedded as data URLs")
            }
            return nil
        }
    }
}

/// SHA-256 for the digests of embedded files: swift-crypto's, computation only. (A hand-written
/// one in Swift took a quarter of a second per flow load in a debug build, and every load digests
/// the flow's images.)
public enum SHA256Hash {
    /// The digest of `data` in lowercase hexadecimal.
    public static func hex(of data: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in SHA256.hash(data: data) {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
