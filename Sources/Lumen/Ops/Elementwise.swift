/// Elementwise ops: the twin of `Kernels/elementwise.cl`.
public enum Elementwise {
    /// x[i] = value.                                   x: [any]
    public static func fill(_ x: Tensor, with value: Float) throws {
        guard x.count > 0 else { return }
        try x.device.launch("elementwise", "fill", global: [x.count], [.tensor(x), .float(value), .size(x.count)])
    }

    /// activation(a + b), a new tensor.                a, b: [same shape]
    public static func add(_ a: Tensor, _ b: Tensor, activation: ActivationKind = .linear) throws -> Tensor {
        try requireSameShape(a, b, "add")
        let y = try Tensor(uninitializedOn: a.device, shape: a.shape)
        try add(a, b, into: y, activation: activation)
        return y
    }

    /// y = activation(a + b), the activation linear, ReLU or ReLU6. `y` may be `a` or `b`.
    ///                                                 a, b, y: [same shape]
    public static func add(_ a: Tensor, _ b: Tensor, into y: Tensor, activation: ActivationKind = .linear) throws {
        try requireSameShape(a, b, "add")
        try requireSameShape(a, y, "add")
        guard let bits = activation.epilogueBits else {
            throw LumenError.shapeMismatch("add applies linear, ReLU or ReLU6 to its sum, not \(activation.rawValue)")
        }
        guard y.count > 0 else { return }
        try y.device.launch("elementwise", "add", global: [y.count], [.tensor(a), .tensor(b), .tensor(y), .size(y.count), .int(bits)])
    }

    /// alpha * x, a new tensor.                        x: [any]
    public static func scale(_ x: Tensor, by alpha: Float) throws -> Tensor {
        let y = try Tensor(uninitializedOn: x.device, shape: x.shape)
        try scale(x, by: alpha, into: y)
        return y
    }

    /// y = alpha * x. `y` may be `x`.                  x, y: [same shape]
    public static func scale(_ x: Tensor, by alpha: Float, into y: Tensor) throws {
        try requireSameShape(x, y, "scale")
        guard y.count > 0 else { return }
        try y.device.launch("elementwise", "scale", global: [y.count], [.tensor(x), .float(alpha), .tensor(y), .size(y.count)])
    }

    /// y += alpha * x, in place.                       x, y: [same shape]
    public static func axpy(_ alpha: Float, _ x: Tensor, _ y: Tensor) throws {
        try requireSameShape(x, y, "axpy")
        guard y.count > 0 else { return }
        try y.device.launch("elementwise", "axpy", global: [y.count], [.float(alpha), .tensor(x), .tensor(y), .size(y.count)])
    }

    /// a ⊙ b, a new tensor.                            a, b: [same shape]
    public static func multiply(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try requireSameShape(a, b, "multiply")
        let y = try Tensor(uninitializedOn: a.device, shape: a.shape)
        guard y.count > 0 else { return y }
        try y.device.launch("elementwise", "multiply", global: [y.count], [.tensor(a), .tensor(b), .tensor(y), .size(y.count)])
        return y
    }

    /// scale·x + offset, a new tensor.                 x: [any]
    public static func affine(_ x: Tensor, scale: Float, offset: Float) throws -> Tensor {
        let y = try Tensor(uninitializedOn: x.device, shape: x.shape)
        guard y.count > 0 else { return y }
        try y.device.launch("elementwise", "affine", global: [y.count],
                            [.tensor(x), .float(scale), .float(offset), .tensor(y), .size(y.count)])
        return y
    }

    static func requireSameShape(_ a: Tensor, _ b: Tensor, _ op: String) throws {
        guard a.shape == b.shape else {
            throw LumenError.shapeMismatch("\(op) needs equal shapes, got \(a.shape) and \(b.shape)")
        }
        guard a.device === b.device else {
            throw LumenError.shapeMismatch("\(op) needs tensors on one device, got \(a.device.info.name) and \(b.device.info.name)")
        }
    }
}
