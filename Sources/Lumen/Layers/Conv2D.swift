/// 2-D convolution, Keras' `Conv2D`. Weight [O, C, KH, KW] (PyTorch's OIHW), bias [O].
public final class Conv2D: Layer {
    public let filters: Int, kernelSize: Int, stride: Int
    public let padding: Padding
    public let useBias: Bool
    public let kernelInitializer: Initializer
    public private(set) var weight: Parameter!
    public private(set) var bias: Parameter?
    private var cache: (x: Tensor, geometry: WindowGeometry)?

    public init(name: String, filters: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .valid,
                useBias: Bool = true, activation: ActivationKind = .linear,
                kernelInitializer: Initializer = .glorotUniform) {
        self.filters = filters
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.useBias = useBias
        self.kernelInitializer = kernelInitializer
        super.init(name: name, activation: activation)
    }

    public override var typeName: String { "Conv2D" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        let g = try WindowGeometry(input: [1] + input, kernel: (kernelSize, kernelSize), stride: stride, padding: padding)
        return [filters, g.outHeight, g.outWidth]
    }

    public override func build(input: [Int], device: Device, random: inout SplitMix64) throws {
        let area = kernelSize * kernelSize
        (weight, bias) = try makeKernel(shape: [filters, input[0], kernelSize, kernelSize], fanIn: input[0] * area,
                                        fanOut: filters * area, initializer: kernelInitializer, bias: useBias,
                                        device: device, random: &random)
    }

    public override var parameters: [Parameter] { [weight, bias].compactMap { $0 } }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.filters = filters
        spec.kernelSize = kernelSize
        spec.strides = stride
        spec.padding = padding
        spec.useBias = useBias
        spec.activation = activation
        if kernelInitializer != .glorotUniform { spec.kernelInitializer = kernelInitializer }
        return spec
    }

    public override var canApplyReLU: Bool { true }

    // x: [N, C, H, W]  ->  [N, O, OH, OW]
    public override func forwardCore(_ x: Tensor, training: Bool) throws -> Tensor {
        let g = try WindowGeometry(input: x.shape, kernel: (kernelSize, kernelSize), stride: stride, padding: padding)
        let y = try ConvOps.forward(x, weight: weight.value, bias: bias?.value, g, relu: coreAppliesReLU)
        cache = training || recordsForBackward ? (x, g) : nil
        return y
    }

    // dy: [N, O, OH, OW]  ->  dx: [N, C, H, W]
    public override func backwardCore(_ dy: Tensor) throws -> Tensor? {
        guard let cache else { throw missingCache() }
        let (dx, dweight) = try ConvOps.backward(dy, x: cache.x, weight: weight.value, cache.geometry,
                                                     needInputGradient: needsInputGradient)
        weight.gradient = weight.trainable ? dweight : nil
        if let bias { bias.gradient = bias.trainable ? try ConvOps.channelSums(dy) : nil }
        return dx
    }

    public override func clearCache() { super.clearCache(); cache = nil }
}

/// Depthwise 2-D convolution, Keras' `DepthwiseConv2D`. Weight [C·M, 1, KH, KW] as
/// PyTorch's grouped convolution stores it, bias [C·M].
public final class DepthwiseConv2D: Layer {
    public let kernelSize: Int, stride: Int, depthMultiplier: Int
    public let padding: Padding
    public let useBias: Bool
    public private(set) var weight: Parameter!
    public private(set) var bias: Parameter?
    private var cache: (x: Tensor, geometry: WindowGeometry)?

    public init(name: String, kernelSize: Int, stride: Int = 1, padding: Padding = .valid, depthMultiplier: Int = 1,
                useBias: Bool = true, activation: ActivationKind = .linear) {
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.depthMultiplier = depthMultiplier
        self.useBias = useBias
        super.init(name: name, activation: activation)
    }

    public override var typeName: String { "DepthwiseConv2D" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        let g = try WindowGeometry(input: [1] + input, kernel: (kernelSize, kernelSize), stride: stride, padding: padding)
        return [input[0] * depthMultiplier, g.outHeight, g.outWidth]
    }

    public override func build(input: [Int], device: Device, random: inout SplitMix64) throws {
        let area = kernelSize * kernelSize
        // Keras' depthwise kernel has shape (KH, KW, C, M): fan-in KH·KW·C, fan-out KH·KW·M.
        (weight, bias) = try makeKernel(shape: [input[0] * depthMultiplier, 1, kernelSize, kernelSize], fanIn: area * input[0],
                                        fanOut: area * depthMultiplier, initializer: .glorotUniform, bias: useBias,
                                        device: device, random: &random)
    }

    public override var parameters: [Parameter] { [weight, bias].compactMap { $0 } }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.kernelSize = kernelSize
        spec.strides = stride
        spec.padding = padding
        spec.depthMultiplier = depthMultiplier
        spec.useBias = useBias
        spec.activation = activation
        return spec
    }

    // x: [N, C, H, W]  ->  [N, C·M, OH, OW]
    public override func forwardCore(_ x: Tensor, training: Bool) throws -> Tensor {
        let g = try WindowGeometry(input: x.shape, kernel: (kernelSize, kernelSize), stride: stride, padding: padding)
        let y = try ConvOps.depthwiseForward(x, weight: weight.value, multiplier: depthMultiplier, g)
        if let bias { try ConvOps.addChannelBias(y, bias.value) }
        cache = training || recordsForBackward ? (x, g) : nil
        return y
    }

    public override func backwardCore(_ dy: Tensor) throws -> Tensor? {
        guard let cache else { throw missingCache() }
        let (dx, dweight) = try ConvOps.depthwiseBackward(dy, x: cache.x, weight: weight.value, multiplier: depthMultiplier,
                                                              cache.geometry, needInputGradient: needsInputGradient)
        weight.gradient = weight.trainable ? dweight : nil
        if let bias { bias.gradient = bias.trainable ? try ConvOps.channelSums(dy) : nil }
        return dx
    }

    public override func clearCache() { super.clearCache(); cache = nil }
}
