import Foundation
import Testing
@testable import Lumen

/// Models as graphs: a spec with `inputs:` whose layers fan out and merge, trained one
/// step against PyTorch (Scripts/make-torch-fixtures.py graph_step), with both kernel
/// families; and the graph's plan, summary and transfer-learning operations.
@Suite struct GraphModelTests {
    static let yaml = """
        name: graph
        input_shape: [9, 9, 3]
        layers:
          - {type: Conv2D, name: stem, filters: 4, kernel_size: 3, padding: same, activation: relu}
          - {type: SeparableConv2D, name: sep, filters: 5, kernel_size: 3, padding: same, depth_multiplier: 2}
          - {type: Conv2D, name: proj, inputs: [stem], filters: 5, kernel_size: 1, use_bias: false}
          - {type: Add, name: add, inputs: [sep, proj]}
          - {type: DepthwiseConv2D, name: branch, inputs: [stem], kernel_size: 3, padding: same}
          - {type: Concatenate, name: concat, inputs: [add, branch, stem]}
          - {type: Conv2D, name: gate, filters: 13, kernel_size: 1, activation: sigmoid}
          - {type: Multiply, name: gated, inputs: [concat, gate]}
          - {type: BatchNormalization, name: norm}
          - {type: GlobalAveragePooling2D, name: pool}
          - {type: Dense, name: head, units: 3, activation: softmax}
        """

    /// The graph on size × size images.
    static func spec(size: Int = 9) throws -> ModelSpec {
        try modelSpec(yaml: yaml.replacingOccurrences(of: "input_shape: [9, 9, 3]", with: "input_shape: [\(size), \(size), 3]"))
    }

    /// Gradients summed where `stem` feeds four layers, split by Concatenate, multiplied
    /// through the gate: every parameter gradient and the loss equal PyTorch's. On 16 × 16
    /// images the pointwise convolutions `proj` and `gate` add their input gradients into
    /// the sums (GEMM beta = 1) in both kernel families, and on 9 × 9 only in the GPU-style one
    /// (CPU-style puts those images side by side); the other sums are added in place.
    @Test(arguments: KernelStyle.allCases, [9, 16])
    func trainingStepMatchesPyTorch(style: KernelStyle, size: Int) throws {
        let f = try TorchFixture(size == 9 ? "graph_step" : "graph_step_\(size)")
        let model = try Model(spec: try GraphModelTests.spec(size: size), device: device(for: style))
        var initial: [String: SafeTensors.Entry] = [:]
        for (key, entry) in f.tensors where key.hasPrefix("param/") { initial[String(key.dropFirst(6))] = entry }
        try Checkpoint.load(initial, into: model, source: "fixture", keeping: ["norm.running_mean", "norm.running_var"])
        let z = try model.logits(try f.tensor("x", on: device(for: style)), training: true)
        try expectMatches(z, f, "logits")
        let (loss, gradient) = try Loss(model.defaultLoss).evaluate(logits: z, labels: f["labels"].values.map { Int($0) })
        #expect(abs(loss - f["loss"].values[0]) <= 1e-4 * abs(f["loss"].values[0]))
        try model.backward(fromLogits: gradient)
        for parameter in model.parameters where !parameter.isStatistic {
            try expectMatches(parameter.gradient, f, "grad/\(parameter.name)")
        }
        for layer in model.layers { layer.clearCache() }
    }

    /// Grad-CAM's gradient at a layer inside the graph (one of three branches into the
    /// concatenation), in inference mode, equals PyTorch's.
    @Test func gradientAtANamedLayerMatchesPyTorch() throws {
        let f = try TorchFixture("graph_step")
        let model = try Model(spec: try GraphModelTests.spec(), device: testDevice)
        var initial: [String: SafeTensors.Entry] = [:]
        for (key, entry) in f.tensors where key.hasPrefix("param/") { initial[String(key.dropFirst(6))] = entry }
        try Checkpoint.load(initial, into: model, source: "fixture", keeping: ["norm.running_mean", "norm.running_var"])
        let x = f["x"]
        let first = try Tensor(on: testDevice, shape: [1] + x.shape.dropFirst(), values: Array(x.values.prefix(x.values.count / x.shape[0])))
        let (output, gradient) = try model.gradient(at: try model.layerIndex(named: "add"), for: first) { logits in
            try Tensor(on: testDevice, shape: logits.shape, values: [0, 1, 0])
        }
        try expectMatches(output, f, "gradcam/add")
        try expectMatches(gradient, f, "gradcam/dadd")
    }

