import CLShim
import Foundation

/// 8-bit pixels, row-major and interleaved (height × width × channels).
public struct Image: Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    public subscript(y: Int, x: Int, c: Int) -> UInt8 { pixels[(y * width + x) * channels + c] }
}

/// Why an image file could not be used; names the file.
public struct ImageError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

/// Reads JPEG and PNG files through libjpeg and libpng in the C shim.
public enum ImageDecoder {
    /// Images above this many pixels (10,000 × 10,000) are refused before decoding, so
    /// a huge or hostile file cannot exhaust memory.
    public static let maxPixels: UInt64 = 100_000_000

    /// Decodes a file into 1 (grayscale) or 3 (RGB) channels, honouring JPEG EXIF orientation.
    public static func decode(_ url: URL, channels: Int) throws -> Image {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ImageError(file: url.path, reason: "cannot be read (\((error as NSError).localizedDescription))")
        }
        return try decode(data, channels: channels, file: url.path)
    }

    public static func decode(_ data: Data, channels: Int, file: String) throws -> Image {
        var raw = lm_image()
        var message = [CChar](repeating: 0, count: 256)
        let status = data.withUnsafeBytes { bytes in
            lm_image_decode(bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, Int32(channels), maxPixels,
                            &raw, &message, message.count)
        }
        defer { lm_image_free(&raw) }
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch Int(status) {
        case LM_IMAGE_OK: break
        case LM_IMAGE_UNKNOWN_FORMAT: throw ImageError(file: file, reason: text.isEmpty ? "not a JPEG or PNG file" : text)
        case LM_IMAGE_TOO_LARGE: throw ImageError(file: file, reason: "too large: \(text)")
        default: throw ImageError(file: file, reason: "corrupt image: \(text)")
        }
        let count = Int(raw.width) * Int(raw.height) * Int(raw.channels)
        let image = Image(width: Int(raw.width), height: Int(raw.height), channels: Int(raw.channels),
                          pixels: Array(UnsafeBufferPointer(start: raw.pixels, count: count)))
        return image.oriented(ExifOrientation.read(data))
    }
}

/// Resampling to a model's input size.
public enum Interpolation: String, Codable, Sendable {
    /// Keras' default (Pillow's NEAREST): source pixel floor((x + 0.5) · scale).
    case nearest
    /// Bilinear with half-pixel centres, no antialiasing.
    case bilinear
}

extension Image {
    /// The image resampled to `width` × `height`.
    public func resized(width newWidth: Int, height newHeight: Int, _ interpolation: Interpolation = .nearest) -> Image {
        if newWidth == width && newHeight == height { return self }
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        let sx = Double(width) / Double(newWidth), sy = Double(height) / Double(newHeight)
        for y in 0..<newHeight {
            for x in 0..<newWidth {
                for c in 0..<channels {
                    let value: UInt8
                    switch interpolation {
                    case .nearest:
                        let srcX = min(Int((Double(x) + 0.5) * sx), width - 1)
                        let srcY = min(Int((Double(y) + 0.5) * sy), height - 1)
                        value = self[srcY, srcX, c]
                    case .bilinear:
                        let fx = max((Double(x) + 0.5) * sx - 0.5, 0), fy = max((Double(y) + 0.5) * sy - 0.5, 0)
                        let x0 = min(Int(fx), width - 1), y0 = min(Int(fy), height - 1)
                        let x1 = min(x0 + 1, width - 1), y1 = min(y0 + 1, height - 1)
                        let ax = fx - Double(x0), ay = fy - Double(y0)
                        let top = Double(self[y0, x0, c]) * (1 - ax) + Double(self[y0, x1, c]) * ax
                        let bottom = Double(self[y1, x0, c]) * (1 - ax) + Double(self[y1, x1, c]) * ax
                        value = UInt8(max(0, min(255, (top * (1 - ay) + bottom * ay).rounded())))
                    }
                    out[(y * newWidth + x) * channels + c] = value
                }
            }
        }
        return Image(width: newWidth, height: newHeight, channels: channels, pixels: out)
    }

