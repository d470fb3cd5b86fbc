import Foundation
import Testing
@testable import Lumen

/// Workflow B of the transfer-learning seeds: bottleneck features cached once, a head
/// trained on them, and the two joined again.
@Suite(.serialized) struct BottleneckTests {
    struct Stop: Error {}

    func headSpec(_ url: URL) throws {
        try """
        name: head
        input_shape: [1, 1, 1]
        layers:
          - {type: Conv2D, filters: 6, kernel_size: 1}
          - {type: BatchNormalization}
          - {type: ReLU}
          - {type: Flatten}
          - {type: Dense, units: 3, activation: softmax}
        """.write(to: url, atomically: true, encoding: .utf8)
    }

    func trainedBase(_ folder: URL) throws -> URL {
        var config = TrainingConfig()
        config.data = folder.appendingPathComponent("train").path
        config.model = folder.appendingPathComponent("small.yaml").path
        config.out = folder.appendingPathComponent("base").path
        config.epochs = 1
        config.batchSize = 8
        let run = try TrainingRun(config: config, device: testDevice)
        try run.trainer.fit(epochs: 1)
        return run.trainer.finalURL
    }

    @Test func headOnFeaturesEqualsTheHeadOnTheBase() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("train"), perClass: 10, seed: 11)
        try writeColourDataset(folder.url.appendingPathComponent("val"), perClass: 4, seed: 12)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        try headSpec(folder.url.appendingPathComponent("head.yaml"))
        let baseURL = try trainedBase(folder.url)
        let base = try Checkpoint(contentsOf: baseURL)
        let baseModel = try base.makeModel(on: testDevice)
        for split in ["train", "val"] {
            try FeatureExtractor.run(base: baseModel, layer: nil, folder: try ImageFolder(root: folder.url.appendingPathComponent(split)),
                                     preprocessing: base.preprocessing, batchSize: 4, chunkBatches: 3,
                                     out: folder.url.appendingPathComponent("\(split).features"))
        }
        var config = TrainingConfig()
        config.features = folder.url.appendingPathComponent("train.features").path
        config.valFeatures = folder.url.appendingPathComponent("val.features").path
        config.model = folder.url.appendingPathComponent("head.yaml").path
        config.out = folder.url.appendingPathComponent("head").path
        config.epochs = 3
        config.batchSize = 4
        config.learningRate = 1e-2
        let run = try TrainingRun(config: config, device: testDevice)
        let history = try run.trainer.fit(epochs: 3)
        #expect(run.trainer.model.layers.allSatisfy { $0.name.hasPrefix("head_") })

        // The head joined to its base, run on the validation images, sees what the head saw.
        let combined = try TransferComposition.combine(base: base, head: try Checkpoint(contentsOf: run.trainer.finalURL), device: testDevice)
        let evaluation = try Evaluation.run(model: try combined.makeModel(on: testDevice), classes: combined.classes,
                                            preprocessing: combined.preprocessing,
                                            folder: try ImageFolder(root: folder.url.appendingPathComponent("val")))
        let last = history.epochs.last!
        print("head on features: val_loss \(last["val_loss"]!), combined on images: \(evaluation.loss)")
        #expect(abs(evaluation.loss - last["val_loss"]!) < 1e-5)
        #expect(abs(evaluation.accuracy - last["val_accuracy"]!) < 1e-9)
    }

    /// 18 training images and a base trained on them, for extraction runs.
    func extractionSetup() throws -> (TemporaryFolder, Checkpoint, Model, ImageFolder) {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("train"), perClass: 6, seed: 13)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        let base = try Checkpoint(contentsOf: try trainedBase(folder.url))
        return (folder, base, try base.makeModel(on: testDevice), try ImageFolder(root: folder.url.appendingPathComponent("train")))
    }

    /// `lumen extract-features` in a log: plain progress lines with elapsed time and an
    /// ETA, the last one at the end; the ETA is the rate of the batches run times those left.
    @Test func extractionShowsProgressWithAnETA() throws {
        let (folder, _, _, images) = try extractionSetup()
        let out = folder.url.appendingPathComponent("a.features").path
        let run = try LumenProcess.run(["extract-features", "--base", try trainedBase(folder.url).path + ":conv2d_1",
                                        "--data", images.root.path, "--batch-size", "2", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("  batch 9/9, 0:") && $0.contains(" elapsed") && $0.hasSuffix(", ETA 0:00") },
                "\(run.stdout)")
        #expect(BatchProgress(done: 3, total: 10, batchesRun: 2, elapsed: 12, firstUse: 4).eta == 28)
        #expect(BatchProgress(done: 4, total: 10, batchesRun: 0, elapsed: 1, firstUse: 0).eta == 0)
        // From the first report on: its start-up stays out of the rate (6 s for 4 batches).
        let first = BatchProgress(done: 1, total: 10, batchesRun: 1, elapsed: 8, firstUse: 2)
        #expect(BatchProgress(done: 5, total: 10, batchesRun: 5, elapsed: 14, firstUse: 2).eta(since: first) == 7.5)
        #expect(first.eta(since: first) == first.eta && first.eta == 54)
    }

    /// A batch of only unreadable files inside a chunk: the chunk ends at its own last
    /// batch, so no image's features come twice (the next chunk starts where it ends).
    @Test func aBatchOfOnlyBadFilesLeavesNoImageTwice() throws {
        let (folder, base, model, images) = try extractionSetup()
        let bad = images.samples[2...3].map(\.url)  // the second batch of 2, in the first chunk
        for url in bad { try Data("not an image".utf8).write(to: url) }
        let features = try FeatureExtractor.run(base: model, layer: "conv2d_1", folder: images, preprocessing: base.preprocessing,
                                                batchSize: 2, chunkBatches: 2, out: folder.url.appendingPathComponent("a.features"))
        #expect(features.files == images.samples.map(\.url.path).filter { !bad.map(\.path).contains($0) })
        #expect(features.labels.count == images.samples.count - 2)
    }

    /// A folder none of whose images can be read: an error naming it, and no file.
    @Test func aFolderWithoutOneReadableImageWritesNoFeatures() throws {
        let (folder, base, model, images) = try extractionSetup()
        for sample in images.samples { try Data("not an image".utf8).write(to: sample.url) }
        let out = folder.url.appendingPathComponent("a.features")
        #expect(throws: DataError(path: images.root.path, reason: "no image could be read (18 unusable files, each named above)")) {
            try FeatureExtractor.run(base: model, layer: "conv2d_1", folder: images, preprocessing: base.preprocessing,
                                     batchSize: 4, chunkBatches: 2, out: out)
        }
        #expect(!FileManager.default.fileExists(atPath: out.path) && !FileManager.default.fileExists(atPath: out.path + ".partial"))
    }

    /// Features split as images are: a fraction that takes no sample of any class is an error.
    @Test func featureSplitThatTakesNoSampleIsAnError() throws {
        let (folder, base, model, images) = try extractionSetup()
        let features = try FeatureExtractor.run(base: model, layer: "conv2d_1", folder: images, preprocessing: base.preprocessing,
                                                batchSize: 4, out: folder.url.appendingPathComponent("a.features"))
        // int(0.1 · 6) = 0 of each class: a training setting to change, named as the images' is.
        #expect(throws: LumenError.invalidTraining("validation split 0.1 takes no sample: the first 0.1 of each class (at most 6) "
                                                   + "rounds down to none; use at least 0.167")) {
            try features.split(validation: 0.1)
        }
        #expect(try features.split(validation: 0.2).validation.labels == [0, 1, 2])
    }

    @Test func interruptedExtractionContinuesAndMatches() throws {
        let (folder, base, model, images) = try extractionSetup()
        let straight = try FeatureExtractor.run(base: model, layer: "conv2d_1", folder: images, preprocessing: base.preprocessing,
                                                batchSize: 2, chunkBatches: 2, out: folder.url.appendingPathComponent("a.features"))
        let out = folder.url.appendingPathComponent("b.features")
        do {
            try FeatureExtractor.run(base: model, layer: "conv2d_1", folder: images, preprocessing: base.preprocessing, batchSize: 2,
                                     chunkBatches: 2, out: out) { p in if p.done == 5 { throw Stop() } }
            Issue.record("the extraction did not stop")
        } catch is Stop {}
        #expect(!FileManager.default.fileExists(atPath: out.path))
        var reports: [BatchProgress] = []
        let resumed = try FeatureExtractor.run(base: model, layer: "conv2d_1", folder: images, preprocessing: base.preprocessing,
                                               batchSize: 2, chunkBatches: 2, out: out) { reports.append($0) }
        // Chunks 0 and 1 (batches 1–4) were kept: each reported at once, none of it counted
        // as run here, so the ETA comes from the batches this process computed.
        #expect(reports.map(\.done) == [2, 4, 5, 6, 7, 8, 9])
        #expect(reports.map(\.batchesRun) == [0, 0, 1, 2, 3, 4, 5])
        #expect(reports.first?.eta == 0 && reports.last?.eta == 0)
        #expect(reports.allSatisfy { $0.elapsed >= $0.firstUse && $0.firstUse >= 0 })
        #expect(resumed.features == straight.features)
        #expect(resumed.labels == straight.labels && resumed.files == straight.files)
        #expect(!FileManager.default.fileExists(atPath: out.path + ".partial"))
        let reread = try FeatureFile(contentsOf: out)
        #expect(reread.sampleShape == [8, 9, 9])
        #expect(reread.base.layers.count == 4)

        // In one chunk, the chunk file itself becomes the output: the same file as merged chunks.
        let whole = folder.url.appendingPathComponent("c.features")
        try FeatureExtractor.run(base: model, layer: "conv2d_1", folder: images, preprocessing: base.preprocessing,
                                 batchSize: 2, chunkBatches: 16, out: whole)
        let single = try FeatureFile(contentsOf: whole)
        #expect(single.features == straight.features && single.labels == straight.labels && single.files == straight.files)
        #expect(single.base.layers.count == 4 && single.classes == straight.classes)
        #expect(!FileManager.default.fileExists(atPath: whole.path + ".partial"))
    }
}