    /// One training step's parameter gradients by name, and the predictions after it ("predict").
    static func stepGradients(_ model: Model, _ x: Tensor) throws -> [String: [Float]] {
        let z = try model.logits(x, training: true)
        let (_, gradient) = try Loss(model.defaultLoss).evaluate(logits: z, labels: [0, 1, 2, 1])
        try model.backward(fromLogits: gradient)
        var named: [String: [Float]] = ["predict": try model.predict(x).toArray()]
        for parameter in model.parameters where !parameter.isStatistic { named[parameter.name] = try parameter.gradient!.toArray() }
        for layer in model.layers { layer.clearCache() }
        return named
    }

    /// BatchNorm → ReLU runs as one fused pass (the plan says so) and trains exactly as
    /// BatchNorm → LeakyReLU(alpha 0), the same function left unfused; in inference too.
    @Test(arguments: KernelStyle.allCases)
    func fusedBatchNormReLUTrainsAsTheUnfusedLayers(style: KernelStyle) throws {
        func spec(_ activation: LayerSpec) -> ModelSpec {
            var conv = LayerSpec(type: "Conv2D", name: "conv"); conv.filters = 4; conv.kernelSize = 3; conv.padding = .same
            var dense = LayerSpec(type: "Dense", name: "dense"); dense.units = 3; dense.activation = .softmax
            var act = activation; act.name = "act"
            return ModelSpec(name: "bn-relu", inputShape: [6, 5, 2], layers: [conv, LayerSpec(type: "BatchNormalization", name: "norm"),
                                                                                act, LayerSpec(type: "GlobalAveragePooling2D"), dense])
        }
        var leaky = LayerSpec(type: "LeakyReLU"); leaky.alpha = 0
        let fused = try Model(spec: spec(LayerSpec(type: "ReLU")), device: device(for: style), seed: 3)
        let unfused = try Model(spec: spec(leaky), device: device(for: style), seed: 3)
        #expect(fused.plan.activationFusions == [1: 2] && unfused.plan.activationFusions.isEmpty)
        let x = try Tensor(on: device(for: style), shape: [4, 2, 6, 5], values: randomValues(240, seed: 5).map { $0 * 2 - 1 })
        let gradients = try [fused, unfused].map { try GraphModelTests.stepGradients($0, x) }
        for (name, values) in gradients[0] {
            #expect(scaledDifference(values, gradients[1][name]!) <= 1e-6, "\(name)")
        }
    }

    /// A ReLU layer read only by a SeparableConv2D or DepthwiseConv2D is applied as that
    /// layer loads its input in inference (the plan says so; the ReLU passes values
    /// through), and the model predicts and trains as with LeakyReLU(alpha 0) in its place.
    @Test(arguments: KernelStyle.allCases)
    func reluAppliedByTheDepthwiseLayerPredictsAsTheUnfusedLayers(style: KernelStyle) throws {
        func spec(_ activation: LayerSpec) -> ModelSpec {
            var conv = LayerSpec(type: "Conv2D", name: "conv"); conv.filters = 3; conv.kernelSize = 3; conv.padding = .same
            var separable = LayerSpec(type: "SeparableConv2D", name: "separable")
            separable.filters = 4; separable.kernelSize = 3; separable.padding = .same
            var depthwise = LayerSpec(type: "DepthwiseConv2D", name: "depthwise"); depthwise.kernelSize = 3
            var dense = LayerSpec(type: "Dense", name: "dense"); dense.units = 3; dense.activation = .softmax
            var first = activation, second = activation
            first.name = "act1"; second.name = "act2"
            return ModelSpec(name: "relu-depthwise", inputShape: [7, 18, 2],
                             layers: [conv, first, separable, second, depthwise, LayerSpec(type: "GlobalAveragePooling2D"), dense])
        }
        var leaky = LayerSpec(type: "LeakyReLU"); leaky.alpha = 0
        let fused = try Model(spec: spec(LayerSpec(type: "ReLU")), device: device(for: style), seed: 3)
        let unfused = try Model(spec: spec(leaky), device: device(for: style), seed: 3)
        #expect(fused.plan.inputReLUs == [1: 2, 3: 4] && unfused.plan.inputReLUs.isEmpty)
        let x = try Tensor(on: device(for: style), shape: [4, 2, 7, 18], values: randomValues(1008, seed: 5).map { $0 * 2 - 1 })
        let gradients = try [fused, unfused].map { try GraphModelTests.stepGradients($0, x) }
        #expect(gradients[0].count == 10)
        for (name, values) in gradients[0] {
            #expect(scaledDifference(values, gradients[1][name]!) <= 1e-6, "\(name)")
        }
        // Exposed (kept by `outputs`), the ReLU applies itself.
        let kept = try fused.outputs(x, at: [1, 6])
        #expect(try kept[0].toArray().allSatisfy { $0 >= 0 })
        #expect(scaledDifference(try kept[1].toArray(), gradients[1]["predict"]!) <= 1e-6)
    }

