/// Keras' `Dense`: y = x·Wᵀ + b with W [out, in] (PyTorch's Linear layout).
public final class Dense: Layer {
    public let units: Int
    public let useBias: Bool
    public let kernelInitializer: Initializer
    public private(set) var weight: Parameter!
    public private(set) var bias: Parameter?
    private var cachedInput: Tensor?

    public init(name: String, units: Int, activation: ActivationKind = .linear, useBias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform) {
        self.units = units
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        super.init(name: name, activation: activation)
    }

    public override var typeName: String { "Dense" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 1 else {
            throw LumenError.shapeMismatch("\(name) (Dense) needs flat inputs, got \(input); add a Flatten layer before it")
        }
        return [units]
    }

    public override func build(input: [Int], device: Device, random: inout SplitMix64) throws {
        (weight, bias) = try makeKernel(shape: [units, input[0]], fanIn: input[0], fanOut: units, initializer: kernelInitializer,
                                        bias: useBias, device: device, random: &random)
    }

    public override var parameters: [Parameter] { [weight, bias].compactMap { $0 } }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.units = units
        spec.useBias = useBias
        spec.activation = activation
        if kernelInitializer != .glorotUniform { spec.kernelInitializer = kernelInitializer }
        return spec
    }

    // x: [N, F]  ->  [N, units]
    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        let n = x.shape[0], features = x.count / max(n, 1)
        let y = try Tensor(uninitializedOn: x.device, shape: [n, units])
        if n > 0 {
            try Gemm.multiply(transposeB: true, m: n, n: units, k: features, MatrixOperand(x), MatrixOperand(weight.value),
                              into: MatrixOperand(y))
            if let bias { try ConvOps.addChannelBias(y, bias.value) }
        }
        cachedInput = pass.keepsForBackward ? x : nil
        return y
    }

    // dy: [N, units]  ->  dx: [N, F]
    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        guard let x = cachedInput else { throw missingCache() }
        let n = x.shape[0], features = x.count / max(n, 1)
        if weight.trainable {
            // dW[units, F] = dyᵀ[units, N] · x[N, F]
            let dweight = try Tensor(uninitializedOn: dy.device, shape: weight.value.shape)
            try Gemm.multiply(transposeA: true, m: units, n: features, k: n, MatrixOperand(dy), MatrixOperand(x),
                              into: MatrixOperand(dweight))
            weight.gradient = dweight
        } else {
            weight.gradient = nil
        }
        if let bias { bias.gradient = bias.trainable ? try Reduce.sum(dy, axis: 0) : nil }
        guard pass.needsInputGradient else { return nil }
        // dx[N, F] = dy[N, units] · W[units, F]
        let dx = try Tensor(uninitializedOn: dy.device, shape: x.shape)
        try Gemm.multiply(m: n, n: features, k: units, MatrixOperand(dy), MatrixOperand(weight.value), into: MatrixOperand(dx))
        return dx
    }

    public override func clearCache() { super.clearCache(); cachedInput = nil }
}
