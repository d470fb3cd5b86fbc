import Foundation
import Testing
@testable import Lumen

/// Every layer's forward output and its input and parameter gradients against PyTorch,
/// with each kernel family (CPU-style and GPU-style, both on the test device).
@Suite struct LayerParityTests {
    private func build(_ layer: Layer, input: [Int], _ style: KernelStyle) throws {
        var random = SplitMix64(seed: 1)
        try layer.build(input: Array(input.dropFirst()), device: device(for: style), random: &random)
    }

    /// Runs forward in training mode and backward with the fixture's dy.
    private func run(_ layer: Layer, _ fixture: TorchFixture, _ style: KernelStyle) throws -> (y: Tensor, dx: Tensor?) {
        let y = try layer.forward(try fixture.tensor("x", on: device(for: style)), training: true)
        let dx = try layer.backward(try fixture.tensor("dy", on: device(for: style)))
        return (y, dx)
    }

    @Test(arguments: TorchFixture.names("conv_"), KernelStyle.allCases)
    func conv2dMatchesPyTorch(_ name: String, style: KernelStyle) throws {
        let f = try TorchFixture(name)
        let layer = Conv2D(name: "c", filters: f.int("filters"), kernelSize: WindowSize(f.int("kernel")), stride: f.int("stride"),
                           padding: Padding(rawValue: f.string("padding"))!, useBias: f.bool("bias"))
        try build(layer, input: f["x"].shape, style)
        try layer.weight.value.write(f["weight"].values)
        if let bias = layer.bias { try bias.value.write(f["bias"].values) }
        let (y, dx) = try run(layer, f, style)
        try expectMatches(y, f, "y")
        try expectMatches(dx, f, "dx")
        try expectMatches(layer.weight.gradient, f, "dweight")
        if f.bool("bias") { try expectMatches(layer.bias?.gradient, f, "dbias") }
    }

    @Test(arguments: TorchFixture.names("depthwise_"), KernelStyle.allCases)
    func depthwiseConv2dMatchesPyTorch(_ name: String, style: KernelStyle) throws {
        let f = try TorchFixture(name)
        let layer = DepthwiseConv2D(name: "d", kernelSize: WindowSize(f.int("kernel")), stride: f.int("stride"),
                                    padding: Padding(rawValue: f.string("padding"))!, depthMultiplier: f.int("multiplier"))
        try build(layer, input: f["x"].shape, style)
        try layer.weight.value.write(f["weight"].values)
        try layer.bias!.value.write(f["bias"].values)
        let (y, dx) = try run(layer, f, style)
        try expectMatches(y, f, "y")
        try expectMatches(dx, f, "dx")
        try expectMatches(layer.weight.gradient, f, "dweight")
        try expectMatches(layer.bias?.gradient, f, "dbias")
    }

    @Test(arguments: TorchFixture.names("pool_"), KernelStyle.allCases)
    func poolingMatchesPyTorch(_ name: String, style: KernelStyle) throws {
        let f = try TorchFixture(name)
        let layer = Pooling2D(name: "p", mode: f.string("mode") == "max" ? .max : .average, poolSize: WindowSize(f.int("pool")),
                              stride: f.int("stride"), padding: Padding(rawValue: f.string("padding"))!)
        let (y, dx) = try run(layer, f, style)
        try expectMatches(y, f, "y")
        try expectMatches(dx, f, "dx")
    }

    @Test(arguments: TorchFixture.names("global_pool_"), KernelStyle.allCases)
    func globalPoolingMatchesPyTorch(_ name: String, style: KernelStyle) throws {
        let f = try TorchFixture(name)
        let layer = GlobalPooling2D(name: "g", mode: f.string("mode") == "max" ? .max : .average)
        let (y, dx) = try run(layer, f, style)
        try expectMatches(y, f, "y")
        try expectMatches(dx, f, "dx")
    }