    /// Add → ReLU or ReLU6 runs as one pass (the sum's kernel clamps) and trains exactly as
    /// the same layers kept apart by a linear Activation between them; a residual block's
    /// own ReLU runs in its sum too.
    @Test(arguments: KernelStyle.allCases)
    func fusedAddActivationTrainsAsTheUnfusedLayers(style: KernelStyle) throws {
        func spec(_ activation: ActivationKind, apart: Bool) -> ModelSpec {
            var conv = LayerSpec(type: "Conv2D", name: "conv"); conv.filters = 3; conv.kernelSize = 3; conv.padding = .same
            var other = conv; other.name = "other"
            var add = LayerSpec(type: "Add", name: "add"); add.inputs = ["conv", "other"]
            var between = LayerSpec(type: "Activation", name: "between"); between.activation = .linear
            var act = LayerSpec(type: "Activation", name: "act"); act.activation = activation
            var block = LayerSpec(type: "Residual", name: "block"); block.layers = [conv]; block.activation = .relu
            block.layers![0].name = "inner"
            var dense = LayerSpec(type: "Dense", name: "dense"); dense.units = 3; dense.activation = .softmax
            return ModelSpec(name: "add-relu", inputShape: [6, 5, 2],
                             layers: [conv, other, add] + (apart ? [between] : []) + [act, block, LayerSpec(type: "GlobalAveragePooling2D"), dense])
        }
        for activation in [ActivationKind.relu, .relu6] {
            let fused = try Model(spec: spec(activation, apart: false), device: device(for: style), seed: 3)
            let unfused = try Model(spec: spec(activation, apart: true), device: device(for: style), seed: 3)
            #expect(fused.plan.activationFusions == [2: 3] && unfused.plan.activationFusions.isEmpty)
            // Inputs large enough that sums pass 6.
            let x = try Tensor(on: device(for: style), shape: [4, 2, 6, 5], values: randomValues(240, seed: 5).map { $0 * 12 })
            let gradients = try [fused, unfused].map { try GraphModelTests.stepGradients($0, x) }
            #expect(gradients[0].count == 9)
            for (name, values) in gradients[0] {
                #expect(scaledDifference(values, gradients[1][name]!) <= 1e-6, "\(name) with \(activation)")
            }
        }
    }

