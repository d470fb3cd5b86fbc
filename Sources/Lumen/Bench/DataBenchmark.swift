import Foundation

/// Measures the input pipeline alone: decode, resize, augment and preprocess a folder's
/// images into batches, in images per second.
public enum DataBenchmark {
    public struct Result: Encodable {
        public let threads: Int
        public let images: Int
        public let seconds: Double
        public var imagesPerSecond: Double { Double(images) / seconds }

        enum CodingKeys: String, CodingKey { case threads, images, seconds, imagesPerSecond = "images_per_second" }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(threads, forKey: .threads)
            try c.encode(images, forKey: .images)
            try c.encode(seconds, forKey: .seconds)
            try c.encode(imagesPerSecond, forKey: .imagesPerSecond)
        }
    }

    /// One pass over the folder (epoch 0) with `threads` workers. A folder none of whose
    /// images can be read is an error, not a rate of 0.
    public static func run(folder: ImageFolder, options: LoaderOptions, threads: Int) throws -> Result {
        var options = options
        options.workers = threads
        options.prefetch = max(2, threads)
        let loader = try BatchLoader(folder: folder, options: options)
        let start = Date()
        let stream = loader.epoch(0)
        var images = 0
        while let batch = try stream.next() { images += batch.labels.count }
        if images == 0 && !folder.samples.isEmpty {
            throw DataError(path: folder.root.path, reason: "no image could be read (\(loader.badFiles.count) unusable files)")
        }
        return Result(threads: threads, images: images, seconds: Date().timeIntervalSince(start))
    }
}
