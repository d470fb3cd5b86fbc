/// A residual block: y = activation(main(x) + shortcut(x)), the shortcut being the
/// identity when it has no layers (ResNet, MobileNetV2).
public final class Residual: Layer {
    public let main: [Layer]
    public let shortcut: [Layer]

    public init(name: String, main: [Layer], shortcut: [Layer] = [], activation: ActivationKind = .linear) {
        self.main = main
        self.shortcut = shortcut
        super.init(name: name, activation: activation)
    }

    public override var typeName: String { "Residual" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        let mainShape = try main.reduce(input) { try $1.outputShape(for: $0) }
        let shortcutShape = try shortcut.reduce(input) { try $1.outputShape(for: $0) }
        guard mainShape == shortcutShape else {
            throw LumenError.shapeMismatch("\(name): the main path gives \(mainShape) but the shortcut \(shortcutShape)")
        }
        return mainShape
    }

    public override func build(input: [Int], device: Device, random: inout SplitMix64) throws {
        for path in [main, shortcut] {
            var shape = input
            for layer in path {
                try layer.build(input: shape, device: device, random: &random)
                shape = try layer.outputShape(for: shape)
            }
        }
    }

    public override var parameters: [Parameter] { (main + shortcut).flatMap(\.parameters) }

    public override var trainable: Bool {
        get { (main + shortcut).contains { $0.trainable } }
        set { for layer in main + shortcut { layer.trainable = newValue } }
    }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.layers = main.map(\.spec)
        spec.shortcut = shortcut.isEmpty ? nil : shortcut.map(\.spec)
        spec.activation = activation
        return spec
    }

    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        func run(_ path: [Layer]) throws -> Tensor {
            try zip(path, Residual.forwardPasses(path, pass)).reduce(x) { try $1.0.forward($0, $1.1) }
        }
        return try Elementwise.add(try run(main), try run(shortcut), activation: pass.fusesReLU ? .relu : .linear)
    }

    /// The block's ReLU is applied by the sum's kernel.
    public override var canApplyReLU: Bool { true }

    /// Whether layer `index` of a path is an activation its BatchNorm applies: within a
    /// path each layer's only reader is the next, so a BatchNorm followed by a ReLU or
    /// ReLU6 layer always takes it, as the model's execution plan does between layers.
    static func absorbsActivation(_ path: [Layer], at index: Int) -> Bool {
        index > 0 && BatchNormalization.absorbs(path[index]) && path[index - 1] is BatchNormalization
    }

    /// The pass of each layer of a path: the block's own, with the BatchNorm + activation
    /// fusions, and each BatchNorm folded into the convolution before it where
    /// `BatchNormalization.folds` says so (the convolution then applies its activation).
    static func forwardPasses(_ path: [Layer], _ pass: ForwardPass) -> [ForwardPass] {
        func folds(_ index: Int) -> Bool {
            guard index >= 0, index + 1 < path.count, let norm = path[index + 1] as? BatchNormalization else { return false }
            return BatchNormalization.folds(into: path[index], training: pass.training, trains: norm.trainable,
                                            keptForBackward: pass.keepsForBackward)
        }
        func fusedActivation(_ index: Int) -> ActivationKind {
            index + 1 < path.count && absorbsActivation(path, at: index + 1) ? path[index + 1].activation : .linear
        }
        return path.indices.map { index in
            var inner = pass
            inner.appliesActivation = !absorbsActivation(path, at: index)
            inner.fusedActivation = fusedActivation(index)
            if folds(index) {
                inner.foldedNormalization = path[index + 1] as? BatchNormalization
                inner.fusedActivation = fusedActivation(index + 1)
            }
            inner.normalizationFolded = folds(index - 1)
            return inner
        }
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        /// Back through one path; its first layer computes an input gradient only when the block must.
        func back(_ path: [Layer]) throws -> Tensor? {
            var gradient: Tensor? = dy
            for (index, layer) in path.enumerated().reversed() {
                guard let g = gradient else { break }
                var step = BackwardPass()
                step.needsInputGradient = index > 0 || pass.needsInputGradient
                step.appliesActivation = !Residual.absorbsActivation(path, at: index)
                gradient = try layer.backward(g, step).first ?? nil
            }
            return gradient
        }
        let mainGradient = try back(main), shortcutGradient = try back(shortcut)
        guard pass.needsInputGradient, let mainGradient, let shortcutGradient else { return nil }
        return try Elementwise.add(mainGradient, shortcutGradient)
    }

    public override func clearCache() {
        super.clearCache()
        for layer in main + shortcut { layer.clearCache() }
    }
}
