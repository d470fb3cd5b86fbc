/// What Keras' `Conv2D` and `DepthwiseConv2D` share: a window with its stride and
/// padding, a weight and an optional bias, and the forward input kept for backward.
public class ConvolutionLayer: Layer {
    public let kernelSize: WindowSize, stride: Int
    public let padding: Padding
    public let useBias: Bool
    public internal(set) var weight: Parameter!
    public internal(set) var bias: Parameter?
    var cache: (x: Tensor, geometry: WindowGeometry)?
    /// The weight and bias with the BatchNormalization above folded in, while passes fold it.
    private(set) var folded: FoldedNormalization?

    init(name: String, kernelSize: WindowSize, stride: Int, padding: Padding, useBias: Bool, activation: ActivationKind) {
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.useBias = useBias
        super.init(name: name, activation: activation)
    }

    /// The window over an input of `shape` ([N, C, H, W]).
    func geometry(_ shape: [Int]) throws -> WindowGeometry {
        try WindowGeometry(input: shape, kernel: (kernelSize.height, kernelSize.width), stride: stride, padding: padding)
    }

    public override var parameters: [Parameter] { [weight, bias].compactMap { $0 } }

    /// The spec entries both classes write: kernel_size, strides, padding, use_bias, activation.
    func windowSpec() -> LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.kernelSize = kernelSize
        spec.strides = WindowSize(stride)
        spec.padding = padding
        spec.useBias = useBias
        spec.activation = activation
        return spec
    }

    /// The weight, bias and activation a forward runs with: the layer's own (its ReLU
    /// applied as the output is stored when the pass fuses it), or, when the pass folds a
    /// BatchNormalization in, the folded weight and bias (made once, remade when a tensor
    /// they came from has changed) and the activation that layer would apply.
    func operands(_ pass: ForwardPass) throws -> (weight: Tensor, bias: Tensor?, activation: ActivationKind) {
        guard let norm = pass.foldedNormalization else {
            folded = nil
            return (weight.value, bias?.value, pass.fusesReLU ? .relu : .linear)
        }
        if folded?.isCurrent(weight: weight.value, bias: bias?.value, norm) != true {
            folded = try FoldedNormalization(weight: weight.value, bias: bias?.value, norm)
        }
        return (folded!.weight, folded!.bias, pass.fusedActivation)
    }

    /// Keeps the forward input when backward will need it.
    func keep(_ x: Tensor, _ g: WindowGeometry, _ pass: ForwardPass) {
        cache = pass.keepsForBackward ? (x, g) : nil
    }

    /// The kept forward input, or the error of a backward without a forward.
    func kept() throws -> (x: Tensor, geometry: WindowGeometry) {
        guard let cache else { throw missingCache() }
        return cache
    }

    /// Stores the weight gradient and the bias gradient (Σ of dy over batch and plane)
    /// where they are trainable.                    dy: [N, O, OH, OW]
    func setGradients(dweight: Tensor, dy: Tensor) throws {
        weight.gradient = weight.trainable ? dweight : nil
        if let bias { bias.gradient = bias.trainable ? try ConvOps.channelSums(dy) : nil }
    }

    public override func clearCache() { super.clearCache(); cache = nil }
}

/// 2-D convolution, Keras' `Conv2D`. Weight [O, C, KH, KW] (PyTorch's OIHW), bias [O].
public final class Conv2D: ConvolutionLayer {
    public let filters: Int
    public let kernelInitializer: Initializer

    public init(name: String, filters: Int, kernelSize: WindowSize, stride: Int = 1, padding: Padding = .valid,
                useBias: Bool = true, activation: ActivationKind = .linear,
                kernelInitializer: Initializer = .glorotUniform) {
        self.filters = filters
        self.kernelInitializer = kernelInitializer
        super.init(name: name, kernelSize: kernelSize, stride: stride, padding: padding, useBias: useBias, activation: activation)
    }

    public override var typeName: String { "Conv2D" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        let g = try geometry([1] + input)
        return [filters, g.outHeight, g.outWidth]
    }

    public override func build(input: [Int], device: Device, random: inout SplitMix64) throws {
        let area = kernelSize.area
        (weight, bias) = try makeKernel(shape: [filters, input[0], kernelSize.height, kernelSize.width], fanIn: input[0] * area,
                                        fanOut: filters * area, initializer: kernelInitializer, bias: useBias,
                                        device: device, random: &random)
    }

    public override var spec: LayerSpec {
        var spec = windowSpec()
        spec.filters = filters
        if kernelInitializer != .glorotUniform { spec.kernelInitializer = kernelInitializer }
        return spec
    }

    public override var canApplyReLU: Bool { true }

    // x: [N, C, H, W]  ->  [N, O, OH, OW]
    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        let g = try geometry(x.shape)
        let (w, b, activation) = try operands(pass)
        let y = try ConvOps.forward(x, weight: w, bias: b, g, activation: activation)
        keep(x, g, pass)
        return y
    }

    // dy: [N, O, OH, OW]  ->  dx: [N, C, H, W]
    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        let (x, g) = try kept()
        let (dx, dweight) = try ConvOps.backward(dy, x: x, weight: weight.value, g, needInputGradient: pass.needsInputGradient,
                                                 adding: pass.gradientSoFar)
        try setGradients(dweight: dweight, dy: dy)
        return dx
    }
}

/// Depthwise 2-D convolution, Keras' `DepthwiseConv2D`. Weight [C·M, 1, KH, KW] as
/// PyTorch's grouped convolution stores it, bias [C·M].
public final class DepthwiseConv2D: ConvolutionLayer {
    public let depthMultiplier: Int

    public init(name: String, kernelSize: WindowSize, stride: Int = 1, padding: Padding = .valid, depthMultiplier: Int = 1,
                useBias: Bool = true, activation: ActivationKind = .linear) {
        self.depthMultiplier = depthMultiplier
        super.init(name: name, kernelSize: kernelSize, stride: stride, padding: padding, useBias: useBias, activation: activation)
    }

    public override var typeName: String { "DepthwiseConv2D" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        let g = try geometry([1] + input)
        return [input[0] * depthMultiplier, g.outHeight, g.outWidth]
    }

    public override func build(input: [Int], device: Device, random: inout SplitMix64) throws {
        let area = kernelSize.area
        // Keras' depthwise kernel has shape (KH, KW, C, M): fan-in KH·KW·C, fan-out KH·KW·M.
        (weight, bias) = try makeKernel(shape: [input[0] * depthMultiplier, 1, kernelSize.height, kernelSize.width], fanIn: area * input[0],
                                        fanOut: area * depthMultiplier, initializer: .glorotUniform, bias: useBias,
                                        device: device, random: &random)
    }

    public override var spec: LayerSpec {
        var spec = windowSpec()
        spec.depthMultiplier = depthMultiplier
        return spec
    }

    public override var canApplyReLU: Bool { true }

    // x: [N, C, H, W]  ->  [N, C·M, OH, OW]
    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        let g = try geometry(x.shape)
        let (w, b, activation) = try operands(pass)
        let y = try ConvOps.depthwiseForward(x, weight: w, multiplier: depthMultiplier, g, bias: b, activation: activation,
                                             inputReLU: pass.inputReLU)
        keep(x, g, pass)
        return y
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        let (x, g) = try kept()
        let (dx, dweight) = try ConvOps.depthwiseBackward(dy, x: x, weight: weight.value, multiplier: depthMultiplier,
                                                          g, needInputGradient: pass.needsInputGradient)
        try setGradients(dweight: dweight, dy: dy)
        return dx
    }
}