/// Lumen's resnet18 and mobilenet-v2 against torchvision's, with the same weights on both
/// sides (a formula both compute, since no pretrained weights can be downloaded here).
@Suite struct TorchvisionParityTests {
    static func formulaValue(_ name: String, _ shape: [Int], _ i: Int) -> Float {
        let phase = Double(name.utf8.reduce(0) { $0 + Int($1) }) * 0.0137
        let v = sin(0.6180339887 * Double(i) + phase)
        if name.hasSuffix("running_mean") { return Float(0.2 * v) }
        if name.hasSuffix("running_var") { return Float(0.6 + 0.4 * (1 + v)) }
        if shape.count >= 2 { return Float((4.0 / Double(shape.dropFirst().reduce(1, *))).squareRoot() * v) }
        if name.hasSuffix(".weight") { return Float(1 + 0.3 * v) }
        return Float(0.1 * v)
    }

    @Test(arguments: [("torchvision_resnet18", BuiltinModel.resnet18), ("torchvision_mobilenet_v2", .mobilenetV2)])
    func logitsMatchTorchvision(fixture name: String, model builtin: BuiltinModel) throws {
        let f = try TorchFixture(name)
        let model = try Model(spec: builtin.spec(classes: f.int("classes"), inputSize: 64), device: testDevice)
        // Every tensor name is torchvision's (its num_batches_tracked aside).
        let expectedNames = (f.config["names"] as? [String]) ?? []
        #expect(model.parameters.map(\.name).sorted() == expectedNames)
        for p in model.parameters {
            try p.value.write((0..<p.value.count).map { TorchvisionParityTests.formulaValue(p.name, p.value.shape, $0) })
        }
        let logits = try model.logits(try f.tensor("x"), training: false).toArray()
        let difference = spreadDifference(logits, f["logits"].values)
        print("\(name) logits: maxdiff \(difference) of their spread")
        #expect(difference <= 1e-5, "\(name): \(difference)")
    }
}

