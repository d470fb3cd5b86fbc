import Foundation

/// A Sequential model on one device: Keras' `Sequential`, trained from logits.
///
/// When the last layer ends in a sigmoid or softmax, `logits` skips it and the loss
/// applies it (binary or categorical cross-entropy from logits), which is stable;
/// `predict` applies it.
public final class Sequential {
    /// The spec, every layer named.
    public let spec: ModelSpec
    public let device: Device
    public let layers: [Layer]
    /// Per-sample output shape of each layer, [C, H, W] or [F].
    public let outputShapes: [[Int]]

    /// Builds and initialises the model from `spec`; `seed` fixes every initial weight
    /// and dropout mask.
    public init(spec: ModelSpec, device: Device, seed: UInt64 = 0) throws {
        guard spec.inputShape.count == 3, spec.inputShape.allSatisfy({ $0 > 0 }) else {
            throw LumenError.invalidModelSpec("input_shape must be [height, width, channels], got \(spec.inputShape)")
        }
        guard !spec.layers.isEmpty else { throw LumenError.invalidModelSpec("the model has no layers") }
        var factory = LayerFactory(seed: seed)
        var named: [LayerSpec] = []
        var layers: [Layer] = []
        for layerSpec in spec.layers {
            let (s, layer) = try factory.make(layerSpec)
            named.append(s)
            layers.append(layer)
        }
        var random = SplitMix64(seed: seed)
        var shape = spec.channelsFirstInput
        var shapes: [[Int]] = []
        for layer in layers {
            try layer.build(input: shape, device: device, random: &random)
            shape = try layer.outputShape(for: shape)
            shapes.append(shape)
        }
        layers.first?.needsInputGradient = false
        self.spec = ModelSpec(name: spec.name, inputShape: spec.inputShape, layers: named)
        self.device = device
        self.layers = layers
        self.outputShapes = shapes
    }

    /// Every stored tensor, in layer order.
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    /// The last layer's activation, which `logits` leaves to the loss.
    public var outputActivation: ActivationKind { layers.last?.activation ?? .linear }

    /// The loss that matches the output: binary cross-entropy after a sigmoid,
    /// categorical cross-entropy otherwise.
    public var defaultLoss: LossKind { outputActivation == .sigmoid ? .binaryCrossentropy : .categoricalCrossentropy }

    /// Number of model outputs (classes, or 1 for a single sigmoid).
    public var outputCount: Int { outputShapes.last?.reduce(1, *) ?? 0 }

    /// Pre-activation outputs.                      x: [N, C, H, W]  ->  [N, outputs]
    public func logits(_ x: Tensor, training: Bool) throws -> Tensor {
        try checkInput(x)
        let last = layers.last!
        last.skipsActivation = last.activation == .sigmoid || last.activation == .softmax
        defer { last.skipsActivation = false }
        return try layers.reduce(x) { try $1.forward($0, training: training) }
    }

    /// Class probabilities in inference mode.       x: [N, C, H, W]  ->  [N, outputs]
    public func predict(_ x: Tensor) throws -> Tensor {
        try checkInput(x)
        let y = try layers.reduce(x) { try $1.forward($0, training: false) }
        return y
    }

    /// Back-propagates the gradient of the loss with respect to the logits, setting
    /// every trainable parameter's gradient. It stops at the first layer that trains:
    /// frozen layers below it need no gradient, which is what makes fine-tuning the last
    /// layers cheap.
    public func backward(fromLogits gradient: Tensor) throws {
        let last = layers.last!
        last.skipsActivation = last.activation == .sigmoid || last.activation == .softmax
        let firstTrainable = layers.firstIndex { layer in layer.parameters.contains { $0.trainable } } ?? layers.count
        let bottom = firstTrainable < layers.count ? layers[firstTrainable] : nil
        let needed = bottom?.needsInputGradient
        bottom?.needsInputGradient = false
        defer {
            last.skipsActivation = false
            if let bottom, let needed { bottom.needsInputGradient = needed }
        }
        // A max pool over a ReLU output applies the ReLU's derivative in its own
        // backward (zero where the input is not positive), saving a pass over the
        // largest gradients.
        var fused: [(pool: Pooling2D, below: Layer)] = []
        for (below, above) in zip(layers[firstTrainable...], layers[(firstTrainable + 1)...]) {
            if let pool = above as? Pooling2D, pool.mode == .max, below.activation == .relu, !below.skipsActivation {
                pool.appliesReLUBelow = true
                below.gradientArrivesMasked = true
                fused.append((pool, below))
            }
        }
        defer { for pair in fused { pair.pool.appliesReLUBelow = false; pair.below.gradientArrivesMasked = false } }
        var g: Tensor? = gradient
        for layer in layers[firstTrainable...].reversed() {
            guard let current = g else { break }
            g = try layer.backward(current)
        }
    }

