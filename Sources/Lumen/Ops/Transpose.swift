/// Transposition: the twin of `Kernels/transpose.cl`.
public enum Transpose {
    /// Swaps the last two dimensions; leading dimensions are a batch.
    ///
    ///     x: [..., R, C]  ->  [..., C, R]
    public static func lastTwo(_ x: Tensor) throws -> Tensor {
        guard x.shape.count >= 2 else {
            throw LumenError.shapeMismatch("transpose needs at least 2 dimensions, got \(x.shape)")
        }
        let rows = x.shape[x.shape.count - 2]
        let cols = x.shape[x.shape.count - 1]
        let batch = x.shape.dropLast(2).reduce(1, *)
        let y = try Tensor(uninitializedOn: x.device, shape: x.shape.dropLast(2) + [cols, rows])
        guard y.count > 0 else { return y }
        try x.device.launch("transpose", "transpose", global: [cols, batch * rows],
                            [.tensor(x), .tensor(y), .size(batch), .size(rows), .size(cols)])
        return y
    }
}
