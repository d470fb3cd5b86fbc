import Foundation

/// One training step of a built-in model at a small input, checked without a framework:
/// the gradient the device back-propagates against central finite differences of the
/// device's own loss along that gradient (training mode: batch statistics, the same
/// dropout masks each pass), then an SGD update against w − lr·g on the host. The
/// layers' kernels are checked one by one against the host in `KernelChecks`; this
/// checks that they compose, forward and backward, in every built-in's graph.
public struct ModelStepCheck: Encodable, Sendable {
    /// The kernel family that ran (`cpu` or `gpu`).
    public let family: String
    public let model: String
    public let inputSize: Int
    public var loss: Float = .nan
    /// |g| over every trainable parameter.
    public var gradientNorm: Double = .nan
    /// For the tensor that agreed worst: (L(w + εĝ) − L(w − εĝ)) / 2ε with ĝ its
    /// gradient's direction, which is |g| of that tensor when g is right.
    public var finiteDifference: Double = .nan
    /// The largest |finite difference − |g|| / |g| over the tensors checked.
    public var relativeError: Double = .nan
    public var worstTensor = ""
    /// How many parameter tensors were checked by finite differences.
    public var tensorsChecked = 0
    public let tolerance: Double
    /// The largest |w_after − (w − lr·g)| / (|w| + 1) after one SGD step.
    public var updateError: Float = .nan
    public var seconds: Double = 0
    public var failure: String?
    public var passed = false
    /// The logits of the first forward pass, to compare the kernel families with.
    public var logits: [Float] = []

    enum CodingKeys: String, CodingKey {
        case family, model, inputSize, loss, gradientNorm, finiteDifference, relativeError, worstTensor, tensorsChecked, tolerance, updateError, seconds,
             failure, passed
    }

    /// A small input that still leaves the last BatchNorm layers more than one pixel:
    /// batch statistics over a handful of values make a loss too curved for finite
    /// differences (MobileNetV2 at 32², its last maps 1×1).
    public static func smallInput(_ builtin: BuiltinModel) -> Int {
        switch builtin {
        case .fashionCNN: return 28
        case .inceptionV3: return 107
        case .xception: return 71
        default: return 64
        }
    }

    /// Up to 16 of `parameters`: the first of each kind (a layer type's weight, bias,
    /// gamma, …), then evenly spaced others.
    static func sampled(_ parameters: [Parameter]) -> [Int] {
        var chosen: [Int] = [], kinds: Set<String> = []
        for (index, parameter) in parameters.enumerated() {
            let kind = String(parameter.name.split(separator: ".").last ?? "")
            if kinds.insert(kind).inserted { chosen.append(index) }
        }
        let spacing = max(1, parameters.count / 8)
        for index in stride(from: 0, to: parameters.count, by: spacing) where !chosen.contains(index) && chosen.count < 16 {
            chosen.append(index)
        }
        return chosen.sorted()
    }

    /// `builtin` at its small input with 3 classes (MobileNet at width 0.25).
    public static func smallSpec(_ builtin: BuiltinModel) -> ModelSpec {
        builtin.spec(classes: 3, inputSize: smallInput(builtin), alpha: builtin == .mobilenet ? 0.25 : 1)
    }

    /// Checks the model `spec` describes at its own input size; a launch that throws
    /// fails the check with the error's text.
    public static func run(_ spec: ModelSpec, named name: String, on device: Device, tolerance: Double = 5e-2) -> ModelStepCheck {
        var check = ModelStepCheck(family: device.kernelStyle.rawValue, model: name, inputSize: spec.inputShape[0],
                                   tolerance: tolerance)
        let start = Date()
        do {
            try check.measure(spec, on: device)
        } catch {
            check.failure = "\(error)"
        }
        check.seconds = Date().timeIntervalSince(start)
        check.passed = check.failure == nil
        return check
    }

