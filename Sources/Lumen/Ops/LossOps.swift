/// Losses from logits: the twin of `Kernels/loss.cl`.
enum LossOps {
    /// Per-sample weighted losses and the gradient of their mean with respect to the logits.
    ///     logits, targets: [N, K]   weights: [N]  ->  perSample: [N], gradient: [N, K]
    static func crossEntropyFromLogits(_ logits: Tensor, targets: Tensor, weights: Tensor, binary: Bool) throws
        -> (perSample: Tensor, gradient: Tensor) {
        let (n, k) = (logits.shape[0], logits.shape[1])
        let perSample = try Tensor(uninitializedOn: logits.device, shape: [n])
        let gradient = try Tensor(uninitializedOn: logits.device, shape: logits.shape)
        guard n > 0 else { return (perSample, gradient) }
        try logits.device.launch("loss", binary ? "bce_logits" : "cce_logits", global: [n],
                                 [.tensor(logits), .tensor(targets), .tensor(weights), .tensor(perSample),
                                  .tensor(gradient), .size(n), .size(k)])
        return (perSample, gradient)
    }
}
