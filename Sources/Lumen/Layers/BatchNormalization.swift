/// Keras' `BatchNormalization` over the channel axis (axis 1 in NCHW).
///
/// Training uses the batch's biased statistics and moves the running ones by
/// `running = momentum·running + (1 − momentum)·batch` (Keras' convention; PyTorch's
/// momentum is 1 − this). Inference, and any frozen layer, uses the running statistics.
/// `scale: false` drops gamma, as InceptionV3 needs.
public final class BatchNormalization: Layer {
    public let momentum: Float, epsilon: Float
    public let scale: Bool
    public private(set) var gamma: Parameter?
    public private(set) var beta: Parameter!
    public private(set) var runningMean: Parameter!
    public private(set) var runningVariance: Parameter!
    private var cache: (x: Tensor, mean: Tensor, variance: Tensor, batchStatistics: Bool, activation: ActivationKind,
                        sum: (@Sendable ([Double]) throws -> [Double])?)?
    /// Batch statistics of the last training forward, not yet folded into the running
    /// ones: that happens with the weight update (`commitRunningStatistics`), so a step
    /// that fails half-way leaves no trace.
    private var pending: (mean: Tensor, variance: Tensor)?

    public init(name: String, momentum: Float = 0.99, epsilon: Float = 1e-3, scale: Bool = true) {
        self.momentum = momentum
        self.epsilon = epsilon
        self.scale = scale
        super.init(name: name)
    }

    public override var typeName: String { "BatchNormalization" }

    public override func build(input: [Int], device: Device, random: inout SplitMix64) throws {
        let c = input[0]
        if scale { gamma = Parameter(name: "\(name).weight", value: try Tensor(on: device, shape: [c], repeating: 1)) }
        beta = Parameter(name: "\(name).bias", value: try Tensor.zeros(on: device, shape: [c]))
        runningMean = Parameter(name: "\(name).running_mean", value: try Tensor.zeros(on: device, shape: [c]),
                                isStatistic: true)
        runningVariance = Parameter(name: "\(name).running_var", value: try Tensor(on: device, shape: [c], repeating: 1),
                                    isStatistic: true)
    }

    /// Whether a BatchNormalization that is `layer`'s only input applies it in its own
    /// kernels: an activation layer of a kind the fused kernels take (ReLU, ReLU6).
    public static func absorbs(_ layer: Layer) -> Bool { layer is ActivationLayer && BatchNormOps.fuses(layer.activation) }

    /// Whether a BatchNormalization reading only `layer`'s output folds into its weights
    /// (`FoldedNormalization`) in a pass: `layer` is a convolution with no activation of
    /// its own, the normalisation uses its running statistics (not `training` while it
    /// `trains`), and no backward will need either layer's cache.
    static func folds(into layer: Layer, training: Bool, trains: Bool, keptForBackward: Bool) -> Bool {
        (layer is ConvolutionLayer || layer is SeparableConv2D) && layer.activation == .linear
            && !(training && trains) && !keptForBackward
    }

    public override var parameters: [Parameter] { [gamma, beta, runningMean, runningVariance].compactMap { $0 } }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.momentum = momentum
        spec.epsilon = epsilon
        spec.scale = .flag(scale)
        return spec
    }

    /// Whether forward uses batch statistics: in training, unless the layer is frozen.
    private func usesBatchStatistics(training: Bool) -> Bool { training && beta.trainable }

    // x: [N, C, …]  ->  same
    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        if pass.normalizationFolded {
            cache = nil
            return x
        }
        var mean: Tensor, variance: Tensor, y: Tensor
        let batchStatistics = usesBatchStatistics(training: pass.training)
        let sum = batchStatistics ? pass.replicas?.sum : nil
        if batchStatistics && sum == nil {
            // This process's own statistics, computed and applied in one go.
            (y, mean, variance) = try BatchNormOps.normalizeWithBatchStatistics(x, gamma: gamma?.value, beta: beta.value,
                                                                                epsilon: epsilon, activation: pass.fusedActivation)
            pending = (mean, variance)
        } else {
            if let sum {
                // Synchronised: the statistics of the global batch, over every process.
                (mean, variance) = try BatchNormOps.statistics(x)
                let (n, _, p) = BatchNormOps.dims(x)
                (mean, variance) = try BatchNormOps.combinedStatistics(mean: mean, variance: variance, count: n * p, sum: sum)
                pending = (mean, variance)
            } else {
                (mean, variance) = (runningMean.value, runningVariance.value)
            }
            y = try BatchNormOps.normalize(x, gamma: gamma?.value, beta: beta.value, mean: mean, variance: variance,
                                           epsilon: epsilon, activation: pass.fusedActivation)
        }
        cache = pass.keepsForBackward ? (x, mean, variance, batchStatistics, pass.fusedActivation, sum) : nil
        return y
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        guard let cache else { throw missingCache() }
        let (dx, dgamma, dbeta) = try BatchNormOps.backward(dy, x: cache.x, gamma: gamma?.value, beta: beta.value,
                                                             mean: cache.mean, variance: cache.variance, epsilon: epsilon,
                                                             training: cache.batchStatistics, activation: cache.activation,
                                                             sum: cache.sum)
        gamma?.gradient = gamma?.trainable == true ? dgamma : nil
        beta.gradient = beta.trainable ? dbeta : nil
        return pass.needsInputGradient ? dx : nil
    }

    /// running = momentum·running + (1 − momentum)·batch, for the last training forward.
    public func commitRunningStatistics() throws {
        guard let pending else { return }
        try BatchNormOps.updateRunning(mean: runningMean.value, variance: runningVariance.value,
                                       batchMean: pending.mean, batchVariance: pending.variance, momentum: momentum)
        self.pending = nil
    }

    public override func clearCache() {
        super.clearCache()
        cache = nil
        pending = nil
    }
}
