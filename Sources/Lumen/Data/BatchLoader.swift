import Foundation

/// One batch, ready to copy to the device.
public struct Batch: Sendable {
    /// Model inputs, [N, C, H, W] row-major.
    public let inputs: [Float]
    public let shape: [Int]
    public let labels: [Int]
    public let files: [URL]
    /// For one process's share of a global batch: where the share starts in it. A whole
    /// batch starts at 0. (How many of the global batch's images were readable, the
    /// trainer learns from every process.)
    public var sampleOffset = 0

    public init(inputs: [Float], shape: [Int], labels: [Int], files: [URL]) {
        (self.inputs, self.shape, self.labels, self.files) = (inputs, shape, labels, files)
    }
}

/// Where `fit` gets its batches: image folders (`BatchLoader`) or cached features
/// (`FeatureSource`).
public protocol BatchSource: AnyObject {
    /// Samples per epoch, bad files included.
    var sampleCount: Int { get }
    var batchesPerEpoch: Int { get }
    /// Batches in one pass over the data: the epoch's unless epochs take a set number of
    /// steps from passes of another length (`StepsPerEpoch`).
    var batchesPerPass: Int { get }
    /// The image-folder loader that reads the files, through any wrapper (nil for
    /// sources that read no image files).
    var imageLoader: BatchLoader? { get }
    /// Files found unusable so far.
    var badFiles: [String] { get }
    /// The batches of one epoch, the first `skipping` left out.
    func epoch(_ epoch: Int, skipping: Int) -> BatchStream
    /// Per sample, 1 where its file was found unusable so far, else 0; empty for a source
    /// that reads no files. Processes of one run add theirs up to share what each found.
    var unusableSamples: [Float] { get }
    /// Takes the samples flagged (> 0) as unusable, so they are not read (nor named) again.
    func skip(unusable flags: [Float])
}

extension BatchSource {
    public func epoch(_ epoch: Int) -> BatchStream { self.epoch(epoch, skipping: 0) }
    public var batchesPerPass: Int { batchesPerEpoch }
    public var imageLoader: BatchLoader? { nil }
    public var unusableSamples: [Float] { [] }
    public func skip(unusable flags: [Float]) {}
}

