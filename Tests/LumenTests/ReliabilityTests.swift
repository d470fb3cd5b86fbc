import Foundation
import Testing
@testable import Lumen

@Suite(.serialized) struct ReliabilityTests {
    @Test func nonFiniteLossStopsAndKeepsTheLastGoodCheckpoint() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("train"), perClass: 8, seed: 5)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        var config = TrainingConfig()
        config.data = folder.url.appendingPathComponent("train").path
        config.model = folder.url.appendingPathComponent("small.yaml").path
        config.out = folder.url.appendingPathComponent("run").path
        config.batchSize = 8
        let good = try TrainingRun(config: config, device: testDevice)
        try good.trainer.fit(epochs: 1)
        let saved = try Data(contentsOf: good.trainer.resumeURL)

        let bad = try TrainingRun(config: config, device: testDevice)
        try bad.trainer.resumeIfPossible()
        // A NaN weight in the first Dense layer: its output is the first to go bad.
        let weight = bad.trainer.model.parameters.first { $0.name == "dense.weight" }!
        var values = try weight.value.toArray()
        values[0] = .nan
        try weight.value.write(values)
        bad.trainer.detectAnomaly = true
        do {
            try bad.trainer.fit(epochs: 3)
            Issue.record("training went on through a non-finite loss")
        } catch let stop as TrainingStop {
            guard case .nonFinite(let what, _, let step, let checkpoint) = stop else {
                Issue.record("unexpected \(stop)")
                return
            }
            #expect(step > 0)
            #expect(checkpoint == good.trainer.resumeURL.path)
            #expect(what.contains("layer dense (Dense)"), "\(what)")
            #expect(stop.description.contains("step \(step)"))
        }
        #expect(try Data(contentsOf: good.trainer.resumeURL) == saved)
        _ = try Checkpoint(contentsOf: good.trainer.resumeURL).makeModel(on: testDevice)
    }

    /// A device that fails mid-run (an injected CL_DEVICE_NOT_AVAILABLE): the run saves
    /// where it was, says so, and resuming in a new process ends with the weights of an
    /// unbroken run: with a forced GEMM, and in the default auto mode, where the processes
    /// share a cache folder that starts empty (the first times each shape, the others
    /// must compute it the same way).
    @Test(arguments: ["lumen", "auto"])
    func aFailingDeviceSavesAndResumesExactly(gemm: String) throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("train"), perClass: 8, seed: 8)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        let settings = ["LUMEN_GEMM": gemm, "LUMEN_CACHE_DIR": folder.url.appendingPathComponent("cache").path]
        func train(_ out: String, _ extra: [String] = [], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
            try LumenProcess.run(["train", "--data", folder.url.appendingPathComponent("train").path, "--model",
                                  folder.url.appendingPathComponent("small.yaml").path, "--epochs", "3", "--batch-size", "4",
                                  "--out", folder.url.appendingPathComponent(out).path] + extra,
                                 environment: environment.merging(settings) { a, _ in a })
        }
        // A fault inside the optimizer's update leaves the step half applied, so only the
        // last complete epoch is kept; elsewhere the run saves where it was. Look for a
        // launch count that lands elsewhere, and inside the run (how many launches a run
        // makes depends on the mode and on how much first-use timing the cache spares).
        var broken = try train("broken", environment: ["LUMEN_FAULT_AFTER_LAUNCHES": "700"])
        for faultAt in [640, 580, 520, 460, 400, 340, 280, 220]
        where broken.status == 0 || !broken.stderr.contains("continue with --resume") {
            broken = try train("broken", environment: ["LUMEN_FAULT_AFTER_LAUNCHES": "\(faultAt)"])
        }
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("the device failed"), "\(broken.stderr)")
        #expect(broken.stderr.contains("CL_DEVICE_NOT_AVAILABLE"))
        #expect(broken.stderr.contains("continue with --resume"), "\(broken.stderr)")
        let resumed = try train("broken", ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let straight = try train("straight")
        #expect(straight.status == 0, "\(straight.stderr)")
        let a = try Checkpoint(contentsOf: folder.url.appendingPathComponent("straight/final.safetensors"))
        let b = try Checkpoint(contentsOf: folder.url.appendingPathComponent("broken/final.safetensors"))
        #expect(a.tensors == b.tensors)
    }

    @Test func anAllocationAboveTheDeviceLimitIsNamed() throws {
        let limit = testDevice.info.maxAllocationBytes
        do {
            _ = try Tensor(uninitializedOn: testDevice, shape: [Int(limit / 4) + 1024])
            Issue.record("allocated more than the device's limit")
        } catch let error as LumenError {
            guard case .deviceMemory(let purpose, let bytes, let reported, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(purpose.contains("tensor"))
            #expect(UInt64(bytes) > reported)
            #expect(error.description.contains("cannot allocate"))
        }
    }

    @Test func everyOpenCLObjectIsReleasedByTheEndOfARun() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("train"), perClass: 6, seed: 6)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        let result = try LumenProcess.run(["train", "--data", folder.url.appendingPathComponent("train").path,
                                           "--validation-split", "0.3", "--model", folder.url.appendingPathComponent("small.yaml").path,
                                           "--epochs", "1", "--batch-size", "4", "--out", folder.url.appendingPathComponent("run").path],
                                          environment: ["LUMEN_DEBUG_OBJECTS": "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("lumen: debug: 0 OpenCL objects live at exit"), "\(result.stderr)")
    }

    @Test(arguments: [
        (["--epochs", "0"], "--epochs"), (["--epochs", "-3"], "--epochs"), (["--batch-size", "0"], "--batch-size"),
        (["--lr", "0"], "--lr"), (["--lr", "-1"], "--lr"), (["--model", "resnet-9000"], "xray-cnn"),
        (["--validation-split", "1.5"], "--validation-split"), (["--init", "/no/such.safetensors"], "/no/such.safetensors"),
    ])
    func badArgumentsGetOneClearLine(arguments: [String], mentions: String) throws {
        let result = try LumenProcess.run(["train", "--data", "/tmp", "--out", "/tmp/lumen-never"] + arguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains(mentions), "\(result.stderr)")
    }

    @Test func missingDataFolderIsNamed() throws {
        let result = try LumenProcess.run(["train", "--data", "/no/such/folder", "--model", "fashion-cnn", "--out", "/tmp/lumen-never"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/no/such/folder: no such folder"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func weightsForAnotherArchitectureNameTheFirstMismatch() throws {
        let folder = try TemporaryFolder()
        let checkpoint = folder.url.appendingPathComponent("xray.safetensors")
        let model = try Model(spec: BuiltinModel.xrayCNN.spec(classes: 2, inputSize: 64), device: testDevice)
        try Checkpoint(model: model, classes: ["a", "b"]).write(to: checkpoint)
        var config = TrainingConfig()
        config.model = "fashion-cnn"
        config.initFrom = checkpoint.path
        config.data = folder.url.path
        config.out = folder.url.appendingPathComponent("run").path
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 2, seed: 1)
        config.data = folder.url.appendingPathComponent("data").path
        config.color = "rgb"
        do {
            _ = try TrainingRun(config: config, device: testDevice)
            Issue.record("loaded xray-cnn weights into fashion-cnn")
        } catch let error as LumenError {
            #expect(error.description.contains("conv2d.weight has shape [64, 3, 3, 3] in the checkpoint"), "\(error)")
        }
    }
}
