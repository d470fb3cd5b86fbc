/// Activation functions, by their Keras names.
public enum ActivationKind: String, Codable, Sendable, CaseIterable {
    case relu, relu6, leakyRelu = "leaky_relu", sigmoid, tanh, linear, softmax

    /// The code `Kernels/activation.cl` uses (softmax has kernels of its own).
    var kernelCode: Int32 {
        switch self {
        case .relu: return 0
        case .relu6: return 1
        case .leakyRelu: return 2
        case .sigmoid: return 3
        case .tanh: return 4
        case .linear, .softmax: return 5
        }
    }

    /// The bits a GEMM or depthwise kernel's epilogue takes to apply this activation as it
    /// stores its output (2: clamp at 0, 4 with it: cap at 6); nil for the activations
    /// those kernels cannot apply.
    var epilogueBits: Int32? {
        switch self {
        case .linear: return 0
        case .relu: return 2
        case .relu6: return 6
        default: return nil
        }
    }

    /// Whether GEMM and depthwise kernels can apply this activation as they store.
    public var isEpilogue: Bool { epilogueBits != nil }
}

/// Activations: the twin of `Kernels/activation.cl`. Backward passes take the forward
/// output `y`, not the input.
public enum ActivationOps {
    /// x: [N, …]  ->  y: same (softmax over the last dimension)
    public static func forward(_ x: Tensor, _ kind: ActivationKind, alpha: Float = 0.3) throws -> Tensor {
        if kind == .linear { return x }
        let y = try Tensor(uninitializedOn: x.device, shape: x.shape)
        guard y.count > 0 else { return y }
        if kind == .softmax {
            let cols = x.shape.last ?? 1
            try x.device.launch("activation", "softmax_forward", global: [x.count / cols],
                                [.tensor(x), .tensor(y), .size(x.count / cols), .size(cols)])
        } else {
            try x.device.launch("activation", "activation_forward", global: [x.count],
                                [.tensor(x), .tensor(y), .int(kind.kernelCode), .float(alpha), .size(x.count)])
        }
        return y
    }

    /// x = activation(x), element by element (not softmax).   x: [N, …]
    public static func applyInPlace(_ x: Tensor, _ kind: ActivationKind, alpha: Float = 0.3) throws {
        guard kind != .linear, x.count > 0 else { return }
        guard kind != .softmax else { throw LumenError.shapeMismatch("softmax has no in-place form") }
        try x.device.launch("activation", "activation_forward", global: [x.count],
                            [.tensor(x), .tensor(x), .int(kind.kernelCode), .float(alpha), .size(x.count)])
    }

    /// y, dy: [N, …]  ->  dx: same
    public static func backward(_ dy: Tensor, y: Tensor, _ kind: ActivationKind, alpha: Float = 0.3) throws -> Tensor {
        if kind == .linear { return dy }
        let dx = try Tensor(uninitializedOn: dy.device, shape: dy.shape)
        guard dx.count > 0 else { return dx }
        if kind == .softmax {
            let cols = y.shape.last ?? 1
            try dy.device.launch("activation", "softmax_backward", global: [y.count / cols],
                                 [.tensor(y), .tensor(dy), .tensor(dx), .size(y.count / cols), .size(cols)])
        } else {
            try dy.device.launch("activation", "activation_backward", global: [y.count],
                                 [.tensor(y), .tensor(dy), .tensor(dx), .int(kind.kernelCode), .float(alpha), .size(y.count)])
        }
        return dx
    }
}
