import Foundation

/// An identity document image sent as a data URL, and what the emulator's KYC check makes of it
/// ("images must look real": a decodable JPEG or PNG of at least 200×200 pixels).
///
/// "Decodable" here means the container is well formed, not that every pixel was decoded:
/// - PNG: the 8-byte signature; then chunks, each with its length, a 4-letter type and a CRC-32
///   that matches; `IHDR` first, 13 bytes, with a non-zero size, a valid bit depth for its colour
///   type, compression, filter and interlace methods 0/0/0–1; at least one `IDAT` whose
///   concatenated data starts with a valid zlib header (deflate, header checksum); `PLTE` before
///   `IDAT` for palette images; `IEND` last, empty, with nothing after it.
/// - JPEG: `SOI` (FFD8); then marker segments with consistent lengths; a start-of-frame
///   (`SOF0`–`SOF15` except DHT/JPG/DAC) with non-zero dimensions and 1–4 components, before
///   the first `SOS`; entropy-coded data after each `SOS` up to the next marker (stuffed `FF00`
///   and restart markers skipped); a Huffman table (`DHT`) for Huffman-coded frames and a
///   quantization table (`DQT`) before the first scan; `EOI` (FFD9) at the end.
struct DocumentImage: Sendable, Equatable {
    /// The container formats the check accepts.
    enum Format: String, Sendable {
        case png = "PNG"
        case jpeg = "JPEG"
    }

    var format: Format
    var width: Int
    var height: Int

    /// The smallest width and height the KYC check accepts.
    static let minimumSide = 200

    /// The media types accepted in a data URL, and the format each declares.
    static let mediaTypes: [String: Format] = ["image/png": .png, "image/jpeg": .jpeg, "image/jpg": .jpeg]

    /// Whether `text` is shaped like a data URL of a JPEG or PNG image (`data:image/png;base64,…`),
    /// the check done when a request arrives; `nil` when it is, else why not.
    static func shapeProblem(_ text: String) -> String? {
        guard let (mediaType, _) = splitDataURL(text) else {
            return "Must be a data URL of a JPEG or PNG image (data:image/jpeg;base64,…)"
        }
        guard mediaTypes[mediaType] != nil else {
            return "Must be a data URL of a JPEG or PNG image, not \(mediaType)"
        }
        return nil
    }

    /// Why the KYC check refuses the image in `dataURL`, or `nil` when it is a decodable JPEG or
    /// PNG of at least 200×200 pixels.
    static func rejectionReason(_ dataURL: String) -> String? {
        switch inspect(dataURL) {
        case .failure(let problem):
            return "not a decodable JPEG or PNG image (\(problem.reason))"
        case .success(let image):
            guard image.width >= minimumSide, image.height >= minimumSide else {
                return "\(image.width)×\(image.height) pixels; at least \(minimumSide)×\(minimumSide) are required"
            }
            return nil
        }
    }

    /// Why an image could not be read.
    struct Problem: Error, Equatable {
        var reason: String
    }

    /// Decodes the data URL and reads the image's container.
    static func inspect(_ dataURL: String) -> Result<DocumentImage, Problem> {
        guard let (mediaType, payload) = splitDataURL(dataURL), let declared = mediaTypes[mediaType] else {
            return .failure(Problem(reason: "not a data URL of image/jpeg or image/png"))
        }
        guard let data = Data(base64Encoded: String(payload), options: [.ignoreUnknownCharacters]), !data.isEmpty else {
            return .failure(Problem(reason: "the base64 payload does not decode"))
        }
        let bytes = [UInt8](data)
        let result: Result<DocumentImage, Problem>
        if bytes.starts(with: pngSignature) {
            result = readPNG(bytes)
        } else if bytes.starts(with: [0xFF, 0xD8]) {
            result = readJPEG(bytes)
        } else {
            return .failure(Problem(reason: "neither a PNG nor a JPEG signature"))
        }
        if case .success(let image) = result, image.format != declared {
            return .failure(Problem(reason: "declared \(mediaType) but the data is a \(image.format.rawValue)"))
        }
        return result
    }

    /// `data:<media type>;base64,<payload>` → (lower-cased media type, payload).
    static func splitDataURL(_ text: String) -> (String, Substring)? {
        guard text.hasPrefix("data:"), let comma = text.firstIndex(of: ",") else { return nil }
        let header = text[text.index(text.startIndex, offsetBy: 5)..<comma]
        let parts = header.split(separator: ";").map { $0.lowercased() }
        guard let mediaType = parts.first, parts.dropFirst().contains("base64") else { return nil }
        let payload = text[text.index(after: comma)...]
        guard !payload.isEmpty else { return nil }
        return (mediaType, payload)
    }

