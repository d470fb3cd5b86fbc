import Foundation
import Testing
@testable import Lumen

/// Writes three visually separable classes (mostly red, green or blue, with noise and a
/// random bright square), half JPEG and half PNG.
func writeColourDataset(_ root: URL, perClass: Int, seed: UInt64, size: Int = 20) throws {
    var random = SplitMix64(seed: seed)
    for (label, name) in ["blue", "green", "red"].enumerated() {
        let folder = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let channel = 2 - label  // blue → 2, green → 1, red → 0
        for i in 0..<perClass {
            var pixels = [UInt8](repeating: 0, count: size * size * 3)
            let (sx, sy) = (Int(random.next() % UInt64(size - 6)), Int(random.next() % UInt64(size - 6)))
            for y in 0..<size {
                for x in 0..<size {
                    for c in 0..<3 {
                        let base: Float = c == channel ? 170 : 60
                        let square: Float = (sx..<(sx + 6)).contains(x) && (sy..<(sy + 6)).contains(y) ? 60 : 0
                        pixels[(y * size + x) * 3 + c] = UInt8(max(0, min(255, base + square + random.nextFloat(in: -40..<40))))
                    }
                }
            }
            let image = Image(width: size, height: size, channels: 3, pixels: pixels)
            if i % 2 == 0 {
                try image.jpegData(quality: 92).write(to: folder.appendingPathComponent(String(format: "%03d.jpg", i)))
            } else {
                try image.pngData().write(to: folder.appendingPathComponent(String(format: "%03d.png", i)))
            }
        }
    }
}

/// A small CNN for 20×20 RGB inputs, as a user's YAML spec would give it.
func smallSpecFile(_ url: URL) throws {
    try """
    name: small-cnn
    input_shape: [20, 20, 3]
    layers:
      - {type: Conv2D, filters: 8, kernel_size: 3, activation: relu}
      - {type: MaxPooling2D, pool_size: 2}
      - {type: BatchNormalization}
      - {type: Conv2D, filters: 8, kernel_size: 3, padding: same, activation: relu}
      - {type: GlobalAveragePooling2D}
      - {type: Dropout, rate: 0.1}
      - {type: Dense, units: 3, activation: softmax}
    """.write(to: url, atomically: true, encoding: .utf8)
}

@Suite(.serialized) struct TrainingTests {
    func config(_ folder: URL, out: String, epochs: Int) -> TrainingConfig {
        var c = TrainingConfig()
        c.data = folder.appendingPathComponent("train").path
        c.val = folder.appendingPathComponent("val").path
        c.model = folder.appendingPathComponent("small.yaml").path
        c.epochs = epochs
        c.batchSize = 8
        c.learningRate = 1e-2
        c.seed = 7
        c.out = folder.appendingPathComponent(out).path
        c.workers = 2
        var augmentation = Augmentation()
        augmentation.horizontalFlip = true
        augmentation.rotationRange = 10
        c.augmentation = augmentation
        return c
    }

