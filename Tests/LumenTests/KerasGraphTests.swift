import Foundation
import Testing
@testable import Lumen

/// keras.applications' bases and a functional Keras model, against Keras' own outputs
/// (Scripts/make-keras-graph-fixtures.py): the built-ins, the architectures read from
/// Keras' configs, and the model files.
@Suite struct KerasGraphTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/keras-graph", isDirectory: true)
    static let applications = try! SafeTensors(contentsOf: folder.appendingPathComponent("applications.safetensors"))

    struct Application {
        let key: String, size: Int, parameters: Int, layers: [String]
        init(_ key: String) throws {
            let text = KerasGraphTests.applications.metadata[key] ?? "{}"
            let info = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
            self.key = key
            size = info["size"] as? Int ?? 0
            parameters = info["params"] as? Int ?? 0
            layers = info["layers"] as? [String] ?? []
        }

        var builtin: ModelReference {
            get throws {
                switch key {
                case "mobilenet-025": return try ModelReference("mobilenet:0.25")
                case "mobilenet-100": return try ModelReference("mobilenet", alpha: 1)
                default: return try ModelReference(key)
                }
            }
        }
    }

    static let keys = ["mobilenet-025", "mobilenet-100", "xception", "inception-v3", "resnet50", "densenet121"]

    /// The logits of `model` on the fixture's inputs against Keras' outputs.
    func expectKerasOutputs(_ model: Model, _ key: String, tolerance: Float = 1e-5) throws {
        let x = try channelsFirstTensor(KerasGraphTests.applications.tensors["\(key)/x"]!)
        let predicted = try model.logits(x, training: false).toArray()
        let difference = spreadDifference(predicted, KerasGraphTests.applications.tensors["\(key)/y"]!.values)
        print("\(key) (\(model.spec.name)): \(difference) of the spread of Keras' outputs")
        #expect(difference <= tolerance, "\(key): \(difference)")
    }

    /// Each built-in has Keras' layer names in Keras' order, Keras' parameter count, and
    /// computes Keras' outputs from the same weights.
    @Test(arguments: keys)
    func builtinMatchesKeras(key: String) throws {
        let application = try Application(key)
        let spec = try application.builtin.spec(classes: 5, inputSize: application.size, channels: 3)
        let model = try Model(spec: spec, device: testDevice)
        #expect(model.layers.map(\.name) == application.layers)
        #expect(model.parameterCounts.total == application.parameters)
        try KerasFormulaWeights.load(into: model)
        try expectKerasOutputs(model, key)
    }

    /// The architecture Keras writes (`model.to_json()`, a full-model file's config) reads
    /// back as the same graph.
    @Test(arguments: keys)
    func kerasConfigReadsAsTheSameGraph(key: String) throws {
        let json = try Data(contentsOf: KerasGraphTests.folder.appendingPathComponent("\(key).json"))
        let model = try Model(spec: try KerasModelConfig.spec(fromJSON: json, source: key), device: testDevice)
        #expect(model.layers.map(\.name) == (try Application(key)).layers)
        try KerasFormulaWeights.load(into: model)
        try expectKerasOutputs(model, key)
    }

    /// MobileNet (alpha 0.25) through every file path: full-model .h5 and .keras with their
    /// own architecture, Keras 3 .weights.h5 into the built-in.
    @Test(arguments: ["mobilenet-025.h5", "mobilenet-025.keras", "mobilenet-025.weights.h5"])
    func mobilenetFilesImport(file: String) throws {
        let url = KerasGraphTests.folder.appendingPathComponent(file)
        let model: Model
        if file.hasSuffix(".weights.h5") {
            model = try Model(spec: try ModelReference("mobilenet:0.25").spec(classes: 5, inputSize: 32, channels: 3), device: testDevice)
            try Checkpoint.load(try KerasWeights.tensors(from: url, for: model), into: model, source: file)
        } else {
            let kerasFile = try KerasModelFile(contentsOf: url)
            model = try Model(spec: kerasFile.spec, device: testDevice)
            try Checkpoint.load(try kerasFile.tensors(for: model), into: model, source: file)
        }
        try expectKerasOutputs(model, "mobilenet-025")
    }

    /// keras-applications' weights without the top (legacy layout, layer_names) load into
    /// the built-in's base; its features equal Keras' include_top=False output.
    @Test func notopWeightsLoadIntoTheBase() throws {
        let url = KerasGraphTests.folder.appendingPathComponent("mobilenet-025-notop-legacy.h5")
        let model = try Model(spec: try ModelReference("mobilenet:0.25").spec(classes: 5, inputSize: 32, channels: 3), device: testDevice)
        let tensors = try KerasWeights.tensors(from: url, for: model, allowingMissing: true)
        let head = Set(model.parameters.map(\.name)).subtracting(tensors.keys)
        #expect(head == ["conv_preds.weight", "conv_preds.bias"])
        try Checkpoint.load(tensors, into: model, source: "notop", keeping: head)
        let x = try channelsFirstTensor(KerasGraphTests.applications.tensors["mobilenet-025/x"]!)
        let features = try model.outputs(x, at: [try model.layerIndex(named: "conv_pw_13_relu")])[0].toArray()
        let difference = spreadDifference(features, KerasGraphTests.applications.tensors["mobilenet-025/notop"]!.values)
        #expect(difference <= 1e-5, "\(difference)")
    }

    /// A functional model written in Keras with every merge and reshaping layer Lumen
    /// adds, saved as .h5 and .keras, predicts what Keras predicts.
    @Test(arguments: ["mini-xception.h5", "mini-xception.keras"])
    func functionalModelFilesPredictWhatKerasPredicts(file: String) throws {
        let fixture = try SafeTensors(contentsOf: KerasGraphTests.folder.appendingPathComponent("graph.safetensors"))
        let kerasFile = try KerasModelFile(contentsOf: KerasGraphTests.folder.appendingPathComponent(file))
        let model = try Model(spec: kerasFile.spec, device: testDevice)
        #expect(model.parameterCounts.total == Int(fixture.metadata["params"] ?? ""))
        try Checkpoint.load(try kerasFile.tensors(for: model), into: model, source: file)
        let predicted = try model.predict(try channelsFirstTensor(fixture.tensors["x"]!)).toArray()
        let difference = spreadDifference(predicted, fixture.tensors["y"]!.values)
        print("\(file): \(difference) of the spread of Keras' outputs")
        #expect(difference <= 1e-5, "\(file): \(difference)")
    }

    /// A layer class or argument value Lumen does not implement is one line naming the
    /// file, the layer, its class and the argument; Keras 2's inbound-node lists read as
    /// Keras 3's.
    @Test func unsupportedKerasLayersAreNamed() throws {
        func config(_ layer: String) -> Data {
            Data("""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 8, 8, 3]}, "inbound_nodes": []},
              \(layer)],
              "input_layers": [["in", 0, 0]], "output_layers": [["x", 0, 0]]}}
            """.utf8)
        }
        let lambda = config(#"{"class_name": "Lambda", "name": "x", "config": {"name": "x"}, "inbound_nodes": [[["in", 0, 0, {}]]]}"#)
        #expect(throws: LumenError.invalidModelSpec("f.h5: layer 'x' has class Lambda, which Lumen does not implement")) {
            try KerasModelConfig.spec(fromJSON: lambda, source: "f.h5")
        }
        let dilated = config(#"{"class_name": "Conv2D", "name": "x", "config": {"name": "x", "filters": 2, "kernel_size": [3, 3], "dilation_rate": [2, 2]}, "inbound_nodes": [[["in", 0, 0, {}]]]}"#)
        #expect(throws: LumenError.invalidModelSpec("f.h5: layer 'x' (Conv2D): dilation_rate=[2, 2] is not supported")) {
            try KerasModelConfig.spec(fromJSON: dilated, source: "f.h5")
        }
        let plain = config(#"{"class_name": "Conv2D", "name": "x", "config": {"name": "x", "filters": 2, "kernel_size": [3, 3], "padding": "same"}, "inbound_nodes": [[["in", 0, 0, {}]]]}"#)
        let spec = try KerasModelConfig.spec(fromJSON: plain, source: "f.h5")
        #expect(spec.inputShape == [8, 8, 3] && spec.inputName == "in" && spec.layers.map(\.inputs) == [["in"]])
        #expect(try Model(spec: spec, device: testDevice).outputShapes == [[2, 8, 8]])
    }

    /// `lumen import-keras FILE` without --model: the checkpoint holds the file's graph and
    /// weights, predicts what Keras predicts, and takes raw pixels because the model
    /// rescales its own input.
    @Test func importKerasReadsTheArchitectureFromTheCommandLine() throws {
        let folder = try TemporaryFolder()
        let out = folder.url.appendingPathComponent("mini.safetensors")
        let run = try LumenProcess.run(["import-keras", KerasGraphTests.folder.appendingPathComponent("mini-xception.keras").path,
                                        "--classes", "a,b,c,d", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        let checkpoint = try Checkpoint(contentsOf: out)
        #expect(checkpoint.preprocessing == .raw && checkpoint.classes == ["a", "b", "c", "d"])
        let fixture = try SafeTensors(contentsOf: KerasGraphTests.folder.appendingPathComponent("graph.safetensors"))
        let predicted = try checkpoint.makeModel(on: testDevice).predict(try channelsFirstTensor(fixture.tensors["x"]!)).toArray()
        #expect(spreadDifference(predicted, fixture.tensors["y"]!.values) <= 1e-5)
        let wrong = try LumenProcess.run(["import-keras", KerasGraphTests.folder.appendingPathComponent("mini-xception.h5").path,
                                          "--classes", "a,b", "--out", out.path])
        #expect(wrong.status != 0 && wrong.stderr.contains("--classes gives 2 outputs"), "\(wrong.stderr)")
    }
}
