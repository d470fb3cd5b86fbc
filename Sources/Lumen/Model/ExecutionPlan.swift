/// How a model runs, computed once from its graph (and again when what trains changes):
/// the order of the layers, who consumes each output, which max pools apply the ReLU
/// derivative of the layer below them, which BatchNorms apply the activation above them
/// or fold into the convolution below, where the logits are, and which layers the
/// backward pass reaches, and which depthwise convolutions apply the ReLU below them as
/// they load their input. Layers receive what the plan decides as arguments of each
/// pass; nothing sets flags on them from outside.
public struct ExecutionPlan {
    /// Layer indices in execution order (the spec's order, which lists inputs first).
    public let order: [Int]
    /// For each layer, the layers it takes (−1: the model's input).
    public let inputs: [[Int]]
    /// For each layer, the last layer (in order) that reads its output; −1 for none.
    public let lastUse: [Int]
    /// The output layer, whose activation the loss applies in training when it is a
    /// sigmoid or softmax.
    public let logits: Int
    /// Max pools that apply the ReLU derivative of the one layer below them in
    /// backward; that layer, whose output only the pool reads, then skips it.
    public let poolsMaskingReLU: Set<Int>
    public let layersMaskedAbove: Set<Int>
    /// BatchNormalization and Add layers that apply the ReLU or ReLU6 layer reading them
    /// (its only reader) in their own kernels, forward and backward: index -> activation index.
    public let activationFusions: [Int: Int]
    /// ReLU layers whose only reader is a DepthwiseConv2D or SeparableConv2D, which
    /// applies the ReLU as it loads its input in passes that keep nothing for backward:
    /// ReLU index -> reader index (Xception's ReLU before each separable convolution,
    /// whose input is also a residual, so no layer below can apply it).
    public let inputReLUs: [Int: Int]
    /// Whether the backward pass reaches each layer: it or a layer it depends on trains.
    public let reached: [Bool]
    /// The trainability this plan was made for, one flag per layer.
    public let trainability: [Bool]
    /// The first layer whose parameters train; nil when none does.
    public var firstTrainable: Int? { trainability.firstIndex(of: true) }
    /// Activation index -> its BatchNorm, and the activation each fusion applies.
    private let absorbedBy: [Int: Int]
    private let activationKinds: [Int: ActivationKind]
    /// Layers whose only reader is a BatchNormalization (index -> the two layers), and
    /// that BatchNormalization's index -> the layer's: folds a pass may make.
    private let foldCandidates: [Int: (layer: Layer, norm: BatchNormalization, at: Int)]
    private let foldedInto: [Int: Int]
    private let reluBelow: [Int: Int]

    init(inputs: [[Int]], layers: [Layer]) {
        let count = layers.count
        self.inputs = inputs
        order = Array(0..<count)
        var lastUse = [Int](repeating: -1, count: count)
        var consumers = [[Int]](repeating: [], count: count)
        for (index, sources) in inputs.enumerated() {
            for source in sources where source >= 0 {
                lastUse[source] = max(lastUse[source], index)
                consumers[source].append(index)
            }
        }
        self.lastUse = lastUse
        logits = count - 1
        var pools: Set<Int> = [], masked: Set<Int> = []
        for (index, layer) in layers.enumerated() {
            guard let pool = layer as? Pooling2D, pool.mode == .max, let below = inputs[index].first, below >= 0,
                  below != logits, layers[below].activation == .relu, consumers[below] == [index] else { continue }
            pools.insert(index)
            masked.insert(below)
        }
        poolsMaskingReLU = pools
        layersMaskedAbove = masked
        var fusions: [Int: Int] = [:]
        for (index, layer) in layers.enumerated() {
            guard BatchNormalization.absorbs(layer), let below = inputs[index].first, below >= 0,
                  layers[below] is BatchNormalization || (layers[below] as? Merge)?.kind == .add,
                  consumers[below] == [index] else { continue }
            fusions[below] = index
        }
        activationFusions = fusions
        var candidates: [Int: (layer: Layer, norm: BatchNormalization, at: Int)] = [:]
        for (index, layer) in layers.enumerated() {
            guard let reader = consumers[index].first, consumers[index].count == 1,
                  let norm = layers[reader] as? BatchNormalization else { continue }
            candidates[index] = (layer, norm, reader)
        }
        foldCandidates = candidates
        foldedInto = Dictionary(uniqueKeysWithValues: candidates.map { ($0.value.at, $0.key) })
        absorbedBy = Dictionary(uniqueKeysWithValues: fusions.map { ($0.value, $0.key) })
        var reluInputs: [Int: Int] = [:]
        for (index, layer) in layers.enumerated() {
            guard layer is ActivationLayer, layer.activation == .relu, absorbedBy[index] == nil, consumers[index].count == 1,
                  let reader = consumers[index].first, inputs[reader] == [index],
                  layers[reader] is DepthwiseConv2D || layers[reader] is SeparableConv2D else { continue }
            reluInputs[index] = reader
        }
        inputReLUs = reluInputs
        reluBelow = Dictionary(uniqueKeysWithValues: reluInputs.map { ($0.value, $0.key) })
        activationKinds = Dictionary(uniqueKeysWithValues: fusions.values.map { ($0, layers[$0].activation) })
        trainability = layers.map { $0.parameters.contains { $0.trainable } }
        var reached = [Bool](repeating: false, count: count)
        for index in 0..<count {
            reached[index] = trainability[index] || inputs[index].contains { $0 >= 0 && reached[$0] }
        }
        self.reached = reached
    }