/// `--pretrained` loads a torchvision-style state dict by name, strictly, and
/// `--replace-head` trains a new classifier for the data's classes.
@Suite struct PretrainedTests {
    func export(_ model: Model, to url: URL, drop: String? = nil) throws {
        var tensors: [String: SafeTensors.Entry] = [:]
        for p in model.parameters where p.name != drop {
            tensors[p.name] = SafeTensors.Entry(shape: p.value.shape, values: try p.value.toArray())
        }
        tensors["features.0.1.num_batches_tracked"] = SafeTensors.Entry(shape: [], values: [7])  // PyTorch's counter
        try SafeTensors(tensors: tensors).write(to: url)
    }

    @Test func replaceHeadLoadsTheBodyAndKeepsAFreshClassifier() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 2, seed: 21, size: 32)
        let source = try Model(spec: BuiltinModel.mobilenetV2.spec(classes: 1000, inputSize: 32), device: testDevice, seed: 5)
        let file = folder.url.appendingPathComponent("mobilenet_v2.safetensors")
        try export(source, to: file)
        var config = TrainingConfig()
        config.data = folder.url.appendingPathComponent("data").path
        config.model = "mobilenet-v2"
        config.inputSize = 32
        config.out = folder.url.appendingPathComponent("run").path
        config.pretrained = file.path
        do {
            _ = try TrainingRun(config: config, device: testDevice)
            Issue.record("a 1000-class classifier loaded into a 3-class model")
        } catch let error as LumenError {
            #expect(error.description.contains("classifier.1.weight has shape [1000, 1280]"), "\(error)")
            #expect(error.description.contains("--replace-head 3"))
        }
        config.replaceHead = 3
        let run = try TrainingRun(config: config, device: testDevice)
        let loaded = Dictionary(uniqueKeysWithValues: try run.trainer.model.parameters.map { ($0.name, try $0.value.toArray()) })
        for p in source.parameters where !p.name.hasPrefix("classifier.1") {
            #expect(loaded[p.name] == (try p.value.toArray()), "\(p.name)")
        }
        #expect(loaded["classifier.1.weight"]?.count == 3 * 1280)
        #expect(run.trainer.preprocessing == BuiltinModel.mobilenetV2.defaultPreprocessing)
    }

    /// A Lumen checkpoint trained on 2 classes starts a 3-class run with a new classifier:
    /// through `--init` beside the architecture, and as `--model` itself (its Dense head
    /// resized, its activation kept). Without `--replace-head` each is refused with that
    /// remedy named.
    @Test func aCheckpointStartsAnotherSetOfClassesWithANewHead() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 2, seed: 23, size: 32)
        let source = try Model(spec: BuiltinModel.xrayCNN.spec(classes: 2, inputSize: 64), device: testDevice, seed: 8)
        let file = folder.url.appendingPathComponent("binary.safetensors")
        try Checkpoint(model: source, classes: ["NORMAL", "PNEUMONIA"]).write(to: file)
        let head = try #require(source.classifier).parameters.map(\.name)
        for asModel in [false, true] {
            var config = TrainingConfig()
            config.data = folder.url.appendingPathComponent("data").path
            config.model = asModel ? file.path : "xray-cnn"
            config.initFrom = asModel ? nil : file.path
            config.inputSize = 64
            config.out = folder.url.appendingPathComponent("run").path
            do {
                _ = try TrainingRun(config: config, device: testDevice)
                Issue.record("a 2-class classifier loaded into a 3-class run (as --model: \(asModel))")
            } catch let error as LumenError {
                #expect(error.description.contains("--replace-head 3"), "\(error)")
            }
            config.replaceHead = 3
            let run = try TrainingRun(config: config, device: testDevice)
            let model = run.trainer.model
            let loaded = Dictionary(uniqueKeysWithValues: try model.parameters.map { ($0.name, try $0.value.toArray()) })
            for p in source.parameters where !head.contains(p.name) {
                #expect(loaded[p.name] == (try p.value.toArray()), "\(p.name)")
            }
            #expect(model.outputCount == 3)
            #expect(loaded[head[0]]?.count == 3 * (try source.classifier!.parameters[0].value.count) / 2)
            #expect(model.outputActivation == source.outputActivation)
        }
    }

    /// A run that starts from a Lumen checkpoint (as `--init` beside an architecture, or as
    /// `--model`) makes its inputs the way the checkpoint records, as its weights were
    /// trained; `--preprocessing` still overrides it.
    @Test func aCheckpointsPreprocessingCarriesIntoTheRunItStarts() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 2, seed: 24, size: 32)
        let source = try Model(spec: BuiltinModel.resnet18.spec(classes: 3, inputSize: 32), device: testDevice, seed: 9)
        let file = folder.url.appendingPathComponent("resnet18-run.safetensors")
        var recorded = Preprocessing.tf
        recorded.mean = [0.25, 0.5, 0.75]
        try Checkpoint(model: source, classes: ["blue", "green", "red"], preprocessing: recorded).write(to: file)
        for (model, initFrom) in [(file.path, nil), ("resnet18", file.path)] as [(String, String?)] {
            var config = TrainingConfig()
            config.data = folder.url.appendingPathComponent("data").path
            config.model = model
            config.initFrom = initFrom
            config.inputSize = 32
            config.out = folder.url.appendingPathComponent("run").path
            #expect(try TrainingRun(config: config, device: testDevice).trainer.preprocessing == recorded, "--model \(model)")
            config.preprocessing = "rescale"
            #expect(try TrainingRun(config: config, device: testDevice).trainer.preprocessing == .rescale, "--model \(model)")
        }
    }

    @Test func aMissingTensorIsNamed() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 2, seed: 22, size: 32)
        let source = try Model(spec: BuiltinModel.resnet18.spec(classes: 3, inputSize: 32), device: testDevice, seed: 6)
        let file = folder.url.appendingPathComponent("resnet18.safetensors")
        try export(source, to: file, drop: "layer3.0.downsample.1.running_var")
        var config = TrainingConfig()
        config.data = folder.url.appendingPathComponent("data").path
        config.model = "resnet18"
        config.inputSize = 32
        config.out = folder.url.appendingPathComponent("run").path
        config.pretrained = file.path
        do {
            _ = try TrainingRun(config: config, device: testDevice)
            Issue.record("a state dict without a tensor loaded")
        } catch let error as LumenError {
            #expect(error.description.contains("missing layer3.0.downsample.1.running_var [256]"), "\(error)")
        }
    }
}

