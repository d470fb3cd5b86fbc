import Foundation
import Testing
@testable import Lumen

/// BatchNormalization folded into the convolution below it where it normalises with its
/// running statistics (inference, frozen layers): outputs equal the unfolded layers',
/// at the top level and inside residual blocks, for Conv2D, DepthwiseConv2D (with a
/// multiplier) and SeparableConv2D, with and without the ReLU/ReLU6 above; the folded
/// weights follow every change of the tensors they came from.
@Suite struct NormalizationFoldingTests {
    static let yaml = """
        name: folding
        input_shape: [10, 9, 3]
        layers:
          - {type: Conv2D, name: c1, filters: 4, kernel_size: 3, padding: same, use_bias: false}
          - {type: BatchNormalization, name: n1}
          - {type: Activation, name: a1, activation: relu6}
          - {type: DepthwiseConv2D, name: d2, kernel_size: 3, strides: 2, padding: same, depth_multiplier: 2}
          - {type: BatchNormalization, name: n2, scale: false}
          - {type: ReLU, name: a2}
          - {type: SeparableConv2D, name: s3, filters: 6, kernel_size: 3, padding: same}
          - {type: BatchNormalization, name: n3}
          - type: Residual
            name: block
            layers:
              - {type: Conv2D, name: b1, filters: 12, kernel_size: 1, use_bias: false}
              - {type: BatchNormalization, name: bn1}
              - {type: Activation, name: ba1, activation: relu6}
              - {type: DepthwiseConv2D, name: b2, kernel_size: 3, padding: same}
              - {type: BatchNormalization, name: bn2}
              - {type: ReLU, name: ba2}
              - {type: Conv2D, name: b3, filters: 6, kernel_size: 1}
              - {type: BatchNormalization, name: bn3}
          - {type: Conv2D, name: c5, filters: 5, kernel_size: 1, activation: relu}
          - {type: BatchNormalization, name: n5}
          - {type: GlobalAveragePooling2D, name: pool}
          - {type: Dense, name: head, units: 3, activation: softmax}
        """

    /// The model with every BatchNorm's scale, shift and running statistics set far from
    /// their defaults (scales up to 4, so ReLU6's cap is reached).
    static func model(_ style: KernelStyle, seed: UInt64 = 7) throws -> Model {
        let model = try Model(spec: try modelSpec(yaml: yaml), device: device(for: style), seed: seed)
        for (index, norm) in model.allLayers.compactMap({ $0 as? BatchNormalization }).enumerated() {
            let c = norm.beta.value.count, seed = UInt64(index * 4) + seed * 100
            try norm.gamma?.value.write(randomValues(c, seed: seed).map { 2.25 + 1.75 * $0 })
            try norm.beta.value.write(randomValues(c, seed: seed + 1).map { 0.5 * $0 })
            try norm.runningMean.value.write(randomValues(c, seed: seed + 2).map { 0.3 * $0 })
            try norm.runningVariance.value.write(randomValues(c, seed: seed + 3).map { 0.85 + 0.65 * $0 })
        }
        return model
    }

    /// The output and the residual block's output: folded (as `pass` runs them, a backward
    /// visiting `visits`) and unfolded (the same pass keeping every layer's cache for a
    /// backward, which folds nothing).
    static func compare(_ model: Model, _ x: Tensor, _ pass: ForwardPass, visits: [Bool]? = nil, _ label: String) throws {
        let block = try model.layerIndex(named: "block")
        let everyLayer = [Bool](repeating: true, count: model.layers.count)
        let folded = try model.run(x, pass, keeping: [block], visits: visits)
        for layer in model.layers { layer.clearCache() }
        #expect((model.layers[0] as! ConvolutionLayer).folded != nil)
        var unfoldedPass = pass
        unfoldedPass.keepsForBackward = true
        let unfolded = try model.run(x, unfoldedPass, keeping: [block], visits: everyLayer)
        for layer in model.layers { layer.clearCache() }
        #expect((model.layers[0] as! ConvolutionLayer).folded == nil)
        #expect(maxRelativeDifference("\(label) block", try folded.kept[block]!.toArray(), try unfolded.kept[block]!.toArray()) <= 1e-5)
        #expect(maxRelativeDifference("\(label) output", try folded.output.toArray(), try unfolded.output.toArray()) <= 1e-5)
    }

