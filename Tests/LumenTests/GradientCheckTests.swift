import Testing
@testable import Lumen

/// Finite-difference checks: for L = Σ r ⊙ layer(x) with a fixed random r, the
/// analytic gradients from backward must match central differences of L, computed
/// from forward passes alone.
struct GradientCheck {
    let layer: Layer
    let inputShape: [Int]
    var epsilon: Float = 1e-2
    var tolerance: Float = 2e-2

    private func objective(_ x: [Float], _ r: [Float]) throws -> Double {
        let y = try layer.forward(try Tensor(on: testDevice, shape: inputShape, values: x), training: true)
        return zip(try y.toArray(), r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Returns the worst |numeric − analytic| / (largest |analytic|) seen.
    @discardableResult
    func run(seed: UInt64, samples: Int = 12) throws -> Float {
        var random = SplitMix64(seed: seed)
        try layer.build(input: Array(inputShape.dropFirst()), device: testDevice, random: &random)
        let x = randomValues(inputShape.reduce(1, *), seed: seed &+ 1)
        let probe = try layer.forward(try Tensor(on: testDevice, shape: inputShape, values: x), training: true)
        let r = randomValues(probe.count, seed: seed &+ 2)
        let dx = try layer.backward(try Tensor(on: testDevice, shape: probe.shape, values: r))
        var worst: Float = 0

        func compare(_ label: String, analytic: [Float], perturb: (Int, Float) throws -> Double) throws {
            // A floor of 1e-2 keeps float32 noise in L from failing gradients that are
            // exactly zero (a bias followed by BatchNorm).
            let scale = max(analytic.map { abs($0) }.max() ?? 0, 1e-2)
            var picker = SplitMix64(seed: seed &+ UInt64(label.count))
            for _ in 0..<min(samples, analytic.count) {
                let i = Int(picker.next() % UInt64(analytic.count))
                let numeric = Float((try perturb(i, epsilon) - (try perturb(i, -epsilon))) / Double(2 * epsilon))
                let difference = abs(numeric - analytic[i]) / scale
                if difference > tolerance {
                    Issue.record("\(layer.name) \(label)[\(i)]: numeric \(numeric) vs analytic \(analytic[i])")
                }
                worst = max(worst, difference)
            }
        }

        if let dx {
            try compare("dx", analytic: try dx.toArray()) { i, step in
                var shifted = x
                shifted[i] += step
                return try objective(shifted, r)
            }
        }
        // Gradients are read before any parameter is perturbed.
        let trainable = layer.parameters.filter(\.trainable)
        let gradients = try trainable.map { try $0.gradient?.toArray() }
        for (parameter, gradient) in zip(trainable, gradients) {
            guard let gradient else {
                Issue.record("\(parameter.name) has no gradient")
                continue
            }
            let original = try parameter.value.toArray()
            try compare(parameter.name, analytic: gradient) { i, step in
                var shifted = original
                shifted[i] += step
                try parameter.value.write(shifted)
                defer { try? parameter.value.write(original) }
                return try objective(x, r)
            }
        }
        print("gradient check \(layer.typeName) \(layer.name): maxdiff \(worst)")
        return worst
    }
}

@Suite struct GradientCheckTests {
    @Test func conv2dStride2Same() throws {
        try GradientCheck(layer: Conv2D(name: "conv", filters: 3, kernelSize: 3, stride: 2, padding: .same),
                          inputShape: [2, 2, 6, 7]).run(seed: 1)
    }

    @Test func conv2dWithFusedReLU() throws {
        try GradientCheck(layer: Conv2D(name: "conv_relu", filters: 4, kernelSize: 1, activation: .relu),
                          inputShape: [2, 3, 4, 4], epsilon: 1e-3).run(seed: 2)
    }

    @Test func depthwiseConv2d() throws {
        try GradientCheck(layer: DepthwiseConv2D(name: "dw", kernelSize: 3, stride: 2, padding: .same, depthMultiplier: 2),
                          inputShape: [2, 2, 5, 6]).run(seed: 3)
    }

    @Test(arguments: [Pooling2D.Mode.max, .average])
    func pooling(mode: Pooling2D.Mode) throws {
        try GradientCheck(layer: Pooling2D(name: "pool", mode: mode, poolSize: 3, stride: 2, padding: .same),
                          inputShape: [2, 2, 7, 6], epsilon: 1e-3).run(seed: 4)
    }

    @Test(arguments: [Pooling2D.Mode.max, .average])
    func globalPooling(mode: Pooling2D.Mode) throws {
        try GradientCheck(layer: GlobalPooling2D(name: "global", mode: mode), inputShape: [2, 3, 4, 5], epsilon: 1e-3)
            .run(seed: 5)
    }

    @Test func batchNormTraining() throws {
        try GradientCheck(layer: BatchNormalization(name: "bn"), inputShape: [4, 3, 3, 3]).run(seed: 6)
    }

    @Test func batchNormWithoutScale() throws {
        try GradientCheck(layer: BatchNormalization(name: "bn_noscale", scale: false), inputShape: [5, 4]).run(seed: 7)
    }

    @Test func dense() throws {
        try GradientCheck(layer: Dense(name: "fc", units: 5), inputShape: [3, 7]).run(seed: 8)
    }

    @Test(arguments: ActivationKind.allCases)
    func activation(kind: ActivationKind) throws {
        try GradientCheck(layer: ActivationLayer(name: "act", kind: kind), inputShape: [3, 6], epsilon: 1e-3).run(seed: 9)
    }

    @Test func flatten() throws {
        try GradientCheck(layer: Flatten(name: "flat"), inputShape: [2, 3, 2, 2]).run(seed: 10)
    }

    /// Smooth activations inside the block: with ReLUs, a ±ε step can cross a kink, which
    /// breaks finite differences, not the gradient (ReLU itself is checked above).
    @Test func residualBlockWithProjection() throws {
        let block = Residual(
            name: "block",
            main: [Conv2D(name: "a", filters: 4, kernelSize: 3, stride: 2, padding: .same),
                   BatchNormalization(name: "a_bn"), ActivationLayer(name: "a_tanh", kind: .tanh),
                   Conv2D(name: "b", filters: 4, kernelSize: 3, padding: .same)],
            shortcut: [Conv2D(name: "proj", filters: 4, kernelSize: 1, stride: 2, padding: .same)],
            activation: .sigmoid)
        try GradientCheck(layer: block, inputShape: [2, 3, 6, 6], epsilon: 1e-3).run(seed: 11)
    }

    @Test(arguments: [LossKind.binaryCrossentropy, .categoricalCrossentropy])
    func lossGradient(kind: LossKind) throws {
        let loss = Loss(kind, labelSmoothing: 0.1, classWeights: [1, 2, 0.5])
        let logits = randomValues(12, seed: 12).map { $0 * 3 }
        let labels = [0, 2, 1, 2]
        let (_, gradient) = try loss.evaluate(logits: try Tensor(on: testDevice, shape: [4, 3], values: logits), labels: labels)
        let analytic = try gradient.toArray()
        let eps: Float = 1e-2
        for i in logits.indices {
            var up = logits, down = logits
            up[i] += eps
            down[i] -= eps
            let lossUp = try loss.evaluate(logits: try Tensor(on: testDevice, shape: [4, 3], values: up), labels: labels).loss
            let lossDown = try loss.evaluate(logits: try Tensor(on: testDevice, shape: [4, 3], values: down), labels: labels).loss
            let numeric = (lossUp - lossDown) / (2 * eps)
            #expect(abs(numeric - analytic[i]) <= 2e-3, "\(kind) dlogits[\(i)]: numeric \(numeric) vs \(analytic[i])")
        }
    }
}
