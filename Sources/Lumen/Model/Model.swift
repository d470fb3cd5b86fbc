import Foundation

/// A model on one device: Keras' functional `Model` (a Sequential model is the one-path
/// case), a graph of named layers trained from logits.
///
/// When the output layer ends in a sigmoid or softmax, `logits` skips it and the loss
/// applies it (binary or categorical cross-entropy from logits), which is stable;
/// `predict` applies it.
public final class Model {
    /// The spec, every layer named.
    public let spec: ModelSpec
    public let device: Device
    public let layers: [Layer]
    /// Per-sample output shape of each layer, [C, H, W] or [F].
    public let outputShapes: [[Int]]
    /// How the graph runs, for the trainability the layers have now (remade when it changed).
    public var plan: ExecutionPlan {
        if layers.map({ $0.parameters.contains { $0.trainable } }) != madePlan.trainability {
            madePlan = ExecutionPlan(inputs: madePlan.inputs, layers: layers)
        }
        return madePlan
    }
    private var madePlan: ExecutionPlan
    /// For each layer, the layers it takes (−1: the model's input): the graph, which no
    /// change of trainability touches (read without re-checking the plan).
    public var inputs: [[Int]] { madePlan.inputs }

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
        let inputs = try Model.connections(named, inputName: spec.resolvedInputName)
        var random = SplitMix64(seed: seed)
        var shapes: [[Int]] = []
        for (layer, sources) in zip(layers, inputs) {
            let given = sources.map { $0 < 0 ? spec.channelsFirstInput : shapes[$0] }
            try layer.build(input: given[0], device: device, random: &random)
            shapes.append(try layer.outputShape(forInputs: given))
        }
        self.spec = ModelSpec(name: spec.name, inputShape: spec.inputShape, layers: named, inputName: spec.inputName)
        self.device = device
        self.layers = layers
        self.outputShapes = shapes
        madePlan = ExecutionPlan(inputs: inputs, layers: layers)
    }

    /// Each layer's inputs as indices (−1: the model's input): the layers its `inputs`
    /// name, or the one before it. Every name must be defined earlier in the list, and
    /// every layer must lead to the last one, the model's output.
    static func connections(_ specs: [LayerSpec], inputName: String) throws -> [[Int]] {
        var index: [String: Int] = [:]
        var result: [[Int]] = []
        for (position, spec) in specs.enumerated() {
            let name = spec.name ?? "layer \(position + 1)"
            let sources = try (spec.inputs ?? [position == 0 ? inputName : specs[position - 1].name!]).map { source -> Int in
                if source == inputName { return -1 }
                guard let found = index[source] else {
                    throw LumenError.invalidModelSpec("layer '\(name)' takes '\(source)', which is neither an earlier layer nor the input '\(inputName)'")
                }
                return found
            }
            guard !sources.isEmpty else { throw LumenError.invalidModelSpec("layer '\(name)' has an empty inputs list") }
            index[name] = position
            result.append(sources)
        }
        var used = [Bool](repeating: false, count: specs.count)
        used[specs.count - 1] = true
        for position in stride(from: specs.count - 1, through: 0, by: -1) where used[position] {
            for source in result[position] where source >= 0 { used[source] = true }
        }
        if let unused = used.firstIndex(of: false) {
            throw LumenError.invalidModelSpec("layer '\(specs[unused].name ?? "")' does not lead to the model's output, the last layer '\(specs.last?.name ?? "")'")
        }
        return result
    }

    /// Whether every layer takes the one before it: a Sequential model.
    public var isSequential: Bool {
        inputs.enumerated().allSatisfy { $0.element == [$0.offset - 1] }
    }

    /// Every stored tensor, in layer order.
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    /// The classifier: the last layer with weights (MobileNet's is a 1 × 1 convolution
    /// followed by a Reshape and an Activation).
    public var classifier: Layer? { layers.last { !$0.parameters.isEmpty } }

    /// The output layer's activation, which `logits` leaves to the loss.
    public var outputActivation: ActivationKind { layers.last?.activation ?? .linear }

    /// Whether the loss applies the output activation (sigmoid or softmax).
    private var lossAppliesActivation: Bool { outputActivation == .sigmoid || outputActivation == .softmax }

    /// The loss that matches the output: binary cross-entropy after a sigmoid,
    /// categorical cross-entropy otherwise.
    public var defaultLoss: LossKind { outputActivation == .sigmoid ? .binaryCrossentropy : .categoricalCrossentropy }

    /// Number of model outputs (classes, or 1 for a single sigmoid).
    public var outputCount: Int { outputShapes.last?.reduce(1, *) ?? 0 }

    /// The index of the layer called `name`, or one error listing the layers.
    public func layerIndex(named name: String, purpose: String = "") throws -> Int {
        guard let index = layers.firstIndex(where: { $0.name == name }) else {
            throw LumenError.invalidModelSpec("\(purpose)no layer named '\(name)'; layers are \(layers.map(\.name).joined(separator: ", "))")
        }
        return index
    }

    /// The last layer before `end` (default: all) whose output is an image larger than
    /// 1 × 1 — a base's last block, not MobileNet's 1 × 1 classifier — else the last
    /// image-shaped one: where features and Grad-CAM are taken by default.
    public func lastImageLayer(before end: Int? = nil) -> Int? {
        let images = outputShapes.indices.prefix(end ?? layers.count).filter { outputShapes[$0].count == 3 }
        return images.last { outputShapes[$0][1] * outputShapes[$0][2] > 1 } ?? images.last
    }

    /// Runs the graph on `x` up to layer `last` (default: the output) and returns its
    /// output, with the outputs of the layers in `keeping` (exposed as they are: no fusion
    /// hides them). `visits` says which layers a later backward visits (they keep their
    /// inputs); `fromLogits` leaves the output activation to the loss. Outputs no later
    /// layer reads are dropped as soon as possible.
    func run(_ x: Tensor, _ pass: ForwardPass, through last: Int? = nil, keeping: Set<Int> = [], visits: [Bool]? = nil,
             fromLogits: Bool = false, inspect: ((Int, Tensor) throws -> Void)? = nil) throws -> (output: Tensor, kept: [Int: Tensor]) {
        try checkInput(x)
        let plan = self.plan
        let end = last ?? layers.count - 1
        let visits = visits ?? [Bool](repeating: true, count: layers.count)
        var values = [Tensor?](repeating: nil, count: layers.count)
        var kept: [Int: Tensor] = [:]
        let exposed = keeping.union([end])
        for index in plan.order where index <= end {
            let sources = plan.inputs[index]
            let xs = sources.map { $0 < 0 ? x : values[$0]! }
            let y = try layers[index].forward(xs, plan.forwardPass(index, pass, fromLogits: fromLogits, visits: visits,
                                                                   exposed: exposed))
            try inspect?(index, y)
            values[index] = y
            if keeping.contains(index) { kept[index] = y }
            for source in sources where source >= 0 && plan.lastUse[source] == index && source != end { values[source] = nil }
        }
        return (values[end]!, kept)
    }

    /// Back-propagates `gradient`, the gradient at the output of layer `from` (default:
    /// the output layer's logits), through the layers `visits` marks, setting the
    /// gradients of their trainable parameters. Stops above layer `target` and returns
    /// the gradient at its output; gradients are summed where an output fans out.
    @discardableResult
    func backpropagate(_ gradient: Tensor, visits: [Bool], toward target: Int = -1, fromLogits: Bool, fuses: Bool,
                       exposed: Set<Int> = []) throws -> Tensor? {
        let plan = self.plan
        var gradients = [Tensor?](repeating: nil, count: layers.count)
        gradients[plan.logits] = gradient
        for index in plan.order.reversed() where index > target && visits[index] {
            guard let g = gradients[index] else { continue }
            gradients[index] = nil
            var pass = plan.backwardPass(index, fromLogits: fromLogits, visits: visits, fuses: fuses, exposed: exposed)
            let sources = plan.inputs[index]
            if sources.count == 1, sources[0] >= 0, visits[sources[0]], Self.holdsAlone(&gradients[sources[0]]) {
                pass.gradientSoFar = gradients[sources[0]]
            }
            let results = try layers[index].backward(g, pass)
            // The layer added its gradient into the one its input had: nothing to sum.
            let addedIn = pass.gradientSoFar != nil && results.first.flatMap { $0 } === pass.gradientSoFar
            pass.gradientSoFar = nil
            for (place, (source, dx)) in zip(sources, results).enumerated() where source >= 0 && visits[source] {
                guard let dx, !(place == 0 && addedIn) else { continue }
                if gradients[source] == nil {
                    gradients[source] = dx
                } else if Self.holdsAlone(&gradients[source]) {
                    try Elementwise.add(gradients[source]!, dx, into: gradients[source]!)
                } else {
                    gradients[source] = try Elementwise.add(gradients[source]!, dx)
                }
            }
        }
        return target >= 0 ? gradients[target] : nil
    }

    /// Whether `gradient` is a tensor nothing but this reference holds and no other
    /// tensor views, so writing it changes nothing else.
    private static func holdsAlone(_ gradient: inout Tensor?) -> Bool {
        gradient != nil && isKnownUniquelyReferenced(&gradient) && gradient!.hasItsOwnBuffer
    }

    /// Pre-activation outputs. `replicas` is set when `x` is this process's share of a
    /// global batch.                                x: [N, C, H, W]  ->  [N, outputs]
    public func logits(_ x: Tensor, training: Bool, replicas: ReplicaShare? = nil) throws -> Tensor {
        let plan = self.plan
        var pass = ForwardPass(training: training)
        pass.replicas = replicas
        return try run(x, pass, visits: plan.reached, fromLogits: lossAppliesActivation).output
    }

    /// Class probabilities in inference mode.       x: [N, C, H, W]  ->  [N, outputs]
    public func predict(_ x: Tensor) throws -> Tensor {
        try run(x, .inference).output
    }

    /// The outputs of the layers `indices` in inference mode, computing no more of the
    /// graph than they need.
    public func outputs(_ x: Tensor, at indices: [Int]) throws -> [Tensor] {
        guard let last = indices.max() else { return [] }
        let kept = try run(x, .inference, through: last, keeping: Set(indices)).kept
        return indices.map { kept[$0]! }
    }

    /// Back-propagates the gradient of the loss with respect to the logits, setting
    /// every trainable parameter's gradient. It visits only layers that train or lie
    /// above one that does: frozen layers below need no gradient, which is what makes
    /// fine-tuning the last layers cheap.
    public func backward(fromLogits gradient: Tensor) throws {
        let plan = self.plan
        try backpropagate(gradient, visits: plan.reached, fromLogits: lossAppliesActivation, fuses: true)
    }

    /// The gradient of `score(logits)` (given as its gradient at the logits) with
    /// respect to layer `target`'s output, and that output, in inference mode:
    /// what Grad-CAM needs.                            x: [1, C, H, W]
    public func gradient(at target: Int, for x: Tensor, logitsGradient: (Tensor) throws -> Tensor) throws -> (output: Tensor, gradient: Tensor) {
        let visits = plan.downstream(of: target)
        defer { for layer in layers { layer.clearCache() } }
        let (logits, kept) = try run(x, ForwardPass(training: false, keepsForBackward: true), keeping: [target], visits: visits,
                                     fromLogits: lossAppliesActivation)
        guard let g = try backpropagate(try logitsGradient(logits), visits: visits, toward: target,
                                        fromLogits: lossAppliesActivation, fuses: false, exposed: [target]) else {
            throw LumenError.shapeMismatch("no gradient reached layer '\(layers[target].name)'")
        }
        return (kept[target]!, g)
    }

    /// One training step: forward from logits, loss, backward, optimizer update.
    /// Returns the batch loss and the logits. A loss `proceeds` refuses (by default, a
    /// non-finite one) skips backward and the update, so the weights stay those that
    /// produced it; `beforeUpdate` runs between backward and the update and may throw to
    /// skip the update too. In data-parallel training `replicas` places this share of the
    /// global batch, `gradientScale` (share / global batch) makes the gradients those of
    /// the global mean loss once summed, and `proceeds` asks every process.
    @discardableResult
    public func trainStep(_ x: Tensor, labels: [Int], loss: Loss, optimizer: Optimizer,
                          replicas: ReplicaShare? = nil, gradientScale: Float = 1,
                          proceeds: (Float) throws -> Bool = { $0.isFinite },
                          beforeUpdate: (() throws -> Void)? = nil) throws -> (loss: Float, logits: Tensor) {
        defer { for layer in layers { layer.clearCache() } }
        let z = try logits(x, training: true, replicas: replicas)
        let (value, gradient) = try loss.evaluate(logits: z, labels: labels)
        guard try proceeds(value) else { return (value.isFinite ? .nan : value, z) }
        try backward(fromLogits: gradientScale == 1 ? gradient : try Elementwise.scale(gradient, by: gradientScale))
        try beforeUpdate?()
        try optimizer.step(parameters)
        try commitRunningStatistics()
        return (value, z)
    }

    /// The first layer whose output holds a NaN or infinity on `x` (training mode), for
    /// `--detect-anomaly`; nil when every output is finite.
    public func firstNonFiniteLayer(_ x: Tensor) throws -> String? {
        if try x.toArray().contains(where: { !$0.isFinite }) { return "the input batch" }
        struct Found: Error { let index: Int }
        defer { for layer in layers { layer.clearCache() } }
        do {
            _ = try run(x, ForwardPass(training: true)) { index, y in
                if try y.toArray().contains(where: { !$0.isFinite }) { throw Found(index: index) }
            }
        } catch let found as Found {
            return "layer \(layers[found.index].name) (\(layers[found.index].typeName))"
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

    /// Every layer, the layers inside blocks included.
    public var allLayers: [Layer] {
        func expand(_ layer: Layer) -> [Layer] {
            if let block = layer as? Residual { return [layer] + (block.main + block.shortcut).flatMap(expand) }
            return [layer]
        }
        return layers.flatMap(expand)
    }

    /// Folds every BatchNorm layer's last batch statistics into its running ones.
    public func commitRunningStatistics() throws {
        for case let norm as BatchNormalization in allLayers { try norm.commitRunningStatistics() }
    }

    /// Sets every Dropout layer's step counter, so a resumed run draws the masks an
    /// uninterrupted one would.
    public func setDropoutStep(_ step: Int) {
        for case let dropout as Dropout in allLayers { dropout.step = UInt32(truncatingIfNeeded: step) }
    }

    /// Freezes every layer but the last `count` (Keras' `layer.trainable = False` on the
    /// rest), counting the rows of `summary()`'s top level.
    public func setTrainable(last count: Int) throws {
        guard count >= 0, count <= layers.count else {
            throw LumenError.invalidModelSpec("--trainable-last \(count): the model has \(layers.count) layers")
        }
        for (index, layer) in layers.enumerated() { layer.trainable = index >= layers.count - count }
    }

    /// Freezes the layers up to and including `name` in the spec's order; the rest stay
    /// trainable.
    public func freeze(until name: String) throws {
        let last = try layerIndex(named: name, purpose: "--freeze-until '\(name)': ")
        for (index, layer) in layers.enumerated() { layer.trainable = index > last }
    }

    private func checkInput(_ x: Tensor) throws {
        let expected = spec.channelsFirstInput
        guard x.shape.count == 4, Array(x.shape.dropFirst()) == expected else {
            throw LumenError.shapeMismatch("\(spec.name) expects inputs [N, \(expected.map(String.init).joined(separator: ", "))], got \(x.shape)")
        }
    }
}
