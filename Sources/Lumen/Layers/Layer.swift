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

/// This process's share of a batch split across processes (data-parallel training):
/// where its samples start in the global batch, and a sum over every process, which
/// synchronised BatchNorm uses for its statistics.
public struct ReplicaShare: Sendable {
    /// The position of this process's first sample in the global batch.
    public var sampleOffset: Int
    /// Element-wise sums over every process; nil to keep BatchNorm's statistics local.
    public var sum: (@Sendable ([Double]) throws -> [Double])?

    public init(sampleOffset: Int, sum: (@Sendable ([Double]) throws -> [Double])?) {
        self.sampleOffset = sampleOffset
        self.sum = sum
    }
}

/// How one forward pass runs through a layer, as the model's execution plan decides.
public struct ForwardPass {
    /// Batch statistics for BatchNorm and fresh dropout masks.
    public var training: Bool
    /// Keep what backward needs: in training, for layers the backward pass reaches, and
    /// for Grad-CAM, which takes gradients of a model in inference mode.
    public var keepsForBackward: Bool
    /// False on the logits layer when the loss applies its sigmoid or softmax, and on an
    /// activation layer whose input layer applies it (`fusedActivation`).
    public var appliesActivation = true
    /// Set by the layer itself: its core applies its ReLU (a GEMM epilogue).
    public internal(set) var fusesReLU = false
    /// For a BatchNormalization whose only reader is a ReLU or ReLU6 layer: apply that
    /// activation in the normalisation (the activation layer then passes values through).
    /// For a layer that folds that BatchNormalization in (`foldedNormalization`): apply it there.
    public var fusedActivation: ActivationKind = .linear
    /// For a Conv2D, DepthwiseConv2D or SeparableConv2D whose only reader is a
    /// BatchNormalization that normalises with its running statistics, when nothing
    /// keeps either for backward: that layer, to fold into the weights (the layer's
    /// own pass then says `normalizationFolded`).
    public var foldedNormalization: BatchNormalization?
    /// For that BatchNormalization: the layer below applied it; pass values through.
    public var normalizationFolded = false
    /// For a DepthwiseConv2D or SeparableConv2D whose input is a ReLU layer's output that
    /// only it reads, when nothing keeps either for backward: apply that ReLU to the input
    /// as it is loaded (the ReLU layer then passes values through).
    public var inputReLU = false
    /// Set when the batch is one process's share of a global batch.
    public var replicas: ReplicaShare?

    public init(training: Bool, keepsForBackward: Bool? = nil) {
        self.training = training
        self.keepsForBackward = keepsForBackward ?? training
    }

    public static let inference = ForwardPass(training: false)
}

/// How one backward pass runs through a layer, as the model's execution plan decides.
public struct BackwardPass {
    /// False when no layer below trains: the layer computes its parameters' gradients only.
    public var needsInputGradient = true
    /// The layer above (a max pool) already applied this layer's ReLU derivative.
    public var gradientArrivesMasked = false
    /// For a max pool over a ReLU output: apply that ReLU's derivative here.
    public var masksReLUBelow = false
    /// False on the logits layer, whose activation the loss applied, and on an activation
    /// layer whose input layer applied it (`ForwardPass.fusedActivation`; that layer
    /// applies the derivative too).
    public var appliesActivation = true
    /// The gradient other layers already sent to this layer's input, when nothing else
    /// holds it: a layer may add its input gradient into it and return it, sparing the
    /// model a separate sum (a pointwise convolution's GEMM does, with beta = 1).
    public var gradientSoFar: Tensor?

    public init() {}
}

/// A layer of a model: forward and backward side by side.
///
/// Layers that take Keras' `activation=` argument (Conv2D, Dense, …) apply it after their
/// core computation; the base class does that and its backward. Subclasses implement
/// `forwardCore` and `backwardCore` on per-batch tensors and cache, when the pass asks,
/// what their backward needs. Merge layers (several inputs) override `forwardInputs`
/// and `backwardInputs` instead. What differs between passes (training, what to keep,
/// which fusions apply) arrives as a `ForwardPass` or `BackwardPass`: a layer holds no
/// flags that others set.
open class Layer {
    /// The layer's name, unique within a model (`conv2d_1`), prefixing its parameters.
    public let name: String
    /// The fused activation applied after the core computation.
    public let activation: ActivationKind
    /// Negative slope for leaky ReLU.
    public let activationAlpha: Float
    private var activated: Tensor?

