/// Batch normalisation: the twin of `Kernels/batchnorm.cl`. Tensors are viewed as
/// [N, C, P], P being H·W for images and 1 after a Dense layer. On CPU devices the
/// `_planes` kernels walk whole planes with vectors; elsewhere one work-item per element.
public enum BatchNormOps {
    /// Mean and biased variance over every process's batch, from each process's own
    /// (`sum` adds over processes): the statistics of synchronised BatchNorm.
    public static func combinedStatistics(mean: Tensor, variance: Tensor, count: Int,
                                          sum: ([Double]) throws -> [Double]) throws -> (mean: Tensor, variance: Tensor) {
        let m = try mean.toArray().map(Double.init), v = try variance.toArray().map(Double.init), n = Double(count)
        let global = try sum(m.map { $0 * n } + zip(m, v).map { n * ($1 + $0 * $0) } + [n])
        let c = m.count, total = max(global[2 * c], 1)
        let means = (0..<c).map { global[$0] / total }
        let variances = (0..<c).map { max(global[c + $0] / total - means[$0] * means[$0], 0) }
        return (try Tensor(on: mean.device, shape: [c], values: means.map(Float.init)),
                try Tensor(on: mean.device, shape: [c], values: variances.map(Float.init)))
    }

    /// Biased batch mean and variance per channel.  x: [N, C, …]  ->  mean, variance: [C]
    public static func statistics(_ x: Tensor, variant: KernelVariant? = nil) throws -> (mean: Tensor, variance: Tensor) {
        let (n, c, p) = dims(x)
        let mean = try Tensor(uninitializedOn: x.device, shape: [c])
        let variance = try Tensor(uninitializedOn: x.device, shape: [c])
        let rows = (variant ?? KernelVariant.default(for: x.device)) == .rows
        let name = rows ? "bn_statistics_planes" : "bn_statistics"
        let (global, local) = rows ? ([c], [1]) : try ReductionGroups.onePer(c, kernel: name, program: "batchnorm", on: x.device)
        try x.device.launch("batchnorm", name, global: global, local: local,
                            [.tensor(x), .tensor(mean), .tensor(variance), .size(n), .size(c), .size(p)])
        return (mean, variance)
    }

    /// The code the kernels take for an activation applied after the normalisation: 1
    /// ReLU, 2 ReLU6, 0 none (.linear). Other activations are not fused.
    static func fusedCode(_ activation: ActivationKind) -> Int {
        switch activation {
        case .relu: return 1
        case .relu6: return 2
        default: return 0
        }
    }

    /// Whether `activation` can run inside the normalisation's kernels.
    public static func fuses(_ activation: ActivationKind) -> Bool { fusedCode(activation) != 0 }

    /// y = activation(gamma·(x − mean)/sqrt(var + eps) + beta). gamma nil means 1;
    /// `activation` is .linear, .relu or .relu6.      x: [N, C, …]  ->  same
    public static func normalize(_ x: Tensor, gamma: Tensor?, beta: Tensor, mean: Tensor, variance: Tensor,
                                 epsilon: Float, activation: ActivationKind = .linear,
                                 variant: KernelVariant? = nil) throws -> Tensor {
        let (n, c, p) = dims(x)
        let y = try Tensor(uninitializedOn: x.device, shape: x.shape)
        guard y.count > 0 else { return y }
        let shared: [KernelArgument] = [.tensor(x), .tensor(y), .tensor(gamma ?? beta), .tensor(beta), .tensor(mean),
                                        .tensor(variance), .float(epsilon), .size(gamma == nil ? 0 : 1),
                                        .size(fusedCode(activation)), .size(c), .size(p)]
        if (variant ?? KernelVariant.default(for: x.device)) == .rows {
            // Planes of fewer than 2,048 floats go several to a work-item.
            let per = max(1, 2048 / max(p, 1))
            try x.device.launch("batchnorm", "bn_normalize_planes", global: [(n * c + per - 1) / per], local: [1],
                                shared + [.size(n * c), .size(per)])
        } else {
            try x.device.launch("batchnorm", "bn_normalize", global: [x.count], shared + [.size(x.count)])
        }
        return y
    }

    /// `statistics` then `normalize`: the batch's statistics and the output. On CPU-style
    /// kernels one walk per channel (`bn_forward_planes`) reads x from memory once where the
    /// two kernels read it twice.         x: [N, C, …]  ->  y: same, mean, variance: [C]
    public static func normalizeWithBatchStatistics(_ x: Tensor, gamma: Tensor?, beta: Tensor, epsilon: Float,
                                                    activation: ActivationKind = .linear, variant: KernelVariant? = nil)
        throws -> (y: Tensor, mean: Tensor, variance: Tensor) {
        guard (variant ?? KernelVariant.default(for: x.device)) == .rows else {
            let (mean, variance) = try statistics(x, variant: variant)
            let y = try normalize(x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: epsilon,
                                  activation: activation, variant: variant)
            return (y, mean, variance)
        }
        let (n, c, p) = dims(x)
        let y = try Tensor(uninitializedOn: x.device, shape: x.shape)
        let mean = try Tensor(uninitializedOn: x.device, shape: [c])
        let variance = try Tensor(uninitializedOn: x.device, shape: [c])
        try x.device.launch("batchnorm", "bn_forward_planes", global: [c], local: [1],
                            [.tensor(x), .tensor(y), .tensor(gamma ?? beta), .tensor(beta), .tensor(mean), .tensor(variance),
                             .float(epsilon), .size(gamma == nil ? 0 : 1), .size(fusedCode(activation)),
                             .size(n), .size(c), .size(p)])
        return (y, mean, variance)
    }