    func dataset() throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("train"), perClass: 24, seed: 1)
        try writeColourDataset(folder.url.appendingPathComponent("val"), perClass: 8, seed: 2)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        return folder
    }

    func weights(_ model: Model) throws -> [String: [Float]] {
        var all: [String: [Float]] = [:]
        for p in model.parameters { all[p.name] = try p.value.toArray() }
        return all
    }

    @Test func trainsToHighValidationAccuracyAndPredictAgrees() throws {
        let folder = try dataset()
        let run = try TrainingRun(config: config(folder.url, out: "run", epochs: 4), device: testDevice)
        let history = try run.trainer.fit(epochs: run.epochs)
        let accuracy = history.epochs.last?["val_accuracy"] ?? 0
        print("validation accuracy by epoch: \(history.values("val_accuracy"))")
        #expect(accuracy >= 0.95)
        for name in ["best.safetensors", "last.safetensors", "final.safetensors", "history.csv", "history.json"] {
            #expect(FileManager.default.fileExists(atPath: run.trainer.runDirectory.appendingPathComponent(name).path), "\(name)")
        }
        let csv = try String(contentsOf: run.trainer.runDirectory.appendingPathComponent("history.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("epoch,accuracy,epoch_time,images_per_second,learning_rate,loss,memory_mb,val_accuracy,val_loss\n"))
        #expect(csv.split(separator: "\n").count == 5)

        // lumen predict on the final checkpoint gives the in-memory model's probabilities.
        let image = folder.url.appendingPathComponent("val/red/000.jpg")
        let result = try LumenProcess.run(["predict", "--model", run.trainer.finalURL.path, "--input", image.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let entries = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
        let printed = entries.first?["probabilities"] as? [String: Double] ?? [:]
        let decoded = FloatImage(try ImageDecoder.decode(image, channels: 3))
        let x = try Tensor(on: testDevice, shape: [1, 3, 20, 20], values: Preprocessing.rescale.channelsFirst(decoded))
        let inMemory = try run.trainer.model.predict(x).toArray()
        for (index, name) in run.trainer.classes.enumerated() {
            #expect(abs((printed[name] ?? -1) - Double(inMemory[index])) < 1e-5, "\(name)")
        }
        #expect(entries.first?["predicted"] as? String == "red")
    }

    @Test func sameSeedGivesBitIdenticalWeights() throws {
        let folder = try dataset()
        let a = try TrainingRun(config: config(folder.url, out: "a", epochs: 2), device: testDevice)
        try a.trainer.fit(epochs: 2)
        let b = try TrainingRun(config: config(folder.url, out: "b", epochs: 2), device: testDevice)
        try b.trainer.fit(epochs: 2)
        #expect(try weights(a.trainer.model) == weights(b.trainer.model))
    }

    @Test func resumingGivesTheWeightsOfAnUninterruptedRun() throws {
        let folder = try dataset()
        let straight = try TrainingRun(config: config(folder.url, out: "straight", epochs: 4), device: testDevice)
        try straight.trainer.fit(epochs: 4)

        // 2 epochs, then a new process-like run that resumes for 2 more.
        let first = try TrainingRun(config: config(folder.url, out: "split", epochs: 2), device: testDevice)
        try first.trainer.fit(epochs: 2)
        let second = try TrainingRun(config: config(folder.url, out: "split", epochs: 4), device: testDevice)
        #expect(try second.trainer.resumeIfPossible()?.epoch == 2)
        try second.trainer.fit(epochs: 4)
        #expect(try weights(second.trainer.model) == weights(straight.trainer.model))
        #expect(second.trainer.history.epochs.count == 4)
        #expect(second.trainer.history.epochs.map { $0["val_loss"]! } == straight.trainer.history.epochs.map { $0["val_loss"]! })
    }

    /// Trains 2 epochs straight, then 2 epochs stopped after `steps` steps (`stopped` sees
    /// the stop before the resume) and resumed: the resume starts at `position` and ends
    /// with the straight run's weights.
    func expectResumeMatchesStraightRun(_ folder: TemporaryFolder, stoppingAfter steps: Int, at position: (epoch: Int, step: Int),
                                        stopped: (TrainingStop) throws -> Void = { _ in }) throws {
        let straight = try TrainingRun(config: config(folder.url, out: "straight", epochs: 2), device: testDevice)
        try straight.trainer.fit(epochs: 2)

        let interrupted = try TrainingRun(config: config(folder.url, out: "cut", epochs: 2), device: testDevice)
        let stopper = StopAfter(steps: steps, trainer: interrupted.trainer)
        interrupted.trainer.reporter = stopper
        var stop: TrainingStop?
        do {
            try interrupted.trainer.fit(epochs: 2)
        } catch let caught as TrainingStop {
            stop = caught
        }
        try stopped(try #require(stop, "training did not stop"))
        let resumed = try TrainingRun(config: config(folder.url, out: "cut", epochs: 2), device: testDevice)
        let saved = try resumed.trainer.resumeIfPossible()
        #expect(saved?.epoch == position.epoch && saved?.step == position.step)
        try resumed.trainer.fit(epochs: 2)
        #expect(try weights(resumed.trainer.model) == weights(straight.trainer.model))
    }

    @Test func interruptMidEpochSavesAndResumesExactly() throws {
        let folder = try dataset()
        try expectResumeMatchesStraightRun(folder, stoppingAfter: 13, at: (1, 4)) { stop in  // epoch 2, step 4 of 9
            #expect(stop.description.contains("--resume"))
            // Mid-epoch, another batch size would put the position among other samples.
            var other = config(folder.url, out: "cut", epochs: 2)
            other.batchSize = 4
            #expect(throws: CheckpointError.self) { try TrainingRun(config: other, device: testDevice).trainer.resumeIfPossible() }
            // So does another batch size under steps per epoch, where the epoch keeps its
            // 9 steps but a pass over the data becomes 18 batches.
            other.stepsPerEpoch = 9
            #expect(throws: CheckpointError.self) { try TrainingRun(config: other, device: testDevice).trainer.resumeIfPossible() }
        }
    }

    /// A batch whose every file is unreadable is passed over, and still counts as passed:
    /// a run stopped after it resumes at the next batch, as an uninterrupted run goes on.
    @Test func aBatchOfOnlyBadFilesCountsInTheResumePosition() throws {
        let folder = try dataset()
        let probe = try TrainingRun(config: config(folder.url, out: "probe", epochs: 2), device: testDevice)
        let loader = try #require(probe.trainer.training as? BatchLoader)
        for index in loader.order(epoch: 1)[8..<16] {  // the second epoch's second batch
            try Data("not an image".utf8).write(to: loader.folder.samples[index].url)
        }
        try expectResumeMatchesStraightRun(folder, stoppingAfter: 9 + 2, at: (1, 3))  // epoch 2: batches 1 and 3
    }

    /// Training or validation images none of which can be read stop the run with the
    /// folder named, instead of epochs of loss 0 that a checkpoint would take for the best.
    @Test func dataWithoutOneReadableImageStopsTheRun() throws {
        let folder = try dataset()
        for part in ["val", "train"] {
            let root = folder.url.appendingPathComponent(part)
            for file in try ImageFolder(root: root).samples { try Data("not an image".utf8).write(to: file.url) }
            // Plain epochs, and epochs of a set number of steps (the folder named through them).
            for steps in [nil, 3] as [Int?] {
                var settings = config(folder.url, out: "run-\(part)-\(steps ?? 0)", epochs: 1)
                (settings.stepsPerEpoch, settings.validationSteps) = (steps, steps)
                let run = try TrainingRun(config: settings, device: testDevice)
                do {
                    try run.trainer.fit(epochs: 1)
                    Issue.record("training went on without one readable \(part) image")
                } catch let error as DataError {
                    #expect(error.path == root.path)
                    #expect(error.reason.hasPrefix(part == "val" ? "no validation image could be read" : "no training image could be read"))
                }
                #expect(!FileManager.default.fileExists(atPath: run.trainer.finalURL.path))
            }
        }
    }

    /// The tutorials' transfer: load a trained model, freeze all but the last layers,
    /// fine-tune on augmented data. Frozen tensors (BatchNorm statistics included) stay
    /// bit-identical; the trainable ones move.
    @Test func fineTuningLeavesFrozenTensorsBitIdentical() throws {
        let folder = try dataset()
        let base = try TrainingRun(config: config(folder.url, out: "base", epochs: 1), device: testDevice)
        try base.trainer.fit(epochs: 1)
        let before = try weights(base.trainer.model)

        var tune = config(folder.url, out: "tune", epochs: 2)
        tune.model = nil
        tune.initFrom = base.trainer.finalURL.path
        tune.trainableLast = 2
        tune.augmentation?.zoomRange = [0.8, 1.2]
        let run = try TrainingRun(config: tune, device: testDevice)
        #expect(try weights(run.trainer.model) == before)  // --init loaded every tensor
        try run.trainer.fit(epochs: 2)
        let after = try weights(run.trainer.model)
        let trainable = Set(run.trainer.model.layers.suffix(2).flatMap(\.parameters).filter { !$0.isStatistic }.map(\.name))
        #expect(trainable == ["dense.weight", "dense.bias"])
        for (name, values) in before {
            if trainable.contains(name) {
                #expect(after[name] != values, "\(name) did not train")
            } else {
                #expect(after[name] == values, "\(name) changed while frozen")
            }
        }
        #expect(throws: LumenError.self) { try run.trainer.model.freeze(until: "no_such_layer") }
    }

    @Test func strayTemporaryFilesAreRemovedAtStart() throws {
        let folder = try dataset()
        let out = folder.url.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let stray = out.appendingPathComponent(".last.safetensors.tmp-123-456")
        try Data("half".utf8).write(to: stray)
        _ = try TrainingRun(config: config(folder.url, out: "run", epochs: 1), device: testDevice)
        #expect(!FileManager.default.fileExists(atPath: stray.path))
    }
}

/// Requests a stop after a number of training steps, as Ctrl-C would.
final class StopAfter: TrainingReporter {
    let steps: Int
    weak var trainer: Trainer?
    private var seen = 0

    init(steps: Int, trainer: Trainer) {
        self.steps = steps
        self.trainer = trainer
    }

    func epochBegan(_ epoch: Int, of epochs: Int, steps: Int) {}
    func stepEnded(_ progress: StepProgress) {
        seen += 1
        if seen == self.steps { trainer?.requestStop() }
    }
    func epochEnded(_ epoch: Int, of epochs: Int, logs: [String: Double]) {}
    func message(_ text: String) {}
}

/// A real SIGINT to a training process: it stops after the current step, writes the
/// resumable checkpoint, says how to continue, and exits non-zero.
@Suite struct InterruptSignalTests {
    @Test func ctrlCSavesAndExplainsHowToResume() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("train"), perClass: 20, seed: 4)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        let out = folder.url.appendingPathComponent("run")
        let process = Process()
        process.executableURL = LumenProcess.binary
        process.arguments = ["train", "--data", folder.url.appendingPathComponent("train").path, "--model",
                             folder.url.appendingPathComponent("small.yaml").path, "--epochs", "500", "--batch-size", "2",
                             "--out", out.path]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait for the first epoch's checkpoint so the run is surely inside training.
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: out.appendingPathComponent("last.safetensors").path), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        kill(process.processIdentifier, SIGINT)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(stderr.contains("--resume"), "\(stderr)")
        let saved = try Checkpoint(contentsOf: out.appendingPathComponent("last.safetensors"))
        #expect(saved.extra["training"] != nil)
    }
}

/// The plan every run is built from: defaults in one place, ranges checked whatever the
/// source (flag or config), and the same rules for image and feature runs.
@Suite struct TrainingPlanTests {
    func config(features: Bool) throws -> TrainingConfig {
        var c = TrainingConfig()
        c.out = "/tmp/lumen-plan-never"
        if features {
            c.features = "/tmp/x.features"
            c.model = #filePath  // any existing file stands for the head spec here
        } else {
            c.data = "/tmp"
        }
        return c
    }

    @Test(arguments: [false, true])
    func defaultsAndChecksAreTheSameForImagesAndFeatures(features: Bool) throws {
        let plan = try TrainingPlan(try config(features: features))
        #expect((plan.epochs, plan.batchSize, plan.learningRate, plan.optimizer, plan.weightDecay, plan.seed) == (10, 32, 1e-3, .adam, 0, 0))
        var c = try config(features: features)
        c.optimizer = "AdamW"
        #expect(try TrainingPlan(c).weightDecay == 0.004)
        c.optimizer = "rmsprop"
        #expect(throws: LumenError.self) { try TrainingPlan(c) }
        for (key, change) in [("batch_size", { (c: inout TrainingConfig) in c.batchSize = 0 }),
                              ("epochs", { (c: inout TrainingConfig) in c.epochs = -1 }),
                              ("learning_rate", { (c: inout TrainingConfig) in c.learningRate = 0 }),
                              ("validation_split", { (c: inout TrainingConfig) in c.validationSplit = 1 })] {
            var bad = try config(features: features)
            change(&bad)
            do {
                _ = try TrainingPlan(bad)
                Issue.record("\(key) out of range was accepted")
            } catch let error as LumenError {
                #expect(error.description.contains(key), "\(error)")
            }
        }
    }

    /// Flags override the config file; callback flags edit or enable callbacks.
    @Test func flagsOverrideTheConfigFile() {
        var file = TrainingConfig()
        (file.epochs, file.batchSize, file.optimizer) = (20, 16, "sgd")
        var flags = TrainingConfig()
        flags.batchSize = 64
        var callbacks = CallbackFlags()
        (callbacks.monitor, callbacks.earlyStoppingPatience) = ("val_accuracy", 3)
        let merged = file.overridden(by: flags, callbacks: callbacks)
        #expect((merged.epochs, merged.batchSize, merged.optimizer) == (20, 64, "sgd"))
        #expect(merged.callbacks?.earlyStopping?.patience == 3 && merged.callbacks?.earlyStopping?.monitor == "val_accuracy")
        #expect(merged.callbacks?.modelCheckpoint?.monitor == "val_accuracy")
        #expect(merged.callbacks?.reduceLROnPlateau == nil)
    }
}

