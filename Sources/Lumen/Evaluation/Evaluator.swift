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

    enum CodingKeys: String, CodingKey {
        case classes, loss, accuracy, confusion = "confusion_matrix", normalized = "confusion_matrix_normalized"
        case report = "classification_report", binary
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
    /// probability) replaces argmax when given.
    public static func run(model: Sequential, classes: [String], preprocessing: Preprocessing, folder: ImageFolder,
                           threshold: Double? = nil, batchSize: Int = 32,
                           badFile: (@Sendable (ImageError) -> Void)? = nil) throws -> Evaluation {
        let input = model.spec.inputShape
        var options = LoaderOptions(height: input[0], width: input[1], channels: input[2])
        options.shuffle = false
        options.batchSize = batchSize
        options.preprocessing = preprocessing
        let loader = try BatchLoader(folder: folder, options: options)
        loader.badFile = badFile
        let loss = Loss(model.defaultLoss)
        let stream = loader.epoch(0)
        var lossSum = 0.0
        var truth: [Int] = [], predicted: [Int] = [], scores: [Double] = []
        var items: [Item] = []
        let k = model.outputCount
        while let batch = try stream.next() {
            let x = try Tensor(on: model.device, shape: batch.shape, values: batch.inputs)
            let logits = try model.logits(x, training: false)
            lossSum += Double(try loss.evaluate(logits: logits, labels: batch.labels).loss) * Double(batch.labels.count)
            let z = try logits.toArray()
            for (row, label) in batch.labels.enumerated() {
                var p = Array(z[(row * k)..<((row + 1) * k)]).map(Double.init)
                switch model.outputActivation {
                case .sigmoid: p = p.map { 1 / (1 + exp(-$0)) }
                case .softmax:
                    let top = p.max() ?? 0
                    let e = p.map { exp($0 - top) }
                    let total = e.reduce(0, +)
                    p = e.map { $0 / total }
                default: break
                }
                if k == 1 { p = [1 - p[0], p[0]] }
                var choice = p.indices.max { p[$0] < p[$1] } ?? 0
                if let threshold, classes.count == 2 { choice = p[1] >= threshold ? 1 : 0 }
                truth.append(label)
                predicted.append(choice)
                if classes.count == 2 { scores.append(p[1]) }
                items.append(Item(file: batch.files[row].path, truth: classes[label], predicted: classes[choice], probabilities: p))
            }
        }
        guard !truth.isEmpty else { throw DataError(path: folder.root.path, reason: "no image could be evaluated") }
        let matrix = ConfusionMatrix(classes: classes, truth: truth, predicted: predicted)
        let report = ClassificationReport(matrix)
        return Evaluation(classes: classes, loss: lossSum / Double(truth.count), accuracy: report.accuracy, confusion: matrix,
                          report: report, binary: classes.count == 2 ? BinaryMetrics(matrix: matrix, scores: scores, labels: truth) : nil,
                          items: items)
    }
}
