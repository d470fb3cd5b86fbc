import Foundation

/// One file's prediction: the fields `lumen predict` prints.
public struct Prediction: Codable, Equatable {
    public let file: String
    public let predicted: String
    /// Class name → probability, in the checkpoint's class order when listed.
    public let probabilities: [String: Float]
    /// The probabilities in class order.
    public let ordered: [Float]

    enum CodingKeys: String, CodingKey { case file, predicted, probabilities }

    public init(file: String, predicted: String, probabilities: [String: Float], ordered: [Float]) {
        self.file = file
        self.predicted = predicted
        self.probabilities = probabilities
        self.ordered = ordered
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        file = try container.decode(String.self, forKey: .file)
        predicted = try container.decode(String.self, forKey: .predicted)
        probabilities = try container.decode([String: Float].self, forKey: .probabilities)
        ordered = []
    }
}

/// Runs a checkpoint on image files: decode, resize to the model's input, preprocess as
/// the checkpoint says, predict in batches.
public final class Predictor {
    public let model: Model
    public let classes: [String]
    public let preprocessing: Preprocessing
    public var interpolation: Interpolation = .nearest

    public init(checkpoint: Checkpoint, device: Device) throws {
        model = try checkpoint.makeModel(on: device)
        let outputs = model.outputCount
        let expected = outputs == 1 ? 2 : outputs
        classes = checkpoint.classes.count == expected ? checkpoint.classes : (0..<expected).map { "class_\($0)" }
        preprocessing = checkpoint.preprocessing
    }

    /// Class probabilities for each file. Files that cannot be decoded are passed to
    /// `skipped` and left out. With `augmentation` (draws > 0: test-time augmentation),
    /// each file's probabilities are the mean over the original and the augmented draws,
    /// draw d of file i keyed by (seed, d, i).
    /// `progress` is called after every batch, counting batches of `batchSize` files (a
    /// batch that passes over unreadable files takes more, so the count may end early).
    public func predict(_ files: [URL], batchSize: Int = 32, augmentation: TestAugmentation? = nil,
                        skipped: (ImageError) -> Void = { _ in },
                        progress: (BatchProgress) -> Void = { _ in }) throws -> [Prediction] {
        let input = model.spec.inputShape  // [H, W, C]
        let total = (files.count + batchSize - 1) / batchSize
        let clock = PassClock(device: model.device)
        var batchesRun = 0
        var results: [Prediction] = []
        var index = 0
        while index < files.count {
            var batch: [(index: Int, file: URL, image: Image)] = []
            while batch.count < batchSize, index < files.count {
                let file = files[index]
                index += 1
                do {
                    let image = try ImageDecoder.decode(file, channels: input[2])
                    batch.append((index - 1, file, image.resized(width: input[1], height: input[0], interpolation)))
                } catch let error as ImageError {
                    skipped(error)
                }
            }
            guard !batch.isEmpty else { continue }
            var passes: [[Float]] = []
            for draw in augmentation?.passes ?? [nil] {
                let x: Tensor
                if let augmentation, let draw {
                    var values: [Float] = []
                    for (i, _, image) in batch {
                        let transform = augmentation.augmentation.transform(seed: augmentation.seed, epoch: draw, index: i,
                                                                            height: input[0], width: input[1])
                        values += preprocessing.channelsFirst(augmentation.augmentation.apply(transform, to: FloatImage(image)))
                    }
                    x = try Tensor(on: model.device, shape: [batch.count, input[2], input[0], input[1]], values: values)
                } else {
                    x = try preprocessing.tensor(batch.map(\.image), on: model.device)
                }
                passes.append(try model.predict(x).toArray())
            }
            let output = passes.count == 1 ? passes[0] : TestAugmentation.average(passes)
            let width = model.outputCount
            for (row, (_, file, _)) in batch.enumerated() {
                var probabilities = Array(output[(row * width)..<((row + 1) * width)])
                if width == 1 { probabilities = [1 - probabilities[0], probabilities[0]] }
                let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0
                results.append(Prediction(file: file.path, predicted: classes[best],
                                          probabilities: Dictionary(uniqueKeysWithValues: zip(classes, probabilities)),
                                          ordered: probabilities))
            }
            batchesRun += 1
            if index < files.count { progress(clock.progress(done: min(batchesRun, total - 1), total: total, batchesRun: batchesRun)) }
        }
        // The end ends the count, however many files unreadable ones took.
        progress(clock.progress(done: total, total: total, batchesRun: batchesRun))
        return results
    }
}
