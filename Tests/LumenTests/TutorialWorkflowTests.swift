import Foundation
import Testing
@testable import Lumen

/// A batch source whose batch i of pass p holds one sample labelled p·100 + i, so a test
/// can read which batches an epoch took.
/// Batches whose label is in `bad` have no readable file (nil, as a loader gives them).
private final class NumberedPasses: BatchSource {
    let batchesPerEpoch: Int, bad: Set<Int>
    init(batches: Int, bad: Set<Int> = []) { (batchesPerEpoch, self.bad) = (batches, bad) }
    var sampleCount: Int { batchesPerEpoch }
    var badFiles: [String] { [] }
    func epoch(_ epoch: Int, skipping: Int) -> BatchStream {
        let count = batchesPerEpoch - skipping
        return BatchStream(count: count, depth: 1) { [bad] index in
            let label = epoch * 100 + skipping + index
            return bad.contains(label) ? nil : Batch(inputs: [0], shape: [1, 1, 1, 1], labels: [label], files: [])
        }
    }
}

private func labels(_ stream: BatchStream) throws -> [Int] {
    var seen: [Int] = []
    while let batch = try stream.next() { seen += batch.labels }
    return seen
}

/// Counts the steps of each epoch a fit runs.
private final class StepCounter: TrainingReporter {
    var steps: [Int] = []
    func epochBegan(_ epoch: Int, of epochs: Int, steps: Int) { self.steps.append(0) }
    func stepEnded(_ progress: StepProgress) { steps[steps.count - 1] += 1 }
    func epochEnded(_ epoch: Int, of epochs: Int, logs: [String: Double]) {}
    func message(_ text: String) {}
}

/// What the tutorials do beyond fit: steps per epoch, augmented and test-time-augmented
/// evaluation, and the progress and charts a user reads.
@Suite struct TutorialWorkflowTests {
    /// Keras' steps_per_epoch: each epoch takes the next `steps` batches, crossing into the
    /// next pass (reshuffled as an epoch of its own) and resuming mid-epoch in place.
    @Test func stepsPerEpochContinueWhereTheLastEpochStopped() throws {
        let source = StepsPerEpoch(NumberedPasses(batches: 5), steps: 3)
        #expect(source.batchesPerEpoch == 3)
        #expect(try labels(source.epoch(0)) == [0, 1, 2])
        #expect(try labels(source.epoch(1)) == [3, 4, 100])
        #expect(try labels(source.epoch(2)) == [101, 102, 103])
        #expect(try labels(source.epoch(1, skipping: 1)) == [4, 100])
        #expect(try labels(StepsPerEpoch(NumberedPasses(batches: 2), steps: 5).epoch(1)) == [201, 300, 301, 400, 401])
        // A batch without one readable file is a step passed over: the epochs after it,
        // and a resume inside its epoch, take the batches they would have taken.
        let gap = StepsPerEpoch(NumberedPasses(batches: 5, bad: [1]), steps: 3)
        let stream = gap.epoch(0)
        #expect(try labels(stream) == [0, 2] && stream.passed == 3)
        #expect(try labels(gap.epoch(1)) == [3, 4, 100])
        #expect(try labels(gap.epoch(0, skipping: 2)) == [2])
    }

    /// `lumen train --steps-per-epoch` names each unusable file as plain epochs do (the
    /// command reached the loader only when it was the trainer's source itself).
    @Test func stepsPerEpochNameEachUnusableFile() throws {
        let folder = try TemporaryFolder()
        let data = folder.url.appendingPathComponent("train")
        try writeColourDataset(data, perClass: 5, seed: 23)
        let bad = data.appendingPathComponent("red/bad.png")
        try Data("not an image".utf8).write(to: bad)
        let spec = folder.url.appendingPathComponent("small.yaml")
        try smallSpecFile(spec)
        // 16 files in batches of 4: two epochs of 2 steps take every batch of one pass once.
        let run = try LumenProcess.run(["train", "--device", "cpu", "--data", data.path, "--model", spec.path, "--epochs", "2",
                                        "--batch-size", "4", "--steps-per-epoch", "2",
                                        "--out", folder.url.appendingPathComponent("run").path], timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.components(separatedBy: "skipped " + bad.path).count - 1 == 1, "\(run.stderr)")
    }

