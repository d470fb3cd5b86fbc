import Foundation
import Testing
@testable import Lumen

@Suite struct ModelTests {
    @Test func xrayCNNHasKerasParameterCount() throws {
        let model = try Model(spec: BuiltinModel.xrayCNN.spec(classes: 2), device: testDevice)
        let counts = model.parameterCounts
        #expect(counts.total == 2_577_858)
        #expect(counts.nonTrainable == 2 * (64 + 128 + 256 + 256))
        let summary = model.summary()
        #expect(summary.contains("Total params: 2,577,858"))
        #expect(summary.contains("conv2d_3 (Conv2D)"))
        #expect(summary.contains("(None, 7, 7, 256)"))
        #expect(summary.contains("dense_2 (Dense)"))
    }

    /// A residual block's rows show each inner layer's own output, shortcut included:
    /// resnet18's layer2.0 takes 64×16×16 (at 64²) and halves it on both paths.
    @Test func summaryShowsResidualPathsOutputs() throws {
        let lines = try Model(spec: BuiltinModel.resnet18.spec(classes: 2, inputSize: 64), device: testDevice).summary()
            .split(separator: "\n").map(String.init)
        func shape(_ name: String) -> String? {
            lines.first { $0.hasPrefix("  \(name) (") }?.split(separator: "(").dropFirst(2).first.map { "(" + $0.split(separator: ")")[0] + ")" }
        }
        #expect(shape("layer2.0.conv1") == "(None, 8, 8, 128)")
        #expect(shape("layer2.0.bn2") == "(None, 8, 8, 128)")
        #expect(shape("layer2.0.downsample.0") == "(None, 8, 8, 128)")
        #expect(shape("layer1.0.conv1") == "(None, 16, 16, 64)")
    }

    @Test func fashionCNNTakesClassesAndInput() throws {
        let model = try Model(spec: BuiltinModel.fashionCNN.spec(classes: 10), device: testDevice)
        #expect(model.outputShapes.last == [10])
        #expect(model.outputShapes[0] == [32, 26, 26])
        // 320 + 18,496 + 1600·128+128 + 1290
        #expect(model.parameterCounts.total == 320 + 18_496 + 204_928 + 1_290)
        let wide = try Model(spec: BuiltinModel.fashionCNN.spec(classes: 3, inputSize: 32, channels: 3), device: testDevice)
        #expect(wide.outputShapes[0] == [32, 30, 30])
        #expect(wide.defaultLoss == .categoricalCrossentropy)
    }

    @Test func glorotInitIsSeededAndBounded() throws {
        let spec = BuiltinModel.fashionCNN.spec(classes: 10)
        let a = try Model(spec: spec, device: testDevice, seed: 7)
        let b = try Model(spec: spec, device: testDevice, seed: 7)
        let c = try Model(spec: spec, device: testDevice, seed: 8)
        let weightsA = try a.parameters[0].value.toArray()
        #expect(weightsA == (try b.parameters[0].value.toArray()))
        #expect(weightsA != (try c.parameters[0].value.toArray()))
        let limit = (6.0 / Float(1 * 9 + 32 * 9)).squareRoot()
        #expect(weightsA.allSatisfy { abs($0) <= limit })
        #expect(try a.parameters[1].value.toArray().allSatisfy { $0 == 0 })  // zero biases
    }

    @Test func heNormalHasKerasSpread() {
        var random = SplitMix64(seed: 3)
        let values = Initializer.heNormal.values(count: 20_000, fanIn: 50, fanOut: 10, random: &random)
        let std = (values.map { Double($0 * $0) }.reduce(0, +) / Double(values.count)).squareRoot()
        // Truncated at 2σ with σ corrected, the spread is sqrt(2 / fan_in).
        #expect(abs(std - (2.0 / 50).squareRoot()) < 0.01, "std \(std)")
        #expect(values.allSatisfy { abs($0) <= 2 * (2 / 50 as Float).squareRoot() / 0.879_625_66 + 1e-6 })
    }

    @Test func unnamedLayersGetKerasNames() throws {
        #expect(LayerFactory.stem("MaxPooling2D") == "max_pooling2d")
        #expect(LayerFactory.stem("BatchNormalization") == "batch_normalization")
        #expect(LayerFactory.stem("DepthwiseConv2D") == "depthwise_conv2d")
        let model = try Model(spec: BuiltinModel.xrayCNN.spec(classes: 2), device: testDevice)
        #expect(model.layers.map(\.name).prefix(4) == ["conv2d", "max_pooling2d", "batch_normalization", "conv2d_1"])
    }

    @Test func badSpecsAreNamed() throws {
        var spec = BuiltinModel.fashionCNN.spec(classes: 2)
        spec.layers[0].filters = nil
        #expect(throws: LumenError.self) { try Model(spec: spec, device: testDevice) }
        spec = BuiltinModel.fashionCNN.spec(classes: 2)
        spec.layers.remove(at: 4)  // no Flatten before Dense
        do {
            _ = try Model(spec: spec, device: testDevice)
            Issue.record("Dense after a 3-D output was accepted")
        } catch let error as LumenError {
            #expect(error.description.contains("Flatten"))
        }
    }

