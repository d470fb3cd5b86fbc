import Foundation

/// Bottleneck features: a frozen base's outputs for every image of a folder, computed
/// once, so a shallow head can be trained on them many times faster (the tutorials'
/// "bottleneck features"). One `.safetensors` file: `features` [N, C, H, W] and
/// `labels` [N], with the classes, files, base and preprocessing in its metadata.
public struct FeatureFile {
    public static let formatName = "lumen-features"

    public var features: SafeTensors.Entry
    public var labels: [Int]
    public var classes: [String]
    public var files: [String]
    /// The base model as far as the features' layer.
    public var base: ModelSpec
    public var preprocessing: Preprocessing

    /// Per-sample feature shape, [C, H, W] or [F].
    public var sampleShape: [Int] { Array(features.shape.dropFirst()) }

    public init(features: SafeTensors.Entry, labels: [Int], classes: [String], files: [String], base: ModelSpec,
                preprocessing: Preprocessing) {
        self.features = features
        self.labels = labels
        self.classes = classes
        self.files = files
        self.base = base
        self.preprocessing = preprocessing
    }

    public init(contentsOf url: URL) throws {
        let file = try SafeTensors(contentsOf: url)
        func fail(_ defect: String) -> CheckpointError { CheckpointError(file: url.path, defect: defect) }
        guard file.metadata["format"] == FeatureFile.formatName else {
            throw fail("not a Lumen features file; write one with `lumen extract-features`")
        }
        let decoder = JSONDecoder()
        guard let features = file.tensors["features"], let labels = file.tensors["labels"],
              let classes = file.metadata["classes"].flatMap({ try? decoder.decode([String].self, from: Data($0.utf8)) }),
              let files = file.metadata["files"].flatMap({ try? decoder.decode([String].self, from: Data($0.utf8)) }),
              let base = file.metadata["base"].flatMap({ try? decoder.decode(ModelSpec.self, from: Data($0.utf8)) }),
              let preprocessing = file.metadata["preprocessing"].flatMap({ try? decoder.decode(Preprocessing.self, from: Data($0.utf8)) }),
              labels.values.count == features.shape.first, files.count == labels.values.count else {
            throw fail("its features, labels, classes, files or base are missing or disagree")
        }
        self.init(features: features, labels: labels.values.map { Int($0) }, classes: classes, files: files, base: base,
                  preprocessing: preprocessing)
    }

    public func write(to url: URL) throws {
        let metadata = ["format": FeatureFile.formatName, "classes": try Checkpoint.json(classes),
                        "files": try Checkpoint.json(files), "base": try Checkpoint.json(base),
                        "preprocessing": try Checkpoint.json(preprocessing)]
        try SafeTensors(tensors: ["features": features, "labels": SafeTensors.Entry(shape: [labels.count], values: labels.map(Float.init))],
                        metadata: metadata).write(to: url)
    }

    /// Keras' validation split on the stored order: the first fraction of each class.
    public func split(validation fraction: Double) throws -> (training: FeatureFile, validation: FeatureFile) {
        guard fraction > 0, fraction < 1 else {
            throw LumenError.invalidTraining("validation split must be between 0 and 1, got \(fraction)")
        }
        var trainingRows: [Int] = [], validationRows: [Int] = []
        for label in classes.indices {
            let rows = labels.indices.filter { labels[$0] == label }
            let cut = Int(fraction * Double(rows.count))
            validationRows += rows.prefix(cut)
            trainingRows += rows.dropFirst(cut)
        }
        guard !validationRows.isEmpty else {
            let largest = classes.indices.map { label in labels.filter { $0 == label }.count }.max() ?? 0
            throw LumenError.invalidTraining(emptySplit(fraction, largestClass: largest))
        }
        return (subset(trainingRows), subset(validationRows))
    }

    func subset(_ rows: [Int]) -> FeatureFile {
        let width = sampleShape.reduce(1, *)
        var values: [Float] = []
        values.reserveCapacity(rows.count * width)
        for row in rows { values += features.values[(row * width)..<((row + 1) * width)] }
        var copy = self
        copy.features = SafeTensors.Entry(shape: [rows.count] + sampleShape, values: values)
        copy.labels = rows.map { labels[$0] }
        copy.files = rows.map { files[$0] }
        return copy
    }
}

/// Batches of cached features for `fit`, shuffled per (seed, epoch) like image batches.
public final class FeatureSource: BatchSource {
    public let file: FeatureFile
    public let batchSize: Int
    public let seed: UInt64
    public let shuffle: Bool

    public init(_ file: FeatureFile, batchSize: Int, seed: UInt64, shuffle: Bool) {
        self.file = file
        self.batchSize = batchSize
        self.seed = seed
        self.shuffle = shuffle
    }

    public var sampleCount: Int { file.labels.count }
    public var batchesPerEpoch: Int { (sampleCount + batchSize - 1) / batchSize }
    public var badFiles: [String] { [] }

    public func epoch(_ epoch: Int, skipping: Int) -> BatchStream {
        let groups = Array(batchGroups(epochOrder(count: sampleCount, seed: seed, epoch: epoch, shuffle: shuffle),
                                       size: batchSize, keepPartial: true).dropFirst(skipping))
        let file = self.file
        let width = file.sampleShape.reduce(1, *)
        return BatchStream(count: groups.count, depth: 2) { index in
            let rows = groups[index]
            var inputs: [Float] = []
            inputs.reserveCapacity(rows.count * width)
            for row in rows { inputs += file.features.values[(row * width)..<((row + 1) * width)] }
            return Batch(inputs: inputs, shape: [rows.count] + file.sampleShape, labels: rows.map { file.labels[$0] },
                         files: rows.map { URL(fileURLWithPath: file.files[$0]) })
        }
    }
}
