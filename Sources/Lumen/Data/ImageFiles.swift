import Foundation

/// Finding image files the way Keras' `flow_from_directory` does.
public enum ImageFiles {
    /// Extensions Keras accepts, compared without case.
    public static let extensions: Set<String> = ["png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff"]

    public static func isImage(_ url: URL) -> Bool {
        !url.lastPathComponent.hasPrefix(".") && extensions.contains(url.pathExtension.lowercased())
    }

    /// A file as itself, or every image below a folder in sorted path order. Hidden files
    /// and folders are skipped.
    public static func list(_ url: URL) throws -> [URL] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw ImageError(file: url.path, reason: "no such file or folder")
        }
        guard isFolder.boolValue else { return [url] }
        guard let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey],
                                                          options: [.skipsHiddenFiles]) else {
            throw ImageError(file: url.path, reason: "cannot be listed")
        }
        var files: [URL] = []
        for case let file as URL in walker where isImage(file) { files.append(file) }
        return files.sorted { $0.path < $1.path }
    }
}

extension Preprocessing {
    /// Images of one size to a model input.    images: N × (H, W, C) bytes  ->  [N, C, H, W]
    public func tensor(_ images: [Image], on device: Device) throws -> Tensor {
        guard let first = images.first else { throw LumenError.shapeMismatch("no images to batch") }
        let (h, w, c) = (first.height, first.width, first.channels)
        var values = [Float](repeating: 0, count: images.count * c * h * w)
        for (n, image) in images.enumerated() {
            guard image.width == w, image.height == h, image.channels == c else {
                throw LumenError.shapeMismatch("a batch mixes \(w)x\(h)x\(c) and \(image.width)x\(image.height)x\(image.channels) images")
            }
            for channel in 0..<c {
                let mean = self.mean?[channel] ?? 0, std = self.std?[channel] ?? 1
                let base = (n * c + channel) * h * w
                for i in 0..<(h * w) {
                    values[base + i] = (Float(image.pixels[i * c + channel]) * scale + offset - mean) / std
                }
            }
        }
        return try Tensor(on: device, shape: [images.count, c, h, w], values: values)
    }
}