    /// A spec file with a key its layer does not take is refused with one line naming the
    /// file, the key and the layer; what Lumen writes itself still loads.
    @Test(arguments: [
        ("{type: Conv2D, filters: 4, kernel_size: 3, dilation_rate: 2}", "dilation_rate", "layer 1 (Conv2D)"),
        ("{type: Conv2D, name: stem, filters: 4, kernal_size: 3}", "kernal_size", "layer 'stem' (Conv2D)"),
        ("{type: Conv2D, filters: 4, kernel_size: 3, groups: 2}", "groups", "(Conv2D)"),
        ("{type: MaxPooling2D, units: 3}", "units", "(MaxPooling2D)"),
        ("{type: Flatten, data_format: channels_last}", "data_format", "(Flatten)"),
    ])
    func unknownSpecArgumentsAreErrors(layer: String, key: String, names: String) throws {
        let folder = try TemporaryFolder()
        let file = folder.url.appendingPathComponent("model.yaml")
        try "name: strict\ninput_shape: [8, 8, 1]\nlayers:\n  - \(layer)\n  - {type: Flatten}\n  - {type: Dense, units: 2}\n"
            .write(to: file, atomically: true, encoding: .utf8)
        do {
            _ = try ConfigFile.decode(ModelSpec.self, from: file)
            Issue.record("\(key) was accepted")
        } catch let error as DataError {
            let text = "\(error)"
            #expect(text.contains(key) && text.contains(names) && text.contains("model.yaml") && !text.contains("\n"), "\(text)")
        }
        try "name: strict\ninput_shape: [8, 8, 1]\nlayer: []\nlayers: []\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: DataError.self) { try ConfigFile.decode(ModelSpec.self, from: file) }
    }

    /// Every spec Lumen writes (checkpoints carry them) reads back, Residual blocks and
    /// graphs included.
    @Test(arguments: BuiltinModel.allCases)
    func builtinSpecsReadBack(builtin: BuiltinModel) throws {
        let spec = try Model(spec: builtin.spec(classes: 3, inputSize: 75), device: testDevice).spec
        #expect(try JSONDecoder().decode(ModelSpec.self, from: try JSONEncoder().encode(spec)) == spec, "\(builtin)")
    }

    @Test func setTrainableFreezesAllButTheLast() throws {
        let model = try Model(spec: BuiltinModel.xrayCNN.spec(classes: 2, inputSize: 64), device: testDevice)
        try model.setTrainable(last: 5)
        #expect(model.layers.suffix(5).allSatisfy { $0.trainable })
        #expect(model.layers.dropLast(5).filter { !$0.parameters.isEmpty }.allSatisfy { !$0.trainable })
        #expect(model.summary().contains("conv2d (Conv2D)"))
    }

    @Test func trainingReducesLossOnASeparableBatch() throws {
        let spec = BuiltinModel.fashionCNN.spec(classes: 2, inputSize: 12)
        let model = try Model(spec: spec, device: testDevice, seed: 1)
        // Class 0: bright top half; class 1: bright bottom half.
        var values: [Float] = []
        let labels = [0, 1, 0, 1, 1, 0, 1, 0]
        for label in labels {
            for row in 0..<12 { for _ in 0..<12 { values.append((row < 6) == (label == 0) ? 1 : 0) } }
        }
        let x = try Tensor(on: testDevice, shape: [8, 1, 12, 12], values: values)
        let optimizer = Adam(learningRate: 1e-2)
        let first = try model.trainStep(x, labels: labels, loss: Loss(model.defaultLoss), optimizer: optimizer).loss
        var last = first
        for _ in 0..<15 { last = try model.trainStep(x, labels: labels, loss: Loss(model.defaultLoss), optimizer: optimizer).loss }
        print("loss \(first) -> \(last)")
        #expect(last < first * 0.2)
        let probabilities = try model.predict(x).toArray()
        for (n, label) in labels.enumerated() { #expect(probabilities[n * 2 + label] > 0.5) }
    }
}

@Suite struct CheckpointTests {
    @Test func roundTripRestoresEveryTensorAndTheSpec() throws {
        let folder = try TemporaryFolder()
        let url = folder.url.appendingPathComponent("model.safetensors")
        let model = try Model(spec: BuiltinModel.xrayCNN.spec(classes: 2, inputSize: 64), device: testDevice, seed: 5)
        try Checkpoint(model: model, classes: ["NORMAL", "PNEUMONIA"], preprocessing: .tf).write(to: url)
        let loaded = try Checkpoint(contentsOf: url)
        #expect(loaded.spec == model.spec)
        #expect(loaded.classes == ["NORMAL", "PNEUMONIA"])
        #expect(loaded.preprocessing == .tf)
        let restored = try loaded.makeModel(on: testDevice)
        for (a, b) in zip(model.parameters, restored.parameters) {
            #expect(a.name == b.name)
            #expect(try a.value.toArray() == b.value.toArray())
        }
        let x = try Tensor(on: testDevice, shape: [2, 3, 64, 64], values: randomValues(2 * 3 * 64 * 64, seed: 1))
        #expect(try model.predict(x).toArray() == restored.predict(x).toArray())
    }