    // MARK: PNG

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func readPNG(_ bytes: [UInt8]) -> Result<DocumentImage, Problem> {
        func fail(_ reason: String) -> Result<DocumentImage, Problem> { .failure(Problem(reason: "PNG: " + reason)) }
        var offset = pngSignature.count
        var header: (width: Int, height: Int, colorType: UInt8)?
        var sawPalette = false
        var imageData: [UInt8] = []
        var sawImageData = false
        var sawEnd = false
        while offset < bytes.count {
            guard !sawEnd else { return fail("data after IEND") }
            guard offset + 12 <= bytes.count else { return fail("truncated chunk header") }
            let length = Int(bigEndian32(bytes, offset))
            let typeBytes = Array(bytes[offset + 4..<offset + 8])
            guard typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                return fail("a chunk type is not four letters")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= 0x7FFF_FFFF, offset + 12 + length <= bytes.count else { return fail("chunk \(type) is truncated") }
            let data = Array(bytes[offset + 8..<offset + 8 + length])
            let storedCRC = bigEndian32(bytes, offset + 8 + length)
            guard CRC32.checksum(typeBytes + data) == storedCRC else { return fail("chunk \(type) has a bad CRC") }
            if header == nil, type != "IHDR" { return fail("the first chunk is \(type), not IHDR") }
            switch type {
            case "IHDR":
                guard header == nil else { return fail("a second IHDR") }
                guard length == 13 else { return fail("IHDR is \(length) bytes, not 13") }
                let width = Int(bigEndian32(data, 0))
                let height = Int(bigEndian32(data, 4))
                let depth = data[8]
                let colorType = data[9]
                guard width > 0, height > 0, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
                    return fail("IHDR has a zero or oversized dimension")
                }
                let depths: [UInt8: [UInt8]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
                guard let allowed = depths[colorType], allowed.contains(depth) else {
                    return fail("IHDR has bit depth \(depth) with colour type \(colorType)")
                }
                guard data[10] == 0, data[11] == 0, data[12] <= 1 else { return fail("IHDR has an unknown method") }
                header = (width, height, colorType)
            case "PLTE":
                guard !sawImageData else { return fail("PLTE after IDAT") }
                guard length > 0, length % 3 == 0, length <= 768 else { return fail("PLTE has \(length) bytes") }
                sawPalette = true
            case "IDAT":
                sawImageData = true
                imageData += data
            case "IEND":
                guard length == 0 else { return fail("IEND is not empty") }
                sawEnd = true
            default:
                // An unknown critical chunk (upper-case first letter) cannot be skipped by a decoder.
                guard (0x61...0x7A).contains(typeBytes[0]) else { return fail("unknown critical chunk \(type)") }
            }
            offset += 12 + length
        }
        guard let header else { return fail("no IHDR") }
        guard sawImageData else { return fail("no IDAT") }
        guard sawEnd else { return fail("no IEND: the file is truncated") }
        if header.colorType == 3, !sawPalette { return fail("a palette image without PLTE") }
        guard imageData.count >= 2, imageData[0] & 0x0F == 8, imageData[0] >> 4 <= 7,
            (Int(imageData[0]) << 8 | Int(imageData[1])) % 31 == 0, imageData[1] & 0x20 == 0
        else { return fail("the image data is not a zlib deflate stream") }
        return .success(DocumentImage(format: .png, width: header.width, height: header.height))
    }

    static func bigEndian32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    // MARK: JPEG

    static func readJPEG(_ bytes: [UInt8]) -> Result<DocumentImage, Problem> {
        func fail(_ reason: String) -> Result<DocumentImage, Problem> { .failure(Problem(reason: "JPEG: " + reason)) }
        var offset = 2
        var frame: (width: Int, height: Int, huffman: Bool)?
        var sawHuffmanTable = false
        var sawQuantizationTable = false
        var sawScan = false
        while true {
            // Fill bytes (FF FF …) may precede a marker.
            guard offset + 1 < bytes.count, bytes[offset] == 0xFF else {
                return offset >= bytes.count ? fail("no EOI: the file is truncated") : fail("expected a marker at byte \(offset)")
            }
            while offset + 1 < bytes.count, bytes[offset + 1] == 0xFF { offset += 1 }
            guard offset + 1 < bytes.count else { return fail("no EOI: the file is truncated") }
            let marker = bytes[offset + 1]
            offset += 2
            if marker == 0xD9 {
                guard sawScan, let frame else { return fail("EOI before any scan") }
                guard offset == bytes.count else { return fail("data after EOI") }
                return .success(DocumentImage(format: .jpeg, width: frame.width, height: frame.height))
            }
            guard marker != 0xD8, marker != 0x00, !(0xD0...0xD7).contains(marker), marker != 0x01 else {
                return fail(String(format: "unexpected marker FF%02X", marker))
            }
            guard offset + 2 <= bytes.count else { return fail("truncated segment") }
            let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            guard length >= 2, offset + length <= bytes.count else {
                return fail(String(format: "segment FF%02X is truncated", marker))
            }
            let segment = Array(bytes[offset + 2..<offset + length])
            switch marker {
            case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
                guard frame == nil else { return fail("a second frame header") }
                guard segment.count >= 6 else { return fail("the frame header is too short") }
                let height = Int(segment[1]) << 8 | Int(segment[2])
                let width = Int(segment[3]) << 8 | Int(segment[4])
                let components = Int(segment[5])
                guard height > 0, width > 0 else { return fail("the frame has a zero dimension") }
                guard (1...4).contains(components), segment.count == 6 + 3 * components else {
                    return fail("the frame header lists \(components) components in \(segment.count) bytes")
                }
                frame = (width, height, marker < 0xC8)
            case 0xC4:
                sawHuffmanTable = true
            case 0xDB:
                sawQuantizationTable = true
            case 0xDA:
                guard let frame else { return fail("a scan before the frame header") }
                guard sawQuantizationTable else { return fail("a scan without a quantization table") }
                guard !frame.huffman || sawHuffmanTable else { return fail("a scan without a Huffman table") }
                guard let count = segment.first, count >= 1, segment.count == 1 + 2 * Int(count) + 3 else {
                    return fail("the scan header is malformed")
                }
                sawScan = true
                offset += length
                // Entropy-coded data: up to the next marker that is not stuffing or a restart.
                while offset + 1 < bytes.count {
                    if bytes[offset] == 0xFF, bytes[offset + 1] != 0x00, !(0xD0...0xD7).contains(bytes[offset + 1]) { break }
                    offset += 1
                }
                if offset + 1 >= bytes.count { return fail("no EOI: the file is truncated") }
                continue
            default:
                break
            }
            offset += length
        }
    }
}

/// CRC-32 (ISO 3309, the polynomial PNG uses).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    /// The CRC-32 of `bytes`.
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