    @Test(arguments: TorchFixture.names("batchnorm_"), KernelStyle.allCases)
    func batchNormMatchesPyTorch(_ name: String, style: KernelStyle) throws {
        let f = try TorchFixture(name)
        let layer = BatchNormalization(name: "bn", momentum: f.float("momentum"), epsilon: f.float("epsilon"),
                                       scale: f.bool("scale"))
        try build(layer, input: f["x"].shape, style)
        if let gamma = layer.gamma { try gamma.value.write(f["gamma"].values) }
        try layer.beta.value.write(f["beta"].values)
        try layer.runningMean.value.write(f["running_mean"].values)
        try layer.runningVariance.value.write(f["running_var"].values)
        // The inference fixture is a frozen layer inside a training step.
        if !f.bool("training") { layer.trainable = false }
        let (y, dx) = try run(layer, f, style)
        try layer.commitRunningStatistics()
        try expectMatches(y, f, "y")
        try expectMatches(dx, f, "dx")
        try expectMatches(layer.runningMean.value, f, "new_running_mean")
        try expectMatches(layer.runningVariance.value, f, "new_running_var")
        if f.bool("training") {
            try expectMatches(layer.beta.gradient, f, "dbeta")
            if f.bool("scale") { try expectMatches(layer.gamma?.gradient, f, "dgamma") }
        } else {
            #expect(layer.beta.gradient == nil, "a frozen BatchNorm must not produce gradients")
        }
    }

    @Test(arguments: KernelStyle.allCases)
    func denseMatchesPyTorch(style: KernelStyle) throws {
        let f = try TorchFixture("dense")
        let layer = Dense(name: "fc", units: f.int("units"))
        try build(layer, input: f["x"].shape, style)
        try layer.weight.value.write(f["weight"].values)
        try layer.bias!.value.write(f["bias"].values)
        let (y, dx) = try run(layer, f, style)
        try expectMatches(y, f, "y")
        try expectMatches(dx, f, "dx")
        try expectMatches(layer.weight.gradient, f, "dweight")
        try expectMatches(layer.bias?.gradient, f, "dbias")
    }

    @Test(arguments: TorchFixture.names("activation_"), KernelStyle.allCases)
    func activationMatchesPyTorch(_ name: String, style: KernelStyle) throws {
        let f = try TorchFixture(name)
        let layer = ActivationLayer(name: "a", kind: ActivationKind(rawValue: f.string("kind"))!, alpha: f.float("alpha"))
        let (y, dx) = try run(layer, f, style)
        try expectMatches(y, f, "y")
        try expectMatches(dx, f, "dx")
    }

    @Test(arguments: TorchFixture.names("loss_"))
    func lossMatchesPyTorch(_ name: String) throws {
        let f = try TorchFixture(name)
        let weights = (f.config["weights"] as? [NSNumber])?.map(\.floatValue)
        let loss = Loss(LossKind(rawValue: f.string("kind"))!, labelSmoothing: f.float("smoothing"), classWeights: weights)
        let (value, gradient) = try loss.evaluate(logits: try f.tensor("logits"), labels: f["labels"].values.map { Int($0) })
        let difference = abs(value - f["loss"].values[0]) / max(abs(f["loss"].values[0]), 1e-6)
        print("\(name) loss: maxdiff \(difference) of scale")
        #expect(difference <= 1e-4)
        try expectMatches(gradient, f, "dlogits")
    }

    @Test(arguments: TorchFixture.names("optim_"))
    func optimizerFollowsKerasUpdateRule(_ name: String) throws {
        let f = try TorchFixture(name)
        let optimizer: Optimizer
        if f.string("kind") == "sgd" {
            optimizer = SGD(learningRate: f.float("lr"), momentum: f.float("momentum"), nesterov: f.bool("nesterov"),
                            weightDecay: f.float("weight_decay"))
        } else {
            optimizer = Adam(learningRate: f.float("lr"), weightDecay: f.float("weight_decay"))
        }
        let parameter = Parameter(name: "p", value: try f.tensor("p0"))
        for step in 1...f.int("steps") {
            parameter.gradient = try f.tensor("g\(step)")
            try optimizer.step([parameter])
            try expectMatches(parameter.value, f, "p\(step)", tolerance: 1e-5)
        }
        #expect(optimizer.iterations == f.int("steps"))
    }

    @Test func frozenParameterIsNotUpdated() throws {
        let parameter = Parameter(name: "p", value: try Tensor(on: testDevice, shape: [4], values: [1, 2, 3, 4]))
        parameter.gradient = try Tensor(on: testDevice, shape: [4], repeating: 1)
        parameter.trainable = false
        try Adam().step([parameter])
        #expect(try parameter.value.toArray() == [1, 2, 3, 4])
    }
}