    /// One training step: forward from logits, loss, backward, optimizer update.
    /// Returns the batch loss and the logits. A non-finite loss skips backward and the
    /// update, so the weights stay those that produced it; `beforeUpdate` runs between
    /// backward and the update and may throw to skip the update too.
    @discardableResult
    public func trainStep(_ x: Tensor, labels: [Int], loss: Loss, optimizer: Optimizer,
                          beforeUpdate: (() throws -> Void)? = nil) throws -> (loss: Float, logits: Tensor) {
        defer { for layer in layers { layer.clearCache() } }
        let z = try logits(x, training: true)
        let (value, gradient) = try loss.evaluate(logits: z, labels: labels)
        guard value.isFinite else { return (value, z) }
        try backward(fromLogits: gradient)
        try beforeUpdate?()
        try optimizer.step(parameters)
        try commitRunningStatistics()
        return (value, z)
    }

    /// The first layer whose output holds a NaN or infinity on `x` (training mode), for
    /// `--detect-anomaly`; nil when every output is finite.
    public func firstNonFiniteLayer(_ x: Tensor) throws -> String? {
        if try x.toArray().contains(where: { !$0.isFinite }) { return "the input batch" }
        var current = x
        defer { for layer in layers { layer.clearCache() } }
        for layer in layers {
            current = try layer.forward(current, training: true)
            if try current.toArray().contains(where: { !$0.isFinite }) { return "layer \(layer.name) (\(layer.typeName))" }
        }
        return nil
    }

    /// The first trainable parameter whose gradient holds a NaN or infinity.
    public func firstNonFiniteGradient() throws -> String? {
        for parameter in parameters where parameter.trainable {
            if let g = parameter.gradient, try g.toArray().contains(where: { !$0.isFinite }) { return parameter.name }
        }
        return nil
    }

    /// Folds every BatchNorm layer's last batch statistics into its running ones.
    public func commitRunningStatistics() throws {
        func visit(_ layer: Layer) throws {
            if let norm = layer as? BatchNormalization { try norm.commitRunningStatistics() }
            if let block = layer as? Residual { try (block.main + block.shortcut).forEach(visit) }
        }
        try layers.forEach(visit)
    }

    /// Sets every Dropout layer's step counter, so a resumed run draws the masks an
    /// uninterrupted one would.
    public func setDropoutStep(_ step: Int) {
        func visit(_ layer: Layer) {
            if let dropout = layer as? Dropout { dropout.step = UInt32(truncatingIfNeeded: step) }
            if let block = layer as? Residual { (block.main + block.shortcut).forEach(visit) }
        }
        layers.forEach(visit)
    }

    /// Freezes every layer but the last `count` (Keras' `layer.trainable = False` on the
    /// rest), counting the rows of `summary()`'s top level.
    public func setTrainable(last count: Int) throws {
        guard count >= 0, count <= layers.count else {
            throw LumenError.invalidModelSpec("--trainable-last \(count): the model has \(layers.count) layers")
        }
        for (index, layer) in layers.enumerated() { layer.trainable = index >= layers.count - count }
    }

    /// Freezes the layers up to and including `name`; the rest stay trainable.
    public func freeze(until name: String) throws {
        guard let last = layers.firstIndex(where: { $0.name == name }) else {
            throw LumenError.invalidModelSpec("--freeze-until '\(name)': no such layer; layers are \(layers.map(\.name).joined(separator: ", "))")
        }
        for (index, layer) in layers.enumerated() { layer.trainable = index > last }
    }

    private func checkInput(_ x: Tensor) throws {
        let expected = spec.channelsFirstInput
        guard x.shape.count == 4, Array(x.shape.dropFirst()) == expected else {
            throw LumenError.shapeMismatch("\(spec.name) expects inputs [N, \(expected.map(String.init).joined(separator: ", "))], got \(x.shape)")
        }
    }
}