/// Keras weight files in every layout the tutorials' users have, imported and predicting
/// what Keras predicts (fixtures from Scripts/make-keras-fixtures.py).
@Suite struct KerasImportTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/keras")
    static let predictions = try! SafeTensors(contentsOf: folder.appendingPathComponent("predictions.safetensors"))

    static func smallSpec() -> ModelSpec {
        ModelSpec(name: "small", inputShape: [10, 12, 3], layers: [
            { var l = LayerSpec(type: "Conv2D"); l.filters = 5; l.kernelSize = 3; l.padding = .same; l.activation = .relu; return l }(),
            { var l = LayerSpec(type: "DepthwiseConv2D"); l.kernelSize = 3; l.depthMultiplier = 2; l.useBias = false; return l }(),
            { var l = LayerSpec(type: "BatchNormalization"); l.scale = .flag(false); return l }(),
            LayerSpec(type: "Flatten"),
            { var l = LayerSpec(type: "Dense"); l.units = 4; l.activation = .softmax; return l }(),
        ])
    }

    func check(_ file: String, spec: ModelSpec, key: String, predictions: SafeTensors = KerasImportTests.predictions,
               tolerance: Float = 1e-5) throws {
        let model = try Model(spec: spec, device: testDevice)
        let tensors = try KerasWeights.tensors(from: KerasImportTests.folder.appendingPathComponent(file), for: model)
        try Checkpoint.load(tensors, into: model, source: file)
        let predicted = try model.predict(try channelsFirstTensor(predictions.tensors["\(key)/x"]!)).toArray()
        let expected = predictions.tensors["\(key)/y"]!.values
        let difference = spreadDifference(predicted, expected)
        print("\(file): maxdiff \(difference) of the spread of Keras' outputs")
        #expect(difference <= tolerance, "\(file): \(difference)")
    }

    static let importOrder = try! SafeTensors(contentsOf: folder.appendingPathComponent("import-order.safetensors"))

    /// A 13×13 input shrunk by stride-2 "same" convolutions and pooling to 2×2 and 1×1 maps.
    static func narrowSpec() -> ModelSpec {
        func conv(_ filters: Int, _ kernel: Int, stride: Int = 1) -> LayerSpec {
            var l = LayerSpec(type: "Conv2D"); l.filters = filters; l.kernelSize = WindowSize(kernel); l.strides = WindowSize(stride)
            l.padding = .same; l.activation = .relu; return l
        }
        return ModelSpec(name: "narrow", inputShape: [13, 13, 3], layers: [
            conv(6, 3, stride: 2), conv(8, 5, stride: 2),
            { var l = LayerSpec(type: "MaxPooling2D"); l.poolSize = 3; l.strides = 2; l.padding = .same; return l }(),
            { var l = LayerSpec(type: "DepthwiseConv2D"); l.kernelSize = 3; l.padding = .same; l.depthMultiplier = 2; return l }(),
            LayerSpec(type: "BatchNormalization"),
            conv(10, 3, stride: 2), conv(12, 3),
            { var l = LayerSpec(type: "AveragePooling2D"); l.poolSize = 2; l.padding = .same; return l }(),
            LayerSpec(type: "Flatten"),
            { var l = LayerSpec(type: "Dense"); l.units = 4; l.activation = .softmax; return l }(),
        ])
    }

    /// Flatten, then layers that keep the vector's order, then Dense (the Keras MNIST convnet's order).
    static func flattenDropoutSpec() -> ModelSpec {
        ModelSpec(name: "flatten-dropout", inputShape: [13, 13, 3], layers: [
            { var l = LayerSpec(type: "Conv2D"); l.filters = 5; l.kernelSize = 3; l.strides = 2; l.padding = .same; l.activation = .relu; return l }(),
            { var l = LayerSpec(type: "MaxPooling2D"); l.poolSize = 2; l.padding = .same; return l }(),
            { var l = LayerSpec(type: "Conv2D"); l.filters = 6; l.kernelSize = 3; l.strides = 2; l.padding = .same; return l }(),
            LayerSpec(type: "Flatten"),
            { var l = LayerSpec(type: "Dropout"); l.rate = 0.5; return l }(),
            LayerSpec(type: "BatchNormalization"),
            { var l = LayerSpec(type: "Activation"); l.activation = .relu; return l }(),
            { var l = LayerSpec(type: "Dense"); l.units = 5; l.activation = .softmax; return l }(),
        ])
    }

    /// Models whose import went wrong before: narrow maps, and Flatten → Dropout →
    /// BatchNormalization → Activation → Dense; both file layouts.
    @Test(arguments: ["narrow-full.h5", "narrow.weights.h5", "flatten-dropout-full.h5", "flatten-dropout.weights.h5"])
    func importOrderModelsPredictWhatKerasPredicts(file: String) throws {
        let narrow = file.hasPrefix("narrow")
        try check(file, spec: narrow ? KerasImportTests.narrowSpec() : KerasImportTests.flattenDropoutSpec(),
                  key: narrow ? "narrow" : "flatten-dropout", predictions: KerasImportTests.importOrder)
    }

    @Test(arguments: ["xray-cnn-full.h5", "xray-cnn.weights.h5"])
    func xrayCNNPredictsWhatKerasPredicts(file: String) throws {
        try check(file, spec: BuiltinModel.xrayCNN.spec(classes: 2, inputSize: 48), key: "xray")
    }

    /// keras.applications' MobileNetV2 (weights=None, randomised statistics), saved as a
    /// full-model .h5, in Lumen's mobilenet-v2-keras.
    @Test func kerasMobileNetV2PredictsWhatKerasPredicts() throws {
        try check("mobilenet_v2-full.h5", spec: BuiltinModel.kerasMobilenetV2.spec(classes: 10, inputSize: 64), key: "mobilenet_v2")
    }

    @Test(arguments: ["small-legacy.h5", "small-legacy-chunked.h5"])
    func legacyLayoutsImport(file: String) throws {
        try check(file, spec: KerasImportTests.smallSpec(), key: "small")
    }

    @Test func aFileForAnotherModelIsRefused() throws {
        let model = try Model(spec: BuiltinModel.fashionCNN.spec(classes: 10), device: testDevice)
        do {
            _ = try KerasWeights.tensors(from: KerasImportTests.folder.appendingPathComponent("small-legacy.h5"), for: model)
            Issue.record("weights for another model were accepted")
        } catch let error as KerasWeights.ImportError {
            #expect(error.description.contains("small-legacy.h5"))
        }
        #expect(throws: KerasWeights.ImportError.self) {
            try KerasWeights.tensors(from: KerasImportTests.folder.appendingPathComponent("callbacks.json"), for: model)
        }
    }

    @Test func importKerasCommandWritesACheckpoint() throws {
        let folder = try TemporaryFolder()
        let out = folder.url.appendingPathComponent("xray.safetensors").path
        let result = try LumenProcess.run(["import-keras", KerasImportTests.folder.appendingPathComponent("xray-cnn-full.h5").path,
                                           "--model", "xray-cnn", "--input-size", "48", "--classes", "NORMAL,PNEUMONIA", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let checkpoint = try Checkpoint(contentsOf: URL(fileURLWithPath: out))
        #expect(checkpoint.classes == ["NORMAL", "PNEUMONIA"])
        #expect(checkpoint.tensors["conv2d.weight"]?.shape == [64, 3, 3, 3])
        // Without --classes, the count comes from the file: 10 for the MobileNetV2 fixture.
        let mobile = folder.url.appendingPathComponent("mobile.safetensors").path
        let imported = try LumenProcess.run(["import-keras", KerasImportTests.folder.appendingPathComponent("mobilenet_v2-full.h5").path,
                                             "--model", "mobilenet-v2-keras", "--input-size", "64", "--out", mobile])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try Checkpoint(contentsOf: URL(fileURLWithPath: mobile)).classes.count == 10)
    }
}