    /// Applies an EXIF orientation (1–8) so the image stands as its camera meant.
    public func oriented(_ orientation: Int) -> Image {
        guard (2...8).contains(orientation) else { return self }
        let swaps = orientation >= 5
        let outWidth = swaps ? height : width, outHeight = swaps ? width : height
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<outHeight {
            for x in 0..<outWidth {
                // (sx, sy): the source pixel that lands at (x, y).
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (width - 1 - x, y)
                case 3: (sx, sy) = (width - 1 - x, height - 1 - y)
                case 4: (sx, sy) = (x, height - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, height - 1 - x)
                case 7: (sx, sy) = (width - 1 - y, height - 1 - x)
                default: (sx, sy) = (width - 1 - y, x)
                }
                for c in 0..<channels { out[(y * outWidth + x) * channels + c] = self[sy, sx, c] }
            }
        }
        return Image(width: outWidth, height: outHeight, channels: channels, pixels: out)
    }
}

/// The Orientation tag (0x0112) of a JPEG's EXIF block; 1 when absent or unreadable.
enum ExifOrientation {
    static func read(_ data: Data) -> Int {
        let bytes = [UInt8](data.prefix(128 * 1024))
        guard bytes.count > 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return 1 }
        var offset = 2
        while offset + 4 <= bytes.count, bytes[offset] == 0xFF {
            let marker = bytes[offset + 1]
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            if marker == 0xDA || length < 2 { break }  // start of scan: no EXIF before it
            let start = offset + 4, end = min(offset + 2 + length, bytes.count)
            if marker == 0xE1, end - start > 14, Array(bytes[start..<(start + 6)]) == Array("Exif\0\0".utf8) {
                return orientation(tiff: Array(bytes[(start + 6)..<end])) ?? 1
            }
            offset += 2 + length
        }
        return 1
    }

    private static func orientation(tiff: [UInt8]) -> Int? {
        guard tiff.count >= 8 else { return nil }
        let little = tiff[0] == 0x49  // "II"
        func u16(_ at: Int) -> Int? {
            guard at + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let low = u16(little ? at : at + 2), let high = u16(little ? at + 2 : at) else { return nil }
            return high << 16 | low
        }
        guard let ifd = u32(4), let entries = u16(ifd) else { return nil }
        for entry in 0..<entries {
            let at = ifd + 2 + entry * 12
            guard let tag = u16(at) else { return nil }
            if tag == 0x0112, let value = u16(at + 8), (1...8).contains(value) { return value }
        }
        return nil
    }
}

extension Image {
    /// The image as PNG bytes, through libpng.
    public func pngData() throws -> Data {
        var buffer: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { pixels in
            lm_image_encode_png(pixels.baseAddress, Int32(width), Int32(height), Int32(channels), &buffer, &size,
                                &message, message.count)
        }
        defer { lm_buffer_release(buffer) }
        guard status == LM_IMAGE_OK, let buffer else {
            throw ImageError(file: "<png>", reason: "cannot encode: " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Data(bytes: buffer, count: size)
    }
}

extension Image {
    /// The image as JPEG bytes at `quality`, through libjpeg.
    public func jpegData(quality: Int = 90) throws -> Data {
        var buffer: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { pixels in
            lm_image_encode_jpeg(pixels.baseAddress, Int32(width), Int32(height), Int32(channels), Int32(quality),
                                 &buffer, &size, &message, message.count)
        }
        defer { lm_buffer_release(buffer) }
        guard status == LM_IMAGE_OK, let buffer else {
            throw ImageError(file: "<jpeg>", reason: "cannot encode: " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Data(bytes: buffer, count: size)
    }
}

extension FloatImage {
    /// Rounded and clipped to bytes.
    public var bytes: Image {
        Image(width: width, height: height, channels: channels, pixels: pixels.map { UInt8(max(0, min(255, $0.rounded()))) })
    }
}
