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
    public var reference: String
    /// Where it was written.
    public var location: SourceLocation
    /// The file's bytes, `nil` when it could not be read.
    public var data: Data?

    /// A file read (or not) for `reference`.
    public init(reference: String, location: SourceLocation, data: Data?) {
        self.reference = reference
        self.location = location
        self.data = data
    }

    /// `image/jpeg` or `image/png` from the file's first bytes; `nil` for anything else.
    public var mediaType: String? { data.flatMap(DataURL.imageType(of:)) }

    /// `data:<type>;base64,<bytes>`: what is sent.
    public var dataURL: String {
        DataURL.make(mediaType: mediaType ?? "application/octet-stream", data: data ?? Data())
    }

    /// What sessions, screens and exports show instead of `dataURL`.
    public var placeholder: String {
        guard let data else { return "data:application/octet-stream;base64,… (\(reference) could not be read)" }
        return DataURL.placeholder(mediaType: mediaType ?? "application/octet-stream", data: data)
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
        let digest = SHA256Digest.hex(of: data).prefix(8)
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

/// SHA-256 (FIPS 180-4), small and pure, for the digests of embedded files.
public enum SHA256Digest {
    static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    /// The digest of `data` in lower-case hexadecimal (64 digits).
    public static func hex(of data: Data) -> String {
        var h: [UInt32] = [
            0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
        ]
        var message = [UInt8](data)
        let bitLength = UInt64(message.count) * 8
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: message.count, by: 64) {
            for i in 0..<16 {
                let j = chunk + i * 4
                w[i] = UInt32(message[j]) << 24 | UInt32(message[j + 1]) << 16 | UInt32(message[j + 2]) << 8 | UInt32(message[j + 3])
            }
            for i in 16..<64 {
                let s0 = rotate(w[i - 15], 7) ^ rotate(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotate(w[i - 2], 17) ^ rotate(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for i in 0..<64 {
                let s1 = rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)
                let choice = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ choice &+ k[i] &+ w[i]
                let s0 = rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)
                let majority = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ majority
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            h = zip(h, [a, b, c, d, e, f, g, hh]).map { $0 &+ $1 }
        }
        return h.map { word in
            let text = String(word, radix: 16)
            return String(repeating: "0", count: 8 - text.count) + text
        }.joined()
    }

    static func rotate(_ value: UInt32, _ count: UInt32) -> UInt32 { (value >> count) | (value << (32 - count)) }
}