    /// Inside a residual block too: BatchNorm → ReLU6 on its main path runs fused and
    /// trains exactly as BatchNorm → LeakyReLU(alpha 0) (inputs small enough that 6 is never reached).
    @Test(arguments: KernelStyle.allCases)
    func fusedBatchNormReLU6InResidualBlockTrainsAsTheUnfusedLayers(style: KernelStyle) throws {
        func spec(_ activation: LayerSpec) -> ModelSpec {
            var conv = LayerSpec(type: "Conv2D", name: "conv"); conv.filters = 3; conv.kernelSize = 3; conv.padding = .same
            var back = conv; back.name = "back"; back.filters = 2
            var dense = LayerSpec(type: "Dense", name: "dense"); dense.units = 3; dense.activation = .softmax
            var act = activation; act.name = "act"
            var block = LayerSpec(type: "Residual", name: "block")
            block.layers = [conv, LayerSpec(type: "BatchNormalization", name: "norm"), act, back]
            return ModelSpec(name: "res-bn-relu6", inputShape: [6, 5, 2], layers: [block, LayerSpec(type: "GlobalAveragePooling2D"), dense])
        }
        var relu6 = LayerSpec(type: "Activation"); relu6.activation = .relu6
        var leaky = LayerSpec(type: "LeakyReLU"); leaky.alpha = 0
        let fused = try Model(spec: spec(relu6), device: device(for: style), seed: 3)
        let unfused = try Model(spec: spec(leaky), device: device(for: style), seed: 3)
        let paths = [fused, unfused].map { ($0.layers[0] as! Residual).main }
        let training = ForwardPass(training: true)
        #expect(Residual.forwardPasses(paths[0], training).map(\.fusedActivation) == [.linear, .relu6, .linear, .linear])
        #expect(Residual.forwardPasses(paths[1], training).allSatisfy { $0.fusedActivation == .linear && $0.appliesActivation })
        let x = try Tensor(on: device(for: style), shape: [4, 2, 6, 5], values: randomValues(240, seed: 5).map { $0 * 2 - 1 })
        let gradients = try [fused, unfused].map { try GraphModelTests.stepGradients($0, x) }
        #expect(gradients[0].count == 9)
        for (name, values) in gradients[0] {
            #expect(scaledDifference(values, gradients[1][name]!) <= 1e-6, "\(name)")
        }
    }

    /// The spec written back (with `inputs:` where a layer does not take the one before)
    /// builds the same graph.
    @Test func specRoundTrips() throws {
        let model = try Model(spec: try GraphModelTests.spec(), device: testDevice)
        #expect(!model.isSequential)
        let again = try Model(spec: try JSONDecoder().decode(ModelSpec.self, from: try JSONEncoder().encode(model.spec)), device: testDevice)
        #expect(again.plan.inputs == model.plan.inputs)
        #expect(again.outputShapes == model.outputShapes)
    }

    /// Freezing the stem leaves every layer above it trainable; the plan's backward then
    /// skips the stem, which keeps nothing for it, while the rest get their gradients.
    @Test func frozenStemIsSkipped() throws {
        let f = try TorchFixture("graph_step")
        let model = try Model(spec: try GraphModelTests.spec(), device: testDevice)
        try model.freeze(until: "stem")
        let z = try model.logits(try f.tensor("x"), training: true)
        #expect(model.plan.reached == [false] + [Bool](repeating: true, count: model.layers.count - 1))
        #expect((model.layers[0] as! Conv2D).cache == nil)
        #expect((model.layers[2] as! Conv2D).cache != nil)
        let (_, gradient) = try Loss(model.defaultLoss).evaluate(logits: z, labels: f["labels"].values.map { Int($0) })
        try model.backward(fromLogits: gradient)
        #expect(model.layers[0].parameters.allSatisfy { $0.gradient == nil })
        #expect(model.parameters.filter { !$0.name.hasPrefix("stem") && !$0.isStatistic }.allSatisfy { $0.gradient != nil })
        for layer in model.layers { layer.clearCache() }
    }

    /// A layer naming an input that comes later, or one that leads nowhere, is one clear error.
    @Test func badConnectionsAreNamed() throws {
        var spec = try GraphModelTests.spec()
        spec.layers[2].inputs = ["gate"]
        #expect(throws: LumenError.invalidModelSpec("layer 'proj' takes 'gate', which is neither an earlier layer nor the input 'input'")) {
            try Model(spec: spec, device: testDevice)
        }
        spec = try GraphModelTests.spec()
        spec.layers[4].inputs = ["add"]
        spec.layers[5].inputs = ["add", "stem"]
        #expect(throws: LumenError.invalidModelSpec("layer 'branch' does not lead to the model's output, the last layer 'head'")) {
            try Model(spec: spec, device: testDevice)
        }
    }

    /// The summary of a graph has Keras' "Connected to" column.
    @Test func summaryListsConnections() throws {
        let text = try Model(spec: try GraphModelTests.spec(), device: testDevice).summary()
        #expect(text.contains("Connected to"))
        let concat = text.split(separator: "\n").first { $0.hasPrefix("concat (Concatenate)") } ?? ""
        #expect(concat.contains("add[0][0], branch[0][0], stem[0][0]"))
    }
}