    private mutating func measure(_ spec: ModelSpec, on device: Device) throws {
        let model = try Model(spec: spec, device: device, seed: 7)
        let (height, width, channels) = (spec.inputShape[0], spec.inputShape[1], spec.inputShape[2])
        let x = try Tensor(on: device, shape: [4, channels, height, width], values: checkValues(4 * channels * height * width, seed: 3))
        let labels = (0..<4).map { $0 % max(model.outputCount, 2) }
        let objective = Loss(model.defaultLoss)
        let trained = model.parameters.filter(\.trainable)

        model.setDropoutStep(0)
        let z = try model.logits(x, training: true)
        let (value, gradient) = try objective.evaluate(logits: z, labels: labels)
        try model.backward(fromLogits: gradient)
        for layer in model.layers { layer.clearCache() }
        (self.loss, logits) = (value, try z.toArray())
        let g = try trained.map { parameter -> [Float] in
            guard let gradient = parameter.gradient else { throw LumenError.shapeMismatch("\(parameter.name) got no gradient") }
            return try gradient.toArray()
        }
        let w = try trained.map { try $0.value.toArray() }
        gradientNorm = g.joined().reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard gradientNorm.isFinite, gradientNorm > 0 else { throw LumenError.shapeMismatch("the gradient's norm is \(gradientNorm)") }

        // Central differences along each sampled tensor's own gradient, a step that moves
        // the loss by about 1e-3 of itself (no more than 1% of the tensor's typical weight).
        func lossAlong(_ index: Int, _ step: Double, direction: [Float]) throws -> Double {
            try trained[index].value.write(zip(w[index], direction).map { $0 + Float(step * Double($1)) })
            model.setDropoutStep(0)
            defer { for layer in model.layers { layer.clearCache() } }
            return Double(try objective.evaluate(logits: try model.logits(x, training: true), labels: labels).loss)
        }
        var worst = 0.0, measured = 0
        for index in Self.sampled(trained) {
            let norm = g[index].reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let rms = (w[index].reduce(0) { $0 + Double($1) * Double($1) } / Double(w[index].count)).squareRoot()
            let typical = max(rms, 1e-2) * Double(w[index].count).squareRoot()
            let epsilon = min(1e-3 * max(Double(abs(value)), 0.1) / norm, 1e-2 * typical)
            // Steps too small for float weights to take, or changes of the loss too small
            // to tell from its rounding: nothing to learn from this tensor.
            guard norm > 0, epsilon > 1e-5 * typical, epsilon * norm > 1e-4 * max(Double(abs(value)), 0.1) else { continue }
            let direction = g[index].map { Float(Double($0) / norm) }
            func centralDifference(_ step: Double) throws -> Double {
                (try lossAlong(index, step, direction: direction) - lossAlong(index, -step, direction: direction)) / (2 * step)
            }
            func disagreement(_ difference: Double) -> Double { abs(difference - norm) / norm }
            var difference = try centralDifference(epsilon)
            // The loss's rounding shifts a difference by up to its size over the step: a
            // deep graph with Winograd F(4×4) layers (whichever plans the device timed
            // fastest) can miss at the first step and agree at one 4 times longer, where
            // a wrong gradient misses at both.
            if !(disagreement(difference) <= tolerance) {
                let longer = try centralDifference(4 * epsilon)
                if disagreement(longer) < disagreement(difference) { difference = longer }
            }
            try trained[index].value.write(w[index])
            let error = disagreement(difference)
            measured += 1
            if !(error <= worst) {
                (worst, finiteDifference, worstTensor) = (error.isNaN ? .infinity : error, difference, trained[index].name)
            }
        }
        (relativeError, tensorsChecked) = (worst, measured)
        if measured == 0 {
            failure = "no parameter's gradient moved the loss measurably"
        } else if !(worst <= tolerance) {
            failure = "the back-propagated gradient of \(worstTensor) disagrees with finite differences of the loss by \(worst)"
        }

        // One SGD step from the same weights and masks: w − lr·g exactly.
        let rate: Float = 0.01
        model.setDropoutStep(0)
        try model.trainStep(x, labels: labels, loss: objective, optimizer: SGD(learningRate: rate))
        var worstUpdate: Float = 0
        for (parameter, (values, grads)) in zip(trained, zip(w, g)) {
            for (after, (before, gradient)) in zip(try parameter.value.toArray(), zip(values, grads)) {
                let difference = abs(after - (before - rate * gradient)) / (abs(before) + 1)
                if !(difference <= worstUpdate) { worstUpdate = difference.isNaN ? .infinity : difference }
            }
        }
        updateError = worstUpdate
        if !(worstUpdate <= 1e-5), failure == nil {
            failure = "an SGD step moved the weights by other than lr·g (off by \(worstUpdate))"
        }
    }
}
