/// The losses Lumen trains with, by their Keras names. All work from logits: the model's
/// final sigmoid or softmax is folded into the loss, which keeps them stable.
public enum LossKind: String, Codable, Sendable {
    case binaryCrossentropy = "binary_crossentropy"
    case categoricalCrossentropy = "categorical_crossentropy"
    case sparseCategoricalCrossentropy = "sparse_categorical_crossentropy"
}

/// A loss with its options, as Keras' `compile(loss=…)` plus `fit(class_weight=…)`.
public struct Loss: Sendable {
    public var kind: LossKind
    /// Keras' label_smoothing: BCE targets become t·(1 − s) + s/2; CCE targets t·(1 − s) + s/K.
    public var labelSmoothing: Float
    /// Per-class weights; a sample's loss is multiplied by the weight of its class.
    public var classWeights: [Float]?

    public init(_ kind: LossKind, labelSmoothing: Float = 0, classWeights: [Float]? = nil) {
        self.kind = kind
        self.labelSmoothing = labelSmoothing
        self.classWeights = classWeights
    }

    /// The batch loss (Keras' sum over the batch divided by its size) and its gradient
    /// with respect to the logits.
    ///
    ///     logits: [N, K]   labels: N class indices (for one sigmoid output, K = 1, 0 or 1)
    ///     ->  loss, dlogits: [N, K]
    public func evaluate(logits: Tensor, labels: [Int]) throws -> (loss: Float, gradient: Tensor) {
        let n = logits.shape[0], k = logits.count / max(n, 1)
        guard labels.count == n else {
            throw LumenError.shapeMismatch("\(labels.count) labels for a batch of \(n)")
        }
        let classes = k == 1 ? 2 : k
        guard labels.allSatisfy({ (0..<classes).contains($0) }) else {
            throw LumenError.shapeMismatch("labels must be class indices below \(classes)")
        }
        if let classWeights, classWeights.count != classes {
            throw LumenError.shapeMismatch("\(classWeights.count) class weights for \(classes) classes")
        }
        let targets = Loss.targets(labels: labels, outputs: k, kind: kind, smoothing: labelSmoothing)
        let weights = labels.map { classWeights?[$0] ?? 1 }
        let device = logits.device
        let (perSample, gradient) = try LossOps.crossEntropyFromLogits(
            logits, targets: try Tensor(on: device, shape: [n, k], values: targets),
            weights: try Tensor(on: device, shape: [n], values: weights), binary: kind == .binaryCrossentropy)
        guard n > 0 else { return (0, gradient) }
        let losses = try perSample.toArray()
        return (losses.reduce(0, +) / Float(n), gradient)
    }

    /// Smoothed dense targets.                       ->  [N, K] row-major
    static func targets(labels: [Int], outputs k: Int, kind: LossKind, smoothing: Float) -> [Float] {
        var targets = [Float](repeating: 0, count: labels.count * k)
        for (row, label) in labels.enumerated() {
            for column in 0..<k {
                let hot: Float = k == 1 ? Float(label) : (column == label ? 1 : 0)
                let smoothed = kind == .binaryCrossentropy
                    ? hot * (1 - smoothing) + smoothing / 2
                    : hot * (1 - smoothing) + smoothing / Float(k)
                targets[row * k + column] = smoothed
            }
        }
        return targets
    }
}