    /// With each kernel family: the GPU-style kernels train on PoCL too.
    @Test(arguments: KernelStyle.allCases)
    func trainingWithStepsPerEpochRunsThatManySteps(style: KernelStyle) throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("train"), perClass: 6, seed: 21)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        var config = TrainingConfig()
        config.data = folder.url.appendingPathComponent("train").path
        config.model = folder.url.appendingPathComponent("small.yaml").path
        config.out = folder.url.appendingPathComponent("run").path
        (config.batchSize, config.epochs, config.stepsPerEpoch, config.validationSplit, config.validationSteps) = (4, 3, 2, 0.34, 1)
        let run = try TrainingRun(config: config, device: device(for: style))
        let counter = StepCounter()
        run.trainer.reporter = counter
        try run.trainer.fit(epochs: run.epochs)
        // 12 training images in batches of 4 make 3 batches a pass; each epoch takes 2.
        #expect(counter.steps == [2, 2, 2])
        #expect(run.trainer.history.epochs.count == 3 && run.trainer.history.epochs.allSatisfy { $0["val_loss"] != nil })
        // It learns: the loss falls from the first epoch to the last.
        let losses = run.trainer.history.epochs.compactMap { $0["loss"] }
        #expect(losses.last! < losses.first!, "\(losses)")
    }

    /// The ETA leaves first-use work out: a first step that spent 32 of its 33 seconds
    /// compiling does not promise hours.
    @Test func theEtaLeavesFirstUseWorkOut() throws {
        let progress = StepProgress(step: 1, steps: 844, loss: 1, accuracy: 0, elapsed: 33, firstUse: 32, stepsRun: 1)
        #expect(abs(progress.eta - 843) < 1e-9)
        // A device opened on an empty cache folder counts the time it spends building.
        let cache = try TemporaryFolder()
        let device = try Device.open(testDevice.info, options: DeviceOptions(cacheDirectory: cache.url))
        #expect(device.firstUseSeconds == 0)
        _ = try Tensor(on: device, shape: [3], values: [1, 2, 3]).toArray()
        _ = try ActivationOps.forward(try Tensor(on: device, shape: [4], values: [1, -1, 2, -2]), .relu).toArray()
        let built = device.firstUseSeconds
        #expect(built > 0)
        _ = try ActivationOps.forward(try Tensor(on: device, shape: [4], values: [1, -1, 2, -2]), .relu).toArray()
        #expect(device.firstUseSeconds == built)
        // Nested first-use work (a convolution's gradient plans, timed with the GEMMs timed
        // inside them, and the kernels built meanwhile) counts once: never more than the wall clock.
        let started = Date()
        let x = try Tensor(on: device, shape: [2, 3, 9, 9], repeating: 0.5)
        let weight = try Tensor(on: device, shape: [4, 3, 3, 3], repeating: 0.1)
        let g = try WindowGeometry(input: x.shape, kernel: (3, 3), stride: 1, padding: .same)
        let y = try ConvOps.forward(x, weight: weight, bias: nil, g)
        _ = try ConvOps.backward(y, x: x, weight: weight, g, needInputGradient: true).dx?.toArray()
        let wall = Date().timeIntervalSince(started)
        #expect(device.firstUseSeconds - built <= wall, "first use \(device.firstUseSeconds - built) s in \(wall) s")
    }

    /// Ticks at 1, 2, 2.5 or 5 × 10ᵏ, as matplotlib places them.
    @Test func chartTicksAreRoundNumbers() {
        let accuracy = TickLocator.ticks(from: 0.8165, to: 0.8835)
        #expect(TickLocator.labels(accuracy) == ["0.82", "0.83", "0.84", "0.85", "0.86", "0.87", "0.88"]
                || TickLocator.labels(accuracy) == ["0.820", "0.835", "0.850", "0.865", "0.880"]
                || TickLocator.labels(accuracy) == ["0.82", "0.84", "0.86", "0.88"], "\(TickLocator.labels(accuracy))")
        #expect(TickLocator.labels(TickLocator.ticks(from: 0, to: 975, integer: true)) == ["0", "200", "400", "600", "800"])
        #expect(TickLocator.labels(TickLocator.ticks(from: 0, to: 1)) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(TickLocator.labels(TickLocator.ticks(from: 0.5, to: 1.5, integer: true)) == ["1"])
        #expect(TickLocator.labels(TickLocator.ticks(from: 1, to: 20, maxIntervals: 8, integer: true))
                == ["5", "10", "15", "20"] || TickLocator.ticks(from: 1, to: 20, maxIntervals: 8, integer: true).count <= 9)
        #expect(TickLocator.labels(TickLocator.ticks(from: 0, to: 3, integer: true)) == ["0", "1", "2", "3"])
        #expect(TickLocator.labels(TickLocator.ticks(from: 0, to: 0.25)) == ["0.00", "0.05", "0.10", "0.15", "0.20", "0.25"])
        for (low, high) in [(0.0, 1.0), (0.3, 0.31), (-2.5, 7.25), (12.0, 980.0)] {
            let ticks = TickLocator.ticks(from: low, to: high)
            let step = ticks[1] - ticks[0]
            let mantissa = step / pow(10, log10(step).rounded(.down))
            #expect([1, 2, 2.5, 5, 10].contains { abs($0 - mantissa) < 1e-6 }, "\(ticks)")
            #expect(ticks.count >= 2 && ticks.count <= 6 && ticks.allSatisfy { $0 >= low - 1e-12 && $0 <= high + 1e-12 })
        }
    }

    /// The tutorials' robustness check: evaluation on an augmented copy of the test set is
    /// repeatable with a seed and differs from plain evaluation; TTA averages the original
    /// and the draws.
    @Test func augmentedEvaluationIsRepeatableAndTTAAverages() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url, perClass: 3, seed: 31)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        let model = try Model(spec: try ModelReference(folder.url.appendingPathComponent("small.yaml").path)
            .spec(classes: 3, inputSize: nil, channels: nil), device: testDevice, seed: 4)
        let images = try ImageFolder(root: folder.url)
        var settings = Augmentation()
        (settings.rotationRange, settings.shearRange, settings.horizontalFlip) = (30, 20, true)
        (settings.zoomRange, settings.channelShiftRange, settings.brightnessRange) = ([0.8, 1.2], 25, [0.5, 1.5])
        func evaluate(_ augmentation: TestAugmentation?) throws -> [[Double]] {
            try Evaluation.run(model: model, classes: images.classes, preprocessing: .rescale, folder: images, batchSize: 4,
                               augmentation: augmentation).items.map(\.probabilities)
        }
        let plain = try evaluate(nil)
        let once = try evaluate(TestAugmentation(augmentation: settings, seed: 7))
        #expect(try evaluate(TestAugmentation(augmentation: settings, seed: 7)) == once)
        let otherSeed = try evaluate(TestAugmentation(augmentation: settings, seed: 8))
        #expect(once != plain && once != otherSeed)
        // One TTA draw is the first augmented pass: the average is (plain + once) / 2.
        let tta = try evaluate(TestAugmentation(augmentation: settings, seed: 7, draws: 1))
        var worst = 0.0
        for (row, p) in tta.enumerated() {
            for j in p.indices { worst = max(worst, abs(p[j] - (plain[row][j] + once[row][j]) / 2)) }
        }
        #expect(worst < 1e-12, "TTA vs mean of passes: \(worst)")
        #expect(tta.allSatisfy { abs($0.reduce(0, +) - 1) < 1e-9 })
    }

    /// `evaluate` with augmentation flags says so in its output, metrics.json and report;
    /// `predict --tta` averages and is repeatable; --tta without settings is refused.
    @Test func augmentedEvaluateAndPredictFromTheCommandLine() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("test"), perClass: 2, seed: 41)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        let checkpoint = folder.url.appendingPathComponent("model.safetensors")
        let model = try Model(spec: try ModelReference(folder.url.appendingPathComponent("small.yaml").path)
            .spec(classes: 3, inputSize: nil, channels: nil), device: testDevice, seed: 2)
        try Checkpoint(model: model, classes: ["blue", "green", "red"]).write(to: checkpoint)
        let test = folder.url.appendingPathComponent("test").path
        let out = folder.url.appendingPathComponent("eval").path
        let run = try LumenProcess.run(["evaluate", "--model", checkpoint.path, "--data", test, "--rotation-range", "30",
                                        "--horizontal-flip", "--seed", "3", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("evaluated on augmented test images (seed 3)") && run.stdout.contains("rotation_range"), "\(run.stdout)")
        let metrics = try String(contentsOf: URL(fileURLWithPath: out).appendingPathComponent("metrics.json"), encoding: .utf8)
        #expect(metrics.contains("\"augmentation\"") && metrics.contains("\"seed\" : 3"), "\(metrics)")
        let report = try String(contentsOf: URL(fileURLWithPath: out).appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("augmented test images"))
        func predict(_ extra: [String]) throws -> String {
            let result = try LumenProcess.run(["predict", "--model", checkpoint.path, "--input", test, "--csv"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout
        }
        let tta = try predict(["--tta", "2", "--zoom-range", "0.2", "--horizontal-flip"])
        let again = try predict(["--tta", "2", "--zoom-range", "0.2", "--horizontal-flip"])
        let plain = try predict([])
        #expect(tta == again && tta != plain)
        let refused = try LumenProcess.run(["predict", "--model", checkpoint.path, "--input", test, "--tta", "2"])
        #expect(refused.status != 0 && refused.stderr.contains("--tta needs augmentation settings"), "\(refused.stderr)")
    }
}