    /// The activation fusion that applies to layer `index`, unless the BatchNorm's own
    /// output is wanted (`exposed`): as the BatchNorm, the activation it applies; as the
    /// activation, that its BatchNorm applies it.
    private func fusion(_ index: Int, exposed: Set<Int>) -> (applies: ActivationKind, absorbed: Bool) {
        if let activation = activationFusions[index], !exposed.contains(index) { return (activationKinds[activation]!, false) }
        if let norm = absorbedBy[index], !exposed.contains(norm) { return (.linear, true) }
        return (.linear, false)
    }

    /// Whether the BatchNormalization reading layer `index` folds into it in this pass
    /// (`BatchNormalization.folds`), the layer's own output not being `exposed`.
    private func folds(_ index: Int, _ pass: ForwardPass, visits: [Bool], exposed: Set<Int>) -> Bool {
        guard let candidate = foldCandidates[index], !exposed.contains(index) else { return false }
        return BatchNormalization.folds(into: candidate.layer, training: pass.training, trains: trainability[candidate.at],
                                        keptForBackward: pass.keepsForBackward && (visits[index] || visits[candidate.at]))
    }

    /// Whether depthwise layer `reader` applies ReLU layer `relu` to its input in this
    /// pass: nothing keeps either for backward and the ReLU's own output is not `exposed`.
    private func loadsThroughReLU(_ relu: Int, _ reader: Int, _ pass: ForwardPass, visits: [Bool], exposed: Set<Int>) -> Bool {
        !exposed.contains(relu) && !(pass.keepsForBackward && (visits[relu] || visits[reader]))
    }

    /// The forward pass of one layer: the logits layer leaves its activation to the loss
    /// when `fromLogits`, only layers that backward will visit keep their inputs, a
    /// BatchNorm applies the ReLU above it unless its own output is `exposed`, and folds
    /// into the convolution below it where `folds` says so (which then applies that ReLU),
    /// and a ReLU layer leaves itself to the depthwise layer reading it (`inputReLUs`).
    func forwardPass(_ index: Int, _ pass: ForwardPass, fromLogits: Bool, visits: [Bool], exposed: Set<Int>) -> ForwardPass {
        var layerPass = pass
        let fused = fusion(index, exposed: exposed)
        layerPass.appliesActivation = !(fromLogits && index == logits) && !fused.absorbed
        layerPass.fusedActivation = fused.applies
        layerPass.keepsForBackward = pass.keepsForBackward && visits[index]
        if folds(index, pass, visits: visits, exposed: exposed), let candidate = foldCandidates[index] {
            layerPass.foldedNormalization = candidate.norm
            layerPass.fusedActivation = fusion(candidate.at, exposed: exposed).applies
        }
        if let below = foldedInto[index], folds(below, pass, visits: visits, exposed: exposed) {
            layerPass.normalizationFolded = true
        }
        if let reader = inputReLUs[index], loadsThroughReLU(index, reader, pass, visits: visits, exposed: exposed) {
            layerPass.appliesActivation = false
        }
        if let relu = reluBelow[index], loadsThroughReLU(relu, index, pass, visits: visits, exposed: exposed) {
            layerPass.inputReLU = true
        }
        return layerPass
    }

    /// The backward pass of one layer, with the pool-over-ReLU fusion when `fuses`, and
    /// the activation fusions the forward made (same `exposed`).
    func backwardPass(_ index: Int, fromLogits: Bool, visits: [Bool], fuses: Bool, exposed: Set<Int>) -> BackwardPass {
        var pass = BackwardPass()
        pass.appliesActivation = !(fromLogits && index == logits) && !fusion(index, exposed: exposed).absorbed
        pass.needsInputGradient = inputs[index].contains { $0 >= 0 && visits[$0] }
        pass.gradientArrivesMasked = fuses && layersMaskedAbove.contains(index)
        pass.masksReLUBelow = fuses && poolsMaskingReLU.contains(index)
        return pass
    }

    /// The target and the layers on a path from it to the output: what a gradient at
    /// the target's output flows back through.
    func downstream(of target: Int) -> [Bool] {
        var visits = [Bool](repeating: false, count: inputs.count)
        visits[target] = true
        for index in order where index > target {
            visits[index] = inputs[index].contains { $0 >= 0 && visits[$0] }
        }
        return visits
    }
}
