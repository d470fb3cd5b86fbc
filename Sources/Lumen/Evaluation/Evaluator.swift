import Foundation

/// A checkpoint run over a labelled image folder: every prediction, and the metrics
/// `lumen evaluate` reports.
public struct Evaluation: Encodable {
    public struct Item: Encodable {
        public let file: String
        public let truth: String
        public let predicted: String
        public let probabilities: [Double]
    }

    public let classes: [String]
    public let loss: Double
    public let accuracy: Double
    public let confusion: ConfusionMatrix
    public let report: ClassificationReport
    public let binary: BinaryMetrics?
    public let items: [Item]
    /// How the test images were perturbed, when they were.
    public var augmentation: TestAugmentation?

    enum CodingKeys: String, CodingKey {
        case classes, loss, accuracy, confusion = "confusion_matrix", normalized = "confusion_matrix_normalized"
        case report = "classification_report", binary, augmentation
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(classes, forKey: .classes)
        try c.encode(loss, forKey: .loss)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(confusion.counts, forKey: .confusion)
        try c.encode(confusion.rowNormalized, forKey: .normalized)
        try c.encode(report, forKey: .report)
        try c.encodeIfPresent(binary, forKey: .binary)
        try c.encodeIfPresent(augmentation, forKey: .augmentation)
    }

    /// predictions.csv: file, true class, predicted class, then one probability per class.
    public func predictionsCSV() -> String {
        func field(_ text: String) -> String {
            text.contains(where: { ",\"\n".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        var lines = [(["file", "true", "predicted"] + classes).map(field).joined(separator: ",")]
        for item in items {
            lines.append(([item.file, item.truth, item.predicted].map(field) + item.probabilities.map { String(format: "%.6f", $0) })
                .joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Runs `model` over `folder`. For two classes, `threshold` (on class 1's
    /// probability) replaces argmax when given. With `augmentation`, the images are
    /// perturbed once each, or (with draws) averaged over the original and the draws; the
    /// loss is then the cross-entropy of the averaged probabilities. `progress` is called
    /// after every batch of every pass.
    public static func run(model: Model, classes: [String], preprocessing: Preprocessing, folder: ImageFolder,
                           threshold: Double? = nil, batchSize: Int = 32, augmentation: TestAugmentation? = nil,
                           badFile: (@Sendable (ImageError) -> Void)? = nil,
                           progress: (BatchProgress) -> Void = { _ in }) throws -> Evaluation {
        let input = model.spec.inputShape
        let passCount = augmentation?.passes.count ?? 1
        let clock = PassClock(device: model.device)
        var batchesRun = 0
        let lossFunction = Loss(model.defaultLoss)
        var passes: [[[Double]]] = [], lossSum = 0.0
        var files: [String] = [], labels: [Int] = []
        for draw in augmentation?.passes ?? [nil] {
            var options = LoaderOptions(height: input[0], width: input[1], channels: input[2])
            options.shuffle = false
            options.batchSize = batchSize
            options.preprocessing = preprocessing
            if let augmentation, draw != nil {
                options.augmentation = augmentation.augmentation
                options.seed = augmentation.seed
            }
            let loader = try BatchLoader(folder: folder, options: options)
            if passes.isEmpty { loader.badFile = badFile }
            let stream = loader.epoch(draw ?? 0)
            let total = loader.batchesPerEpoch * passCount
            var rows: [[Double]] = []
            files = []
            labels = []
            while let batch = try stream.next() {
                let x = try Tensor(on: model.device, shape: batch.shape, values: batch.inputs)
                let logits = try model.logits(x, training: false)
                if augmentation?.draws ?? 0 == 0 {
                    lossSum += Double(try lossFunction.evaluate(logits: logits, labels: batch.labels).loss) * Double(batch.labels.count)
                }
                rows += probabilities(try logits.toArray(), outputs: model.outputCount, activation: model.outputActivation)
                files += batch.files.map(\.path)
                labels += batch.labels
                // Every pass over the folder counts: the original and each augmented draw.
                batchesRun += 1
                let done = passes.count * loader.batchesPerEpoch + stream.passed
                if done < total { progress(clock.progress(done: done, total: total, batchesRun: batchesRun)) }
            }
            passes.append(rows)
            // The last pass's end, with any unreadable batches at its end passed over.
            if passes.count == passCount { progress(clock.progress(done: total, total: total, batchesRun: batchesRun)) }
        }
        let probabilities = passes.count == 1 ? passes[0]
            : passes[0].indices.map { row in TestAugmentation.average(passes.map { $0[row] }) }
        guard !labels.isEmpty else { throw DataError(path: folder.root.path, reason: "no image could be evaluated") }
        if passes.count > 1 {
            lossSum = zip(probabilities, labels).map { -log(max($0[$1], 1e-7)) }.reduce(0, +)
        }
        var predicted: [Int] = [], scores: [Double] = [], items: [Item] = []
        for (row, p) in probabilities.enumerated() {
            var choice = p.indices.max { p[$0] < p[$1] } ?? 0
            if let threshold, classes.count == 2 { choice = p[1] >= threshold ? 1 : 0 }
            predicted.append(choice)
            if classes.count == 2 { scores.append(p[1]) }
            items.append(Item(file: files[row], truth: classes[labels[row]], predicted: classes[choice], probabilities: p))
        }
        let matrix = ConfusionMatrix(classes: classes, truth: labels, predicted: predicted)
        let report = ClassificationReport(matrix)
        var evaluation = Evaluation(classes: classes, loss: lossSum / Double(labels.count), accuracy: report.accuracy,
                                    confusion: matrix, report: report,
                                    binary: classes.count == 2 ? BinaryMetrics(matrix: matrix, scores: scores, labels: labels) : nil,
                                    items: items)
        evaluation.augmentation = augmentation
        return evaluation
    }

    /// Class probabilities per row: the output activation applied to the logits, and one
    /// sigmoid output read as [1 − p, p].       logits: N × K row-major
    static func probabilities(_ logits: [Float], outputs k: Int, activation: ActivationKind) -> [[Double]] {
        stride(from: 0, to: logits.count, by: max(k, 1)).map { start in
            var p = logits[start..<(start + k)].map(Double.init)
            switch activation {
            case .sigmoid: p = p.map { 1 / (1 + exp(-$0)) }
            case .softmax:
                let top = p.max() ?? 0
                let e = p.map { exp($0 - top) }
                let total = e.reduce(0, +)
                p = e.map { $0 / total }
            default: break
            }
            return k == 1 ? [1 - p[0], p[0]] : p
        }
    }
}