    @Test func tensorNamesFollowPyTorch() throws {
        let model = try Model(spec: BuiltinModel.xrayCNN.spec(classes: 2), device: testDevice)
        let names = Set(model.parameters.map(\.name))
        for name in ["conv2d.weight", "conv2d.bias", "batch_normalization.weight", "batch_normalization.bias",
                     "batch_normalization.running_mean", "batch_normalization.running_var", "dense_2.weight"] {
            #expect(names.contains(name), "missing \(name)")
        }
        #expect(model.parameters.first { $0.name == "dense.weight" }?.value.shape == [128, 12544])
        #expect(model.parameters.first { $0.name == "conv2d.weight" }?.value.shape == [64, 3, 3, 3])
    }

    @Test func strictLoadingNamesEveryProblem() throws {
        let model = try Model(spec: BuiltinModel.fashionCNN.spec(classes: 3), device: testDevice)
        var tensors: [String: SafeTensors.Entry] = [:]
        for p in model.parameters { tensors[p.name] = SafeTensors.Entry(shape: p.value.shape, values: try p.value.toArray()) }
        tensors["conv2d.bias"] = nil
        tensors["dense_1.weight"] = SafeTensors.Entry(shape: [4, 128], values: [Float](repeating: 0, count: 512))
        tensors["extra.weight"] = SafeTensors.Entry(shape: [1], values: [0])
        do {
            try Checkpoint.load(tensors, into: model, source: "file")
            Issue.record("a mismatched state was loaded")
        } catch let error as LumenError {
            let text = error.description
            #expect(text.contains("missing conv2d.bias"))
            #expect(text.contains("dense_1.weight has shape [4, 128]"))
            #expect(text.contains("unexpected extra.weight"))
        }
    }

    @Test func foreignSafetensorsIsNotACheckpoint() throws {
        let folder = try TemporaryFolder()
        let url = folder.url.appendingPathComponent("other.safetensors")
        try SafeTensors(tensors: ["w": .init(shape: [1], values: [1])]).write(to: url)
        do {
            _ = try Checkpoint(contentsOf: url)
            Issue.record("a foreign file was read as a checkpoint")
        } catch let error as CheckpointError {
            #expect(error.description.contains("not a Lumen checkpoint"))
        }
    }
}

@Suite struct SafeTensorsTests {
    func file(header: String, data: [UInt8] = []) -> Data {
        var bytes = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: Array(header.utf8))
        bytes.append(contentsOf: data)
        return bytes
    }

    @Test func writerFollowsTheFormat() throws {
        let data = try SafeTensors(tensors: ["b": .init(shape: [2], values: [1, 2]), "a": .init(shape: [1, 1], values: [3])],
                                   metadata: ["k": "v"]).serialized()
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        #expect(headerLength % 8 == 0)
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        #expect((header["__metadata__"] as? [String: String]) == ["k": "v"])
        #expect(((header["a"] as? [String: Any])?["data_offsets"] as? [Int]) == [0, 4])
        #expect(((header["b"] as? [String: Any])?["data_offsets"] as? [Int]) == [4, 12])
        #expect(data.count == 8 + headerLength + 12)
        let read = try SafeTensors(data: data)
        #expect(read.tensors["b"]?.values == [1, 2])
    }

    @Test(arguments: [
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "bytes but shape"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "hole"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8, "overlaps"),
        ("{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 2, "outside"),
        ("[1, 2]", 0, "start with"),
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, "after the last tensor"),
    ])
    func defectiveFilesAreRefused(header: String, dataBytes: Int, defect: String) {
        do {
            _ = try SafeTensors(data: file(header: header, data: [UInt8](repeating: 0, count: dataBytes)))
            Issue.record("accepted: \(header)")
        } catch let error as SafeTensors.FormatError {
            #expect(error.defect.contains(defect), "\(error.defect)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func oversizedHeaderIsRefusedWithoutReadingIt() {
        var bytes = Data()
        withUnsafeBytes(of: UInt64(200_000_000).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: Array("{}".utf8))
        #expect(throws: SafeTensors.FormatError.self) { try SafeTensors(data: bytes) }
    }

    @Test func truncatedFileIsRefused() throws {
        let data = try SafeTensors(tensors: ["w": .init(shape: [4], values: [1, 2, 3, 4])]).serialized()
        for cut in [0, 4, 8, 20, data.count - 1] {
            #expect(throws: SafeTensors.FormatError.self) { try SafeTensors(data: data.prefix(cut)) }
        }
    }
}