/// Sample indices in Keras' shuffled order for an epoch: a Fisher–Yates shuffle seeded
/// by (seed, epoch), or in order when not shuffling.
func epochOrder(count: Int, seed: UInt64, epoch: Int, shuffle: Bool) -> [Int] {
    var indices = Array(0..<count)
    guard shuffle else { return indices }
    var random = SplitMix64(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
    for i in stride(from: indices.count - 1, to: 0, by: -1) {
        indices.swapAt(i, Int(random.next() % UInt64(i + 1)))
    }
    return indices
}

/// Sample indices cut into batches; the last, smaller batch kept when asked.
func batchGroups(_ order: [Int], size: Int, keepPartial: Bool) -> [[Int]] {
    var groups = stride(from: 0, to: order.count, by: size).map { Array(order[$0..<min($0 + size, order.count)]) }
    if !keepPartial, let last = groups.last, last.count < size { groups.removeLast() }
    return groups
}

/// How a `BatchLoader` turns files into batches.
public struct LoaderOptions: Sendable {
    public var height: Int
    public var width: Int
    /// 3 for RGB (grayscale images are expanded), 1 for grayscale.
    public var channels: Int
    public var interpolation: Interpolation = .nearest
    public var augmentation: Augmentation?
    public var preprocessing: Preprocessing = .rescale
    public var batchSize = 32
    public var shuffle = true
    public var seed: UInt64 = 0
    /// Decoding threads; defaults to the machine's cores.
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    /// Batches prepared ahead of the consumer.
    public var prefetch = 2
    /// Stop at the first bad file instead of skipping it.
    public var strict = false
    /// Keep the last, smaller batch (Keras does).
    public var keepPartialBatch = true
    /// In data-parallel training, this process's share of every batch: `index` of
    /// `count` equal slices (the batch size is the global batch, as Keras' tf.distribute
    /// counts it); every process shuffles alike, as PyTorch's DistributedSampler does.
    public var shard: (index: Int, count: Int)?

    public init(height: Int, width: Int, channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
    }
}

/// Decodes, resizes, augments and preprocesses an `ImageFolder` into batches on a pool
/// of worker threads, a bounded number of batches ahead of the consumer.
///
/// Each epoch shuffles from (seed, epoch). A file that cannot be decoded is reported
/// once through `badFile`, dropped from its batch and skipped in later epochs; with
/// `strict` the epoch stops with an error naming it.
public final class BatchLoader: BatchSource, @unchecked Sendable {
    public let folder: ImageFolder
    public let options: LoaderOptions
    /// Called once for each file that cannot be used, from a worker thread.
    public var badFile: (@Sendable (ImageError) -> Void)?
    private let lock = NSLock()
    private var bad: Set<String> = []

    public init(folder: ImageFolder, options: LoaderOptions) throws {
        guard options.batchSize > 0 else { throw DataError(path: folder.root.path, reason: "batch size must be positive") }
        guard [1, 3].contains(options.channels) else {
            throw DataError(path: folder.root.path, reason: "models take 1 or 3 channels, not \(options.channels)")
        }
        try options.augmentation?.validate()
        self.folder = folder
        self.options = options
    }

    /// Files found unusable so far.
    public var badFiles: [String] {
        lock.lock()
        defer { lock.unlock() }
        return bad.sorted()
    }

    public var imageLoader: BatchLoader? { self }

    public var unusableSamples: [Float] {
        lock.lock()
        defer { lock.unlock() }
        return folder.samples.map { bad.contains($0.url.path) ? 1 : 0 }
    }

    public func skip(unusable flags: [Float]) {
        lock.lock()
        defer { lock.unlock() }
        for (sample, flag) in zip(folder.samples, flags) where flag > 0 { bad.insert(sample.url.path) }
    }

    public var batchesPerEpoch: Int {
        let n = folder.samples.count, size = options.batchSize
        return options.keepPartialBatch ? (n + size - 1) / size : n / size
    }

    public var sampleCount: Int { folder.samples.count }

    /// The sample order of `epoch`: shuffled from (seed, epoch), or folder order.
    public func order(epoch: Int) -> [Int] {
        epochOrder(count: folder.samples.count, seed: options.seed, epoch: epoch, shuffle: options.shuffle)
    }

    /// The batches of one epoch, prepared in the background; `skipping` leaves out the
    /// first batches (a resumed epoch).
    public func epoch(_ epoch: Int, skipping: Int) -> BatchStream {
        let groups = Array(batchGroups(order(epoch: epoch), size: options.batchSize, keepPartial: options.keepPartialBatch)
            .dropFirst(skipping))
        return BatchStream(count: groups.count, depth: options.prefetch) { [self] index in
            guard let shard = options.shard else { return try makeBatch(groups[index], epoch: epoch) }
            let group = groups[index]
            let start = shard.index * group.count / shard.count, end = (shard.index + 1) * group.count / shard.count
            // A share without one readable image still comes, empty: every process must
            // reach the step's collectives, and they decide to skip it together.
            var batch = try makeBatch(Array(group[start..<end]), epoch: epoch)
                ?? Batch(inputs: [], shape: [0, options.channels, options.height, options.width], labels: [], files: [])
            batch.sampleOffset = start
            return batch
        }
    }

    /// One sample as model input, [C, H, W] floats.
    public func load(sample index: Int, epoch: Int) throws -> [Float] {
        let sample = folder.samples[index]
        let image = try ImageDecoder.decode(sample.url, channels: options.channels)
        var pixels = FloatImage(image.resized(width: options.width, height: options.height, options.interpolation))
        if let augmentation = options.augmentation, !augmentation.isIdentity {
            let transform = augmentation.transform(seed: options.seed, epoch: epoch, index: index,
                                                   height: options.height, width: options.width)
            pixels = augmentation.apply(transform, to: pixels)
        }
        return options.preprocessing.channelsFirst(pixels)
    }

    /// Builds one batch from sample indices on `workers` threads.
    func makeBatch(_ indices: [Int], epoch: Int) throws -> Batch? {
        let c = options.channels, h = options.height, w = options.width
        var results = [[Float]?](repeating: nil, count: indices.count)
        var errors = [ImageError?](repeating: nil, count: indices.count)
        let skip = Set(badFiles)
        let workers = max(1, min(options.workers, indices.count))
        results.withUnsafeMutableBufferPointer { results in
            errors.withUnsafeMutableBufferPointer { errors in
                let resultBase = results, errorBase = errors
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    for position in stride(from: worker, to: indices.count, by: workers) {
                        let index = indices[position]
                        guard !skip.contains(folder.samples[index].url.path) else { continue }
                        do {
                            resultBase[position] = try load(sample: index, epoch: epoch)
                        } catch let error as ImageError {
                            errorBase[position] = error
                        } catch {
                            errorBase[position] = ImageError(file: folder.samples[index].url.path, reason: "\(error)")
                        }
                    }
                }
            }
        }
        for error in errors.compactMap({ $0 }) {
            if options.strict { throw error }
            lock.lock()
            let isNew = bad.insert(error.file).inserted
            lock.unlock()
            if isNew { badFile?(error) }
        }
        var inputs: [Float] = []
        inputs.reserveCapacity(indices.count * c * h * w)
        var labels: [Int] = [], files: [URL] = []
        for (position, index) in indices.enumerated() {
            guard let values = results[position] else { continue }
            inputs += values
            labels.append(folder.samples[index].label)
            files.append(folder.samples[index].url)
        }
        guard !labels.isEmpty else { return nil }
        return Batch(inputs: inputs, shape: [labels.count, c, h, w], labels: labels, files: files)
    }
}

