import Foundation

/// Real, small images for identity documents, made in code: any PNG or JPEG decoder reads them.
package enum TestImages {
    /// A 1-bit grayscale PNG of `width`×`height` (a checkerboard of 8-pixel squares), its pixels
    /// in stored (uncompressed) deflate blocks inside a zlib stream, every chunk with its CRC.
    package static func png(width: Int, height: Int) -> [UInt8] {
        let rowBytes = (width + 7) / 8
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (rowBytes + 1))
        for y in 0..<height {
            raw.append(0)  // filter: none
            for byteIndex in 0..<rowBytes {
                var byte: UInt8 = 0
                for bit in 0..<8 {
                    let x = byteIndex * 8 + bit
                    if x < width, (x / 8 + y / 8) % 2 == 0 { byte |= 0x80 >> UInt8(bit) }
                }
                raw.append(byte)
            }
        }
        var zlib: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let count = min(65_535, raw.count - offset)
            let final: UInt8 = offset + count == raw.count ? 1 : 0
            zlib += [final, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            zlib += raw[offset..<offset + count]
            offset += count
        } while offset < raw.count
        zlib += bigEndian(adler32(raw))
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [1, 0, 0, 0, 0]  // bit depth 1, grayscale, deflate, adaptive filter, no interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
    }

    /// A baseline grayscale JPEG of `width`×`height`, uniformly mid-grey: one quantization table,
    /// one-symbol Huffman tables (DC difference 0, end of block), one scan, `EOI`.
    package static func jpeg(width: Int, height: Int) -> [UInt8] {
        var bytes: [UInt8] = [0xFF, 0xD8]
        // APP0 JFIF 1.01, no density.
        bytes += segment(0xE0, Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0])
        bytes += segment(0xDB, [0] + [UInt8](repeating: 1, count: 64))
        bytes += segment(0xC0, [8, UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF), 1, 1, 0x11, 0])
        // DC table 0 and AC table 0, each with one code of length 1: DC category 0, AC EOB (0x00).
        let oneSymbol: [UInt8] = [1] + [UInt8](repeating: 0, count: 15) + [0]
        bytes += segment(0xC4, [0x00] + oneSymbol)
        bytes += segment(0xC4, [0x10] + oneSymbol)
        bytes += segment(0xDA, [1, 1, 0x00, 0, 63, 0])
        // Each 8×8 block is two 0 bits (DC diff 0, EOB); pad the last byte with 1 bits.
        let blocks = ((width + 7) / 8) * ((height + 7) / 8)
        let bits = blocks * 2
        var data = [UInt8](repeating: 0, count: (bits + 7) / 8)
        if bits % 8 != 0 { data[data.count - 1] = UInt8(0xFF >> (bits % 8)) }
        bytes += data
        bytes += [0xFF, 0xD9]
        return bytes
    }

    /// `data:<type>;base64,<bytes>`.
    package static func dataURL(_ bytes: [UInt8], type: String) -> String {
        "data:\(type);base64," + Data(bytes).base64EncodedString()
    }

    /// A 240×240 PNG as a data URL: accepted by the emulator's KYC check.
    package static var goodPNG: String { dataURL(png(width: 240, height: 240), type: "image/png") }

    /// A 240×240 JPEG as a data URL: accepted by the emulator's KYC check.
    package static var goodJPEG: String { dataURL(jpeg(width: 240, height: 240), type: "image/jpeg") }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return bigEndian(UInt32(data.count)) + typeBytes + data + bigEndian(crc32(typeBytes + data))
    }

    static func segment(_ marker: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let length = payload.count + 2
        return [0xFF, marker, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// CRC-32 as PNG computes it, written independently of the emulator's.
    package static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }
}
