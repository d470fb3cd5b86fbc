/// Keras' `Flatten`: [N, C, H, W] -> [N, C·H·W] in NCHW order (PyTorch's order; Keras
/// flattens channels-last, which matters only when importing Keras Dense weights).
public final class Flatten: Layer {
    private var inputShape: [Int]?

    public override var typeName: String { "Flatten" }

    public init(name: String) { super.init(name: name) }

    public override func outputShape(for input: [Int]) throws -> [Int] { [input.reduce(1, *)] }

    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        inputShape = x.shape
        return try x.reshaped([x.shape[0], x.count / max(x.shape[0], 1)])
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        guard let inputShape else { throw missingCache() }
        return pass.needsInputGradient ? try dy.reshaped(inputShape) : nil
    }
}

/// Keras' `Dropout`: inverted, seeded. Each training step draws a new mask from
/// (seed, step), so runs repeat exactly; inference passes inputs through.
public final class Dropout: Layer {
    public let rate: Float
    public let seed: UInt32
    /// Training steps taken; the mask of a step depends on (seed, step). Set on resume.
    var step: UInt32 = 0
    private var mask: Tensor?

    public init(name: String, rate: Float, seed: UInt32 = 0) {
        self.rate = rate
        self.seed = seed
        super.init(name: name)
    }

    public override var typeName: String { "Dropout" }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.rate = rate
        spec.seed = Int(seed)
        return spec
    }

    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        guard pass.training, rate > 0 else { mask = nil; return x }
        step &+= 1
        // Masks follow the global batch: a process's share starts at its first sample's place.
        let offset = (pass.replicas?.sampleOffset ?? 0) * (x.count / max(x.shape[0], 1))
        let (y, mask) = try DropoutOps.forward(x, rate: rate, seed: DropoutOps.mix32(seed &+ DropoutOps.mix32(step)), offset: offset)
        self.mask = mask
        return y
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        guard pass.needsInputGradient else { return nil }
        guard let mask else { return dy }
        return try DropoutOps.backward(dy, mask: mask)
    }

    public override func clearCache() { super.clearCache(); mask = nil }
}

/// A standalone activation: Keras' `Activation`, `ReLU`, `LeakyReLU`, `Softmax`.
public final class ActivationLayer: Layer {
    public init(name: String, kind: ActivationKind, alpha: Float = 0.3) {
        super.init(name: name, activation: kind, activationAlpha: alpha)
    }

    public override var typeName: String {
        switch activation {
        case .relu: return "ReLU"
        case .leakyRelu: return "LeakyReLU"
        case .softmax: return "Softmax"
        default: return "Activation"
        }
    }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: "Activation", name: name)
        spec.activation = activation
        if activation == .leakyRelu { spec.alpha = activationAlpha }
        return spec
    }
}

/// Keras' `Reshape` where Lumen's channels-first order and Keras' channels-last order
/// hold the values alike: between flat vectors and 1 × 1 maps (MobileNet's head turns
/// its (1, 1, classes) convolution output into (classes,)).
public final class Reshape: Layer {
    /// Keras' per-sample target, channels-last.
    public let targetShape: [Int]
    private var inputShape: [Int]?

    public init(name: String, targetShape: [Int]) {
        self.targetShape = targetShape
        super.init(name: name)
    }

    public override var typeName: String { "Reshape" }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.targetShape = targetShape
        return spec
    }

    /// Whether a per-sample shape keeps one order in both layouts: flat, or a 1 × 1 map.
    private static func orderFree(_ shape: [Int]) -> Bool { shape.count == 1 || shape.count == 3 && shape[1] == 1 && shape[2] == 1 }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        var target = targetShape
        if let unknown = target.firstIndex(of: -1) {
            let known = target.filter { $0 != -1 }.reduce(1, *)
            target[unknown] = known > 0 ? input.reduce(1, *) / known : 0
        }
        let shape = target.count == 3 ? [target[2], target[0], target[1]] : target
        guard shape.reduce(1, *) == input.reduce(1, *), shape.allSatisfy({ $0 > 0 }) else {
            throw LumenError.shapeMismatch("layer '\(name)' (Reshape) cannot give \(targetShape) from \(Layer.kerasShape(input))")
        }
        guard Reshape.orderFree(input), Reshape.orderFree(shape) else {
            throw LumenError.invalidModelSpec("layer '\(name)' (Reshape): Lumen reshapes between flat vectors and 1×1 maps only, not \(Layer.kerasShape(input)) to \(targetShape)")
        }
        return shape
    }

    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        inputShape = x.shape
        return try x.reshaped([x.shape[0]] + (try outputShape(for: Array(x.shape.dropFirst()))))
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        guard let inputShape else { throw missingCache() }
        return pass.needsInputGradient ? try dy.reshaped(inputShape) : nil
    }
}