    /// running = momentum·running + (1 − momentum)·batch.   all: [C]
    public static func updateRunning(mean runningMean: Tensor, variance runningVariance: Tensor,
                                     batchMean: Tensor, batchVariance: Tensor, momentum: Float) throws {
        try runningMean.device.launch("batchnorm", "bn_update_running", global: [runningMean.count],
                                      [.tensor(runningMean), .tensor(runningVariance), .tensor(batchMean),
                                       .tensor(batchVariance), .float(momentum), .size(runningMean.count)])
    }

    /// Gradients. With `training` false the statistics are constants (a frozen layer).
    /// With a fused `activation`, dy is the gradient at the activation's output and its
    /// derivative is applied here, at the pre-activation recomputed from x.
    ///     x, dy: [N, C, …]   mean, variance: the statistics used forward
    ///     ->  dx: same as x,  dgamma, dbeta: [C]
    /// With `sum` (synchronised BatchNorm across processes), the input gradient uses the
    /// per-channel sums and the count over every process; dgamma and dbeta stay this
    /// process's own, to be summed with the other gradients.
    public static func backward(_ dy: Tensor, x: Tensor, gamma: Tensor?, beta: Tensor, mean: Tensor, variance: Tensor,
                                epsilon: Float, training: Bool, activation: ActivationKind = .linear,
                                sum: (([Double]) throws -> [Double])? = nil,
                                variant: KernelVariant? = nil) throws -> (dx: Tensor, dgamma: Tensor, dbeta: Tensor) {
        let act = KernelArgument.size(fusedCode(activation)), hasGamma = KernelArgument.size(gamma == nil ? 0 : 1)
        let (n, c, p) = dims(x)
        let rows = (variant ?? KernelVariant.default(for: x.device)) == .rows
        let dgamma = try Tensor(uninitializedOn: x.device, shape: [c])
        let dbeta = try Tensor(uninitializedOn: x.device, shape: [c])
        if rows && (sum == nil || !training) {
            // This process's sums only: the sums and dx in one walk per channel, the second
            // pass over x and dy mostly from cache.
            let dx = try Tensor(uninitializedOn: x.device, shape: x.shape)
            try x.device.launch("batchnorm", "bn_backward_planes", global: [c], local: [1],
                                [.tensor(x), .tensor(dy), .tensor(dx), .tensor(mean), .tensor(variance), .tensor(gamma ?? beta),
                                 .tensor(beta), .tensor(dgamma), .tensor(dbeta), .float(epsilon), hasGamma, act,
                                 .size(training ? 1 : 0), .size(n), .size(c), .size(p)])
            return (dx, dgamma, dbeta)
        }
        let reduce = rows ? "bn_backward_reduce_planes" : "bn_backward_reduce"
        let (global, local) = rows ? ([c], [1]) : try ReductionGroups.onePer(c, kernel: reduce, program: "batchnorm", on: x.device)
        try x.device.launch("batchnorm", reduce, global: global, local: local,
                            [.tensor(x), .tensor(dy), .tensor(mean), .tensor(variance), .tensor(gamma ?? beta), .tensor(beta),
                             .tensor(dgamma), .tensor(dbeta), .float(epsilon), hasGamma, act, .size(n), .size(c), .size(p)])
        var sums = (dgamma, dbeta), count = n * p
        if let sum, training {
            let global = try sum(try dgamma.toArray().map(Double.init) + dbeta.toArray().map(Double.init) + [Double(count)])
            sums = (try Tensor(on: x.device, shape: [c], values: global[0..<c].map(Float.init)),
                    try Tensor(on: x.device, shape: [c], values: global[c..<2 * c].map(Float.init)))
            count = Int(global[2 * c])
        }
        let dx = try Tensor(uninitializedOn: x.device, shape: x.shape)
        if dx.count > 0 {
            try x.device.launch("batchnorm", rows ? "bn_backward_data_planes" : "bn_backward_data",
                                global: [rows ? n * c : x.count], local: rows ? [1] : nil,
                                [.tensor(x), .tensor(dy), .tensor(dx), .tensor(gamma ?? mean), .tensor(beta), .tensor(mean),
                                 .tensor(variance), .tensor(sums.0), .tensor(sums.1), .float(epsilon),
                                 hasGamma, act, .size(training ? 1 : 0), .size(n), .size(c), .size(p), .size(count)])
        }
        return (dx, dgamma, dbeta)
    }

    static func dims(_ x: Tensor) -> (Int, Int, Int) {
        (x.shape[0], x.shape.count > 1 ? x.shape[1] : 1, x.shape.dropFirst(2).reduce(1, *))
    }
}