    init(name: String, activation: ActivationKind = .linear, activationAlpha: Float = 0.3) {
        self.name = name
        self.activation = activation
        self.activationAlpha = activationAlpha
    }

    /// Keras' class name, shown by `summary()`.
    open var typeName: String { "Layer" }

    /// How many inputs the layer takes: 1, or at least 2 for merge layers.
    open var takesSeveralInputs: Bool { false }

    /// The per-sample output shape for a per-sample input shape ([C, H, W] or [F]).
    open func outputShape(for input: [Int]) throws -> [Int] { input }

    /// The per-sample output shape for the per-sample shapes of every input.
    open func outputShape(forInputs inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1 else { throw LumenError.invalidModelSpec("layer '\(name)' (\(typeName)) takes one input, got \(inputs.count)") }
        return try outputShape(for: inputs[0])
    }

    /// Creates the parameters for a per-sample input shape, initialised from `random`.
    open func build(input: [Int], device: Device, random: inout SplitMix64) throws {}

    /// Every stored tensor, trainable or not, in a fixed order.
    open var parameters: [Parameter] { [] }

    /// The spec that rebuilds this layer (without its inputs, which the model adds).
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
    /// epilogue) when the pass's `fusesReLU` asks it to.
    open var canApplyReLU: Bool { false }

    /// Whether this layer ends in an activation that the pass applies.
    private func applies(_ activationWanted: Bool) -> Bool { activation != .linear && activationWanted }

    /// x: [N, …]  ->  y: [N, …].
    public final func forward(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        try forward([x], pass)
    }

    /// The forward of a layer with one or several inputs.
    public final func forward(_ xs: [Tensor], _ pass: ForwardPass) throws -> Tensor {
        var pass = pass
        pass.fusesReLU = activation == .relu && pass.appliesActivation && canApplyReLU
        let z = try forwardInputs(xs, pass)
        guard applies(pass.appliesActivation) else { return z }
        let y = pass.fusesReLU ? z : try ActivationOps.forward(z, activation, alpha: activationAlpha)
        activated = pass.keepsForBackward ? y : nil
        return y
    }

    /// A training (or inference) forward with every default: what single-layer tests use.
    public final func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try forward(x, ForwardPass(training: training))
    }

    /// dy: [N, …] (the gradient of the loss at this layer's output)  ->  one gradient per
    /// input, nil where the pass needs none. Sets the gradients of trainable parameters.
    public final func backward(_ dy: Tensor, _ pass: BackwardPass) throws -> [Tensor?] {
        var gradient = dy
        if applies(pass.appliesActivation) && !pass.gradientArrivesMasked {
            guard let activated else { throw missingCache() }
            gradient = try ActivationOps.backward(dy, y: activated, activation, alpha: activationAlpha)
        }
        return try backwardInputs(gradient, pass)
    }

    /// The input gradient of a one-input layer with every default.
    public final func backward(_ dy: Tensor) throws -> Tensor? {
        try backward(dy, BackwardPass()).first ?? nil
    }

    open func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor { x }
    open func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? { pass.needsInputGradient ? dy : nil }

    /// The core over every input; one-input layers use `forwardCore`.
    open func forwardInputs(_ xs: [Tensor], _ pass: ForwardPass) throws -> Tensor {
        guard xs.count == 1 else { throw LumenError.shapeMismatch("layer '\(name)' (\(typeName)) takes one input, got \(xs.count)") }
        return try forwardCore(xs[0], pass)
    }

    /// The core's backward to every input; one-input layers use `backwardCore`.
    open func backwardInputs(_ dy: Tensor, _ pass: BackwardPass) throws -> [Tensor?] {
        [try backwardCore(dy, pass)]
    }

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
