/// Keras' `SeparableConv2D`: a depthwise convolution (no bias) then a 1 × 1 convolution
/// with the bias and the activation, as Xception builds its blocks. Parameters
/// `<name>.depthwise.weight` [C·M, 1, KH, KW], `<name>.pointwise.weight` [O, C·M, 1, 1]
/// and `<name>.pointwise.bias` [O].
public final class SeparableConv2D: Layer {
    public let filters: Int
    public let depthwise: DepthwiseConv2D
    public let pointwise: Conv2D

    public init(name: String, filters: Int, kernelSize: WindowSize, stride: Int = 1, padding: Padding = .valid,
                depthMultiplier: Int = 1, useBias: Bool = true, activation: ActivationKind = .linear,
                kernelInitializer: Initializer = .glorotUniform) {
        self.filters = filters
        depthwise = DepthwiseConv2D(name: "\(name).depthwise", kernelSize: kernelSize, stride: stride, padding: padding,
                                    depthMultiplier: depthMultiplier, useBias: false)
        pointwise = Conv2D(name: "\(name).pointwise", filters: filters, kernelSize: 1, useBias: useBias,
                           kernelInitializer: kernelInitializer)
        super.init(name: name, activation: activation)
    }

    public override var typeName: String { "SeparableConv2D" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        try pointwise.outputShape(for: try depthwise.outputShape(for: input))
    }

    public override func build(input: [Int], device: Device, random: inout SplitMix64) throws {
        try depthwise.build(input: input, device: device, random: &random)
        try pointwise.build(input: try depthwise.outputShape(for: input), device: device, random: &random)
    }

    public override var parameters: [Parameter] { depthwise.parameters + pointwise.parameters }

    public override var spec: LayerSpec {
        var spec = depthwise.spec
        spec.type = typeName
        spec.name = name
        spec.filters = filters
        spec.useBias = pointwise.useBias
        spec.activation = activation
        if depthwise.depthMultiplier == 1 { spec.depthMultiplier = nil }
        if pointwise.kernelInitializer != .glorotUniform { spec.kernelInitializer = pointwise.kernelInitializer }
        return spec
    }

    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        // A BatchNormalization folded into this layer folds into its pointwise half.
        var second = pass
        second.appliesActivation = true
        second.inputReLU = false
        var first = pass
        first.appliesActivation = true
        first.foldedNormalization = nil
        first.fusedActivation = .linear
        return try pointwise.forward(try depthwise.forward(x, first), second)
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        guard let middle = try pointwise.backward(dy, BackwardPass()).first ?? nil else { return nil }
        var first = BackwardPass()
        first.needsInputGradient = pass.needsInputGradient
        return try depthwise.backward(middle, first).first ?? nil
    }

    public override func clearCache() {
        super.clearCache()
        depthwise.clearCache()
        pointwise.clearCache()
    }
}