    @Test(arguments: KernelStyle.allCases)
    func foldedInferenceEqualsTheUnfoldedLayers(style: KernelStyle) throws {
        let model = try NormalizationFoldingTests.model(style)
        // The plan folds n1, n2, n3 and the block's three, not n5 (c5 applies a ReLU of its own).
        let names = ["c1", "d2", "s3", "c5"].map { try! model.layerIndex(named: $0) }
        let passes = names.map { model.plan.forwardPass($0, .inference, fromLogits: false, visits: [], exposed: []) }
        #expect(passes.map { $0.foldedNormalization?.name } == ["n1", "n2", "n3", nil])
        #expect(passes.map(\.fusedActivation) == [.relu6, .relu, .linear, .linear])
        let inner = Residual.forwardPasses((model.layers[try model.layerIndex(named: "block")] as! Residual).main, .inference)
        #expect(inner.map { $0.foldedNormalization?.name } == ["bn1", nil, nil, "bn2", nil, nil, "bn3", nil])
        #expect(inner.map(\.normalizationFolded) == [false, true, false, false, true, false, false, true])

        let x = try Tensor(on: model.device, shape: [2, 3, 10, 9], values: randomValues(540, seed: 11).map { 3 * $0 })
        try NormalizationFoldingTests.compare(model, x, .inference, "inference")
    }

    /// After the folded weights were made (a predict): a normalisation's shift and a
    /// convolution's weight written from the host, a checkpoint loaded, a training step
    /// (new weights, new running statistics) — the next folded pass sees each.
    @Test(arguments: KernelStyle.allCases)
    func foldedWeightsFollowChangesOfTheirSources(style: KernelStyle) throws {
        let model = try NormalizationFoldingTests.model(style)
        let x = try Tensor(on: model.device, shape: [2, 3, 10, 9], values: randomValues(540, seed: 12).map { 3 * $0 })
        let block = model.layers[try model.layerIndex(named: "block")] as! Residual
        _ = try model.predict(x)
        try (block.main[4] as! BatchNormalization).beta.value.write(randomValues(12, seed: 13))
        try NormalizationFoldingTests.compare(model, x, .inference, "new shift")
        _ = try model.predict(x)
        let c1 = model.layers[0] as! ConvolutionLayer
        try c1.weight.value.write(randomValues(c1.weight.value.count, seed: 14))
        try NormalizationFoldingTests.compare(model, x, .inference, "new weight")
        _ = try model.predict(x)
        let other = try NormalizationFoldingTests.model(style, seed: 8)
        try Checkpoint.load(Dictionary(uniqueKeysWithValues: try other.parameters.map {
            ($0.name, SafeTensors.Entry(shape: $0.value.shape, values: try $0.value.toArray()))
        }), into: model, source: "another model")
        try NormalizationFoldingTests.compare(model, x, .inference, "loaded")
        _ = try model.predict(x)
        try model.trainStep(x, labels: [0, 2], loss: Loss(model.defaultLoss), optimizer: SGD(learningRate: 0.1))
        try NormalizationFoldingTests.compare(model, x, .inference, "after a step")
    }

    /// Fine-tuning a head over a frozen base: the base's normalisations fold in the
    /// training forward too, and its logits equal the unfolded layers'.
    @Test(arguments: KernelStyle.allCases)
    func frozenBaseFoldsWhileTheHeadTrains(style: KernelStyle) throws {
        let model = try NormalizationFoldingTests.model(style)
        try model.setTrainable(last: 1)
        let x = try Tensor(on: model.device, shape: [2, 3, 10, 9], values: randomValues(540, seed: 14).map { 3 * $0 })
        try NormalizationFoldingTests.compare(model, x, ForwardPass(training: true), visits: model.plan.reached, "frozen base")
    }
}
