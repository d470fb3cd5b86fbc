/// Inverted dropout: the twin of `Kernels/dropout.cl`.
public enum DropoutOps {
    /// Keeps each element with probability 1 − rate, scaled by 1/(1 − rate). The mask is a
    /// function of `seed` and the element's index plus `offset` only (a process holding
    /// part of a batch passes where its part starts, so masks follow the global batch).
    ///     x: [any]  ->  y, mask: same
    public static func forward(_ x: Tensor, rate: Float, seed: UInt32, offset: Int = 0) throws -> (y: Tensor, mask: Tensor) {
        let y = try Tensor(uninitializedOn: x.device, shape: x.shape)
        let mask = try Tensor(uninitializedOn: x.device, shape: x.shape)
        guard x.count > 0 else { return (y, mask) }
        try x.device.launch("dropout", "dropout_forward", global: [x.count],
                            [.tensor(x), .tensor(y), .tensor(mask), .int(Int32(bitPattern: seed)), .float(rate), .size(x.count),
                             .size(offset)])
        return (y, mask)
    }

    /// dx = dy · mask.
    public static func backward(_ dy: Tensor, mask: Tensor) throws -> Tensor {
        let dx = try Tensor(uninitializedOn: dy.device, shape: dy.shape)
        guard dx.count > 0 else { return dx }
        try dy.device.launch("dropout", "multiply", global: [dy.count],
                             [.tensor(dy), .tensor(mask), .tensor(dx), .size(dy.count)])
        return dx
    }

    /// The same hash as the kernel's `mix32`, for host references and seeding.
    public static func mix32(_ value: UInt32) -> UInt32 {
        var x = value
        x ^= x >> 16; x = x &* 0x7feb_352d
        x ^= x >> 15; x = x &* 0x846c_a68b
        x ^= x >> 16
        return x
    }
}