/// The batches of one epoch. A background thread keeps up to `prefetch` batches ready;
/// dropping the stream (or `cancel()`) stops it.
public final class BatchStream: @unchecked Sendable {
    private let state: PrefetchState

    /// `count` batches made in order by `make` on a background thread, up to `depth` ahead.
    init(count: Int, depth: Int, make: @escaping (Int) throws -> Batch?) {
        let state = PrefetchState(total: count, depth: max(1, depth))
        self.state = state
        self.count = count
        // The thread holds the state and the maker, never the stream, so dropping the
        // stream cancels the work.
        let thread = Thread { state.produce(make) }
        thread.name = "lumen-batch-loader"
        thread.start()
    }

    deinit { state.cancel() }

    /// Batches in this epoch (some may come back smaller when files are bad).
    public let count: Int

    /// Batches of this stream passed so far, those skipped for having no readable file
    /// included: a resumed epoch starts after this many.
    public private(set) var passed = 0

    /// The next batch, nil at the end of the epoch. Throws the first bad file under `strict`.
    public func next() throws -> Batch? {
        while let position = try nextPosition() {
            if let batch = position { return batch }  // else every file of this batch was bad
        }
        return nil
    }

    /// The next batch position: its batch, or nil when every file of it was bad; nil
    /// (the outer optional) at the end of the epoch.
    func nextPosition() throws -> Batch?? {
        guard let result = state.take() else { return nil }
        passed += 1
        switch result {
        case .failure(let error):
            state.cancel()
            throw error
        case .success(let batch):
            return .some(batch)
        }
    }

    /// Stops the background thread.
    public func cancel() { state.cancel() }
}

/// An ordered, bounded hand-over of results from one producer to one consumer.
final class PrefetchState: @unchecked Sendable {
    private let condition = NSCondition()
    private let total: Int, depth: Int
    private var ready: [Int: Result<Batch?, Error>] = [:]
    private var produced = 0, consumed = 0
    private var cancelled = false

    init(total: Int, depth: Int) {
        self.total = total
        self.depth = depth
    }

    func produce(_ make: (Int) throws -> Batch?) {
        while true {
            condition.lock()
            while !cancelled && produced - consumed >= depth { condition.wait() }
            if cancelled || produced >= total {
                condition.unlock()
                return
            }
            let index = produced
            condition.unlock()
            let result = Result { try make(index) }
            condition.lock()
            ready[index] = result
            produced += 1
            condition.broadcast()
            condition.unlock()
            if case .failure = result { return }
        }
    }

    /// The next result in order, waiting for it; nil at the end or after cancel.
    func take() -> Result<Batch?, Error>? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && consumed < total && ready[consumed] == nil { condition.wait() }
        guard !cancelled, consumed < total, let result = ready.removeValue(forKey: consumed) else { return nil }
        consumed += 1
        condition.broadcast()
        return result
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

extension Preprocessing {
    /// HWC 0–255 floats to CHW model inputs.
    public func channelsFirst(_ image: FloatImage) -> [Float] {
        let plane = image.width * image.height, c = image.channels
        var out = [Float](repeating: 0, count: plane * c)
        for channel in 0..<c {
            let mean = self.mean?[channel] ?? 0, std = self.std?[channel] ?? 1
            let source = reversesChannels == true ? c - 1 - channel : channel
            for i in 0..<plane { out[channel * plane + i] = (image.pixels[i * c + source] * scale + offset - mean) / std }
        }
        return out
    }
}
