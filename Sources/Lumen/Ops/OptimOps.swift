/// Optimizer updates, one fused kernel per parameter tensor: the twin of `Kernels/optim.cl`.
enum OptimOps {
    /// Keras' SGD with momentum (Nesterov optional) and decoupled weight decay, in place.
    ///     value, gradient, velocity: [n]
    static func sgdUpdate(_ value: Tensor, gradient: Tensor, velocity: Tensor, learningRate: Float, momentum: Float,
                          nesterov: Bool, weightDecay: Float) throws {
        try value.device.launch("optim", "sgd_update", global: [value.count],
                                [.tensor(value), .tensor(gradient), .tensor(velocity), .float(learningRate),
                                 .float(momentum), .size(nesterov ? 1 : 0), .float(weightDecay), .size(value.count)])
    }

    /// Adam's update with the bias-corrected step `alpha`, in place.
    ///     value, gradient, m, v: [n]
    static func adamUpdate(_ value: Tensor, gradient: Tensor, m: Tensor, v: Tensor, alpha: Float, learningRate: Float,
                           beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float) throws {
        try value.device.launch("optim", "adam_update", global: [value.count],
                                [.tensor(value), .tensor(gradient), .tensor(m), .tensor(v), .float(alpha),
                                 .float(learningRate), .float(beta1), .float(beta2), .float(epsilon),
                                 .float(weightDecay), .size(value.count)])
    }
}
