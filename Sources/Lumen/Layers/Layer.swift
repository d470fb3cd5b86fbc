import Foundation

/// One stored tensor of a layer: a weight, a bias, or a running statistic.
public final class Parameter {
    /// `<layer>.<tensor>`, e.g. `conv2d.weight`, as in PyTorch state dicts.
    public let name: String
    /// The current value on the device.
    public let value: Tensor
    /// The gradient of the last backward pass; nil before one, and for statistics.
    public internal(set) var gradient: Tensor?
    /// Whether optimizers update it. Running statistics are never trainable.
    public var trainable: Bool
    /// True for BatchNorm's running mean and variance: saved and loaded, never trained.
    public let isStatistic: Bool

    init(name: String, value: Tensor, trainable: Bool = true, isStatistic: Bool = false) {
        self.name = name
        self.value = value
        self.trainable = trainable && !isStatistic
        self.isStatistic = isStatistic
    }
}

/// A layer of a Sequential model: forward and backward side by side.
///
/// Layers that take Keras' `activation=` argument (Conv2D, Dense, …) apply it after their
/// core computation; the base class does that and its backward. Subclasses implement
/// `forwardCore` and `backwardCore` on per-batch tensors and cache, during training,
/// what their backward needs.
open class Layer {
    /// The layer's name, unique within a model (`conv2d_1`), prefixing its parameters.
    public let name: String
    /// The fused activation applied after the core computation.
    public let activation: ActivationKind
    /// Negative slope for leaky ReLU.
    public let activationAlpha: Float
    /// Set on the last layer when the model trains from logits: the loss applies the activation.
    var skipsActivation = false
    /// Set by `Sequential.backward` when the layer above already applied this layer's
    /// ReLU derivative to the gradient it passes down (a max pool over a ReLU).
    var gradientArrivesMasked = false
    /// False for the first layer, whose input gradient nobody needs.
    var needsInputGradient = true
    /// Keep what backward needs even in inference mode (Grad-CAM takes gradients of a
    /// model running on its running statistics, without dropout).
    var recordsForBackward = false
    private var activated: Tensor?

    init(name: String, activation: ActivationKind = .linear, activationAlpha: Float = 0.3) {
        self.name = name
        self.activation = activation
        self.activationAlpha = activationAlpha
    }

    /// Keras' class name, shown by `summary()`.
    open var typeName: String { "Layer" }

    /// The per-sample output shape for a per-sample input shape ([C, H, W] or [F]).
    open func outputShape(for input: [Int]) throws -> [Int] { input }

    /// Creates the parameters for a per-sample input shape, initialised from `random`.
    open func build(input: [Int], device: Device, random: inout SplitMix64) throws {}

    /// Every stored tensor, trainable or not, in a fixed order.
    open var parameters: [Parameter] { [] }

    /// The spec that rebuilds this layer.
    open var spec: LayerSpec { LayerSpec(type: typeName, name: name) }

    /// Freezes (false) or unfreezes (true) every trainable parameter. A frozen BatchNorm
    /// also normalises with its running statistics, as in Keras.
    open var trainable: Bool {
        get { parameters.contains { $0.trainable } || parameters.allSatisfy { $0.isStatistic } && isTrainableWhenEmpty }
        set {
            isTrainableWhenEmpty = newValue
            for parameter in parameters where !parameter.isStatistic { parameter.trainable = newValue }
        }
    }
    private var isTrainableWhenEmpty = true

    /// Whether `forwardCore` can apply ReLU to its output at no extra pass (a GEMM
    /// epilogue) when `coreAppliesReLU` asks it to.
    open var canApplyReLU: Bool { false }

    /// Whether `forwardCore` applies this layer's ReLU itself, so the base class skips its
    /// activation kernel.
    var coreAppliesReLU: Bool { activation == .relu && !skipsActivation && canApplyReLU }

    /// x: [N, …]  ->  y: [N, …]. With `training`, caches what `backward` needs.
    public final func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let z = try forwardCore(x, training: training)
        if activation == .linear || skipsActivation { return z }
        let y = coreAppliesReLU ? z : try ActivationOps.forward(z, activation, alpha: activationAlpha)
        activated = training || recordsForBackward ? y : nil
        return y
    }

    /// dy: [N, …] (the gradient of the loss at this layer's output)  ->  dx: [N, …].
    /// Sets the gradients of trainable parameters. Returns nil when the input gradient
    /// is not needed.
    public final func backward(_ dy: Tensor) throws -> Tensor? {
        var gradient = dy
        if activation != .linear && !skipsActivation && !gradientArrivesMasked {
            guard let activated else { throw LumenError.shapeMismatch("\(name): backward without a training forward") }
            gradient = try ActivationOps.backward(dy, y: activated, activation, alpha: activationAlpha)
        }
        return try backwardCore(gradient)
    }

    open func forwardCore(_ x: Tensor, training: Bool) throws -> Tensor { x }
    open func backwardCore(_ dy: Tensor) throws -> Tensor? { dy }

    /// Drops tensors cached for backward.
    open func clearCache() { activated = nil }

    func missingCache() -> LumenError {
        LumenError.shapeMismatch("\(name): backward called without a training forward pass")
    }
}

extension Layer {
    /// A kernel drawn from `initializer` (PyTorch layout, `<name>.weight`) and, when asked,
    /// a zero bias over its first dimension (`<name>.bias`): what Conv2D,
    /// DepthwiseConv2D and Dense create.
    func makeKernel(shape: [Int], fanIn: Int, fanOut: Int, initializer: Initializer, bias: Bool, device: Device,
                    random: inout SplitMix64) throws -> (weight: Parameter, bias: Parameter?) {
        let values = initializer.values(count: shape.reduce(1, *), fanIn: fanIn, fanOut: fanOut, random: &random)
        let weight = Parameter(name: "\(name).weight", value: try Tensor(on: device, shape: shape, values: values))
        let biasParameter = bias ? Parameter(name: "\(name).bias", value: try Tensor.zeros(on: device, shape: [shape[0]])) : nil
        return (weight, biasParameter)
    }
}

// MARK: - Initialisers

/// Keras' weight initialisers, seeded.
public enum Initializer: String, Codable, Sendable {
    case glorotUniform = "glorot_uniform"
    case heNormal = "he_normal"
    case zeros, ones

    /// Values for a tensor with the given fans. He-normal is Keras' truncated normal
    /// (resampled beyond 2σ, σ corrected by 0.8796).
    func values(count: Int, fanIn: Int, fanOut: Int, random: inout SplitMix64) -> [Float] {
        switch self {
        case .zeros: return [Float](repeating: 0, count: count)
        case .ones: return [Float](repeating: 1, count: count)
        case .glorotUniform:
            let limit = (6 / Float(max(fanIn + fanOut, 1))).squareRoot()
            return (0..<count).map { _ in random.nextFloat(in: -limit..<limit) }
        case .heNormal:
            let sigma = (2 / Float(max(fanIn, 1))).squareRoot() / 0.879_625_66
            return (0..<count).map { _ in
                while true {
                    let u1 = max(random.nextFloat(in: 0..<1), 1e-12), u2 = random.nextFloat(in: 0..<1)
                    let z = (-2 * log(u1)).squareRoot() * cos(2 * Float.pi * u2)
                    if abs(z) <= 2 { return z * sigma }
                }
            }
        }
    }
}