/// A whole training step of the tutorial's model against PyTorch: loss, every gradient,
/// every weight after Adam's update, and the BatchNorm running statistics.
@Suite struct ModelParityTests {
    @Test(arguments: KernelStyle.allCases)
    func xrayCNNAdamStepMatchesPyTorch(style: KernelStyle) throws {
        let f = try TorchFixture("xray_cnn_adam_step")
        let spec = BuiltinModel.xrayCNN.spec(classes: 2, inputSize: f.int("size"))
        let model = try Model(spec: spec, device: device(for: style), seed: 0)
        var initial: [String: SafeTensors.Entry] = [:]
        for (key, entry) in f.tensors where key.hasPrefix("init/") { initial[String(key.dropFirst(5))] = entry }
        try Checkpoint.load(initial, into: model, source: "fixture")

        let optimizer = Adam(learningRate: f.float("lr"))
        let labels = f["labels"].values.map { Int($0) }
        let (loss, logits) = try model.trainStep(try f.tensor("x", on: device(for: style)), labels: labels, loss: Loss(model.defaultLoss),
                                                 optimizer: optimizer)
        try expectMatches(logits, f, "logits")
        let lossDifference = abs(loss - f["loss"].values[0]) / abs(f["loss"].values[0])
        print("xray-cnn loss \(loss) vs \(f["loss"].values[0]): maxdiff \(lossDifference)")
        #expect(lossDifference <= 1e-4)
        for parameter in model.parameters {
            if parameter.isStatistic {
                try expectMatches(parameter.value, f, "after/\(parameter.name)")
                continue
            }
            try expectMatches(parameter.gradient, f, "grad/\(parameter.name)")
            try expectUpdateMatches(parameter, f, lr: f.float("lr"))
        }
    }

    /// Adam's first step moves each weight by about lr·sign(g) whatever |g| is, so where a
    /// gradient is within float32 noise of zero (below 1e-3 of the tensor's largest),
    /// PyTorch and Lumen may step differently by up to lr. Elsewhere the updated weights
    /// must match within 1e-4 of their scale; everywhere within lr.
    private func expectUpdateMatches(_ parameter: Parameter, _ f: TorchFixture, lr: Float) throws {
        let actual = try parameter.value.toArray()
        let expected = f["after/\(parameter.name)"].values
        let gradient = f["grad/\(parameter.name)"].values
        let gradientScale = gradient.map { abs($0) }.max() ?? 0
        let scale = max(expected.map { abs($0) }.max() ?? 0, 1e-6)
        var worstClear: Float = 0, worstAny: Float = 0, noisy = 0
        for i in actual.indices {
            let difference = abs(actual[i] - expected[i])
            worstAny = max(worstAny, difference)
            if abs(gradient[i]) >= 1e-3 * gradientScale {
                worstClear = max(worstClear, difference / scale)
            } else {
                noisy += 1
            }
        }
        print("xray_cnn_adam_step after/\(parameter.name): maxdiff \(worstClear) of scale; \(noisy) near-zero gradients, max step difference \(worstAny)")
        #expect(worstClear <= 1e-4, "after/\(parameter.name): \(worstClear)")
        #expect(worstAny <= lr * 1.01, "after/\(parameter.name): a weight moved \(worstAny), more than one Adam step")
    }

    /// The same update from the same gradients: Lumen's Adam given PyTorch's gradients
    /// lands on PyTorch's weights.
    @Test func adamOnPyTorchGradientsGivesPyTorchWeights() throws {
        let f = try TorchFixture("xray_cnn_adam_step")
        let optimizer = Adam(learningRate: f.float("lr"))
        var parameters: [Parameter] = []
        for key in f.tensors.keys.sorted() where key.hasPrefix("grad/") {
            let name = String(key.dropFirst(5))
            let parameter = Parameter(name: name, value: try f.tensor("init/" + name))
            parameter.gradient = try f.tensor(key)
            parameters.append(parameter)
        }
        try optimizer.step(parameters)
        for parameter in parameters { try expectMatches(parameter.value, f, "after/" + parameter.name, tolerance: 1e-6) }
    }
}
