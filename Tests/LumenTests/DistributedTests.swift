import Foundation
import Testing
@testable import Lumen

/// Data-parallel training under `mpirun -np 2` (Open MPI from Debian, installed by
/// Scripts/install-deps): two processes sharing a global batch end with the weights one
/// process training on that batch ends with, and a run stopped under two processes
/// resumes under one.
@Suite(.serialized) struct DistributedTests {
    static let smallSpec = """
        name: small
        input_shape: [20, 20, 3]
        layers:
          - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu}
          - {type: MaxPooling2D, pool_size: 2}
          - {type: Flatten}
          - {type: Dense, units: 3, activation: softmax}
        """

    /// How a run is spread: one device, two MPI ranks, or two devices (two PoCL
    /// contexts on the CPU) in one process.
    enum Spread: String, CaseIterable, Sendable { case one, twoRanks, twoDevices }

    /// `lumen train` spread as asked.
    static func train(_ spread: Spread, _ arguments: [String], environment: [String: String] = [:],
                      timeout: TimeInterval? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        switch spread {
        case .one: return try LumenProcess.run(["train", "--device", "cpu"] + arguments, environment: environment, timeout: timeout)
        case .twoDevices:
            return try LumenProcess.run(["train", "--device", "cpu,cpu"] + arguments, environment: environment, timeout: timeout)
        case .twoRanks: return try lumen(ranks: 2, ["train"] + arguments, environment: environment, timeout: timeout)
        }
    }

    /// `lumen ARGUMENTS` under `mpirun -np ranks` (ARGUMENTS may go on with Open MPI's
    /// `: -np N program …` for other ranks).
    static func lumen(ranks: Int, _ arguments: [String], environment: [String: String] = [:],
                      timeout: TimeInterval? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let mpirun else {
            Issue.record("mpirun is missing: run Scripts/install-deps (openmpi-bin)")
            return (1, "", "no mpirun")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), LumenProcess.binary.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        return try LumenProcess.collect(process, timeout: timeout)
    }

    /// The largest difference between two checkpoints' tensors, each relative to its scale.
    static func difference(_ a: URL, _ b: URL) throws -> (Float, String) {
        let one = try Checkpoint(contentsOf: a).tensors, two = try Checkpoint(contentsOf: b).tensors
        #expect(Set(one.keys) == Set(two.keys))
        return one.keys.sorted().map { (scaledDifference(two[$0]?.values ?? [], one[$0]!.values), $0) }.max { $0.0 < $1.0 } ?? (0, "")
    }

    func expectSameWeights(_ a: URL, _ b: URL, _ what: String) throws {
        let (worst, tensor) = try DistributedTests.difference(a, b)
        print("\(what): max difference \(worst) of scale (\(tensor))")
        #expect(worst <= 1e-5, "\(what): \(tensor) differs by \(worst) of its scale")
    }

    /// `lumen devices` under mpirun says the world's size and the device each rank takes.
    @Test func devicesNameTheWorld() throws {
        let run = try DistributedTests.lumen(ranks: 2, ["devices"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("MPI world: 2 ranks") && run.stdout.contains("rank 0 of 2") && run.stdout.contains("rank 1 of 2"),
                "\(run.stdout)")
    }

    /// A model without BatchNorm, two epochs with Adam: 2 ranks (MPI processes, or devices
    /// of one process) × half of each global batch of 8 end where 1 rank × 8 ends.
    @Test(arguments: [Spread.twoRanks, .twoDevices])
    func twoRanksTrainAsOneRank(spread: Spread) throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 12, seed: 61)
        let spec = folder.url.appendingPathComponent("small.yaml")
        try DistributedTests.smallSpec.write(to: spec, atomically: true, encoding: .utf8)
        var finals: [URL] = []
        for mode in [Spread.one, spread] {
            let out = folder.url.appendingPathComponent("run-\(mode.rawValue)")
            let run = try DistributedTests.train(mode, ["--data", folder.url.appendingPathComponent("data").path,
                                                        "--model", spec.path, "--epochs", "2", "--batch-size", "8", "--seed", "3",
                                                        "--out", out.path])
            #expect(run.status == 0, "\(run.stderr)")
            if mode != .one {
                #expect(run.stdout.contains("rank 0 of 2") && run.stdout.contains("rank 1 of 2"), "\(run.stdout)")
                #expect(run.stdout.contains("global batch 8 over 2"), "\(run.stdout)")
            }
            finals.append(out.appendingPathComponent("final.safetensors"))
        }
        try expectSameWeights(finals[0], finals[1], "small model, 1 vs 2 (\(spread))")
    }

    /// Ranks that are threads of one process: a sum over both, and two ranks out of step
    /// (one sums three values while the other asks `any`) fail together with one error
    /// naming the lengths, instead of one rank reading the other's values.
    @Test func threadRanksOutOfStepFailTogether() throws {
        let groups = ProcessGroup.threads(2)
        var results = [Result<[Double], Error>?](repeating: nil, count: 2)
        let lock = NSLock()
        func both(_ work: @escaping @Sendable (ProcessGroup) throws -> [Double]) -> [Result<[Double], Error>] {
            DispatchQueue.concurrentPerform(iterations: 2) { rank in
                let result = Result { try work(groups[rank]) }
                lock.lock()
                results[rank] = result
                lock.unlock()
            }
            return results.map { $0! }
        }
        let sums = both { group in
            var values = [Double(group.rank + 1), 10]
            try group.sum(&values)
            return values
        }
        #expect(sums.map { try? $0.get() } == [[3, 20], [3, 20]])
        let crossed = both { group in
            if group.rank == 0 {
                var values: [Double] = [1, 2, 3]
                try group.sum(&values)
                return values
            }
            return [try group.any(true) ? 1 : 0]
        }
        for result in crossed {
            guard case .failure(let error) = result else {
                Issue.record("a rank out of step went on: \(result)")
                continue
            }
            #expect("\(error)".contains("ranks out of step") && "\(error)".contains("3, 1"), "\(error)")
        }
    }

    /// A global batch in which one process's share has no readable image: every process
    /// skips that step together and says so, and the run ends (before, that process
    /// skipped alone and the others waited for it in the gradient sum for ever).
    @Test(arguments: [Spread.twoRanks, .twoDevices])
    func aShareWithoutReadableImagesSkipsTheStepOnEveryProcess(spread: Spread) throws {
        let folder = try TemporaryFolder()
        let data = folder.url.appendingPathComponent("data")
        try writeColourDataset(data, perClass: 2, seed: 62)
        // Three unreadable files a class beside its two images: shares of two files are
        // often both unreadable.
        for name in ["blue", "green", "red"] {
            for index in 0..<3 {
                try Data("not an image".utf8).write(to: data.appendingPathComponent(name).appendingPathComponent("bad\(index).jpg"))
            }
        }
        let spec = folder.url.appendingPathComponent("small.yaml")
        try DistributedTests.smallSpec.write(to: spec, atomically: true, encoding: .utf8)
        let out = folder.url.appendingPathComponent("run")
        let run = try DistributedTests.train(spread, ["--data", data.path, "--model", spec.path, "--epochs", "3", "--batch-size", "4",
                                                      "--seed", "5", "--out", out.path], timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        #expect((run.stdout + run.stderr).contains("skipped on every process"), "\(run.stdout)\n\(run.stderr)")
        // Each unreadable file named once in the run, by the process that found it: the
        // others learn of it at the epoch's end and do not read it when it is theirs.
        for name in ["blue", "green", "red"] {
            for index in 0..<3 {
                let path = data.appendingPathComponent(name).appendingPathComponent("bad\(index).jpg").path
                #expect(run.stderr.components(separatedBy: "skipped " + path).count - 1 == 1, "\(path)\n\(run.stderr)")
            }
        }
        let weights = try Checkpoint(contentsOf: out.appendingPathComponent("final.safetensors")).tensors
        #expect(weights.values.allSatisfy { $0.values.allSatisfy(\.isFinite) })
    }

    /// xray-cnn at 48×48 with --sync-batchnorm (BatchNorm statistics and sums over the
    /// global batch) and its two Dropout layers (masks follow the global batch): three
    /// SGD steps under 2 ranks end where 1 rank ends. One GEMM kernel is forced, so the
    /// shares' shapes cannot pick kernels that round differently.
    @Test(arguments: [Spread.twoRanks, .twoDevices])
    func syncBatchNormTrainsAsOneRank(spread: Spread) throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 12, seed: 65)
        var finals: [URL] = []
        for mode in [Spread.one, spread] {
            let out = folder.url.appendingPathComponent("run-\(mode.rawValue)")
            let run = try DistributedTests.train(mode, ["--data", folder.url.appendingPathComponent("data").path,
                                                                 "--model", "xray-cnn", "--input-size", "64", "--epochs", "1",
                                                                 "--steps-per-epoch", "2", "--batch-size", "8", "--optimizer", "sgd",
                                                                 "--lr", "0.001", "--seed", "3", "--validation-split", "0.25",
                                                                 "--out", out.path] + (mode != .one ? ["--sync-batchnorm"] : []),
                                                 environment: ["LUMEN_GEMM": "lumen"])
            #expect(run.status == 0, "\(run.stderr)")
            finals.append(out.appendingPathComponent("final.safetensors"))
        }
        try expectSameWeights(finals[0], finals[1], "xray-cnn with sync BatchNorm, 1 vs 2 (\(spread))")
    }

    /// A rank whose device fails mid-epoch says so with its rank and stops the job; the
    /// checkpoint of the last complete epoch stays, and the run resumes from it.
    @Test func aFailingRankStopsEveryRank() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 12, seed: 64)
        let spec = folder.url.appendingPathComponent("small.yaml")
        try DistributedTests.smallSpec.write(to: spec, atomically: true, encoding: .utf8)
        let out = folder.url.appendingPathComponent("run")
        let arguments = ["train", "--data", folder.url.appendingPathComponent("data").path, "--model", spec.path, "--epochs", "4",
                         "--batch-size", "8", "--seed", "3", "--out", out.path]
        // Open MPI's MPMD form: rank 1 alone gets a device that fails after 150 launches.
        let started = Date()
        let run = try DistributedTests.lumen(ranks: 1, arguments + [":", "-np", "1", "env", "LUMEN_FAULT_AFTER_LAUNCHES=150",
                                                                     LumenProcess.binary.path] + arguments)
        #expect(run.status != 0)
        #expect(run.stderr.contains("rank 1 of 2: the device failed") && run.stderr.contains("stopping every rank"), "\(run.stderr)")
        #expect(Date().timeIntervalSince(started) < 60)
        let kept = try Checkpoint(contentsOf: out.appendingPathComponent("last.safetensors"))
        #expect(kept.extra["training"]?.contains("\"batch\":0") == true, "a complete epoch's checkpoint")
        let resumed = try DistributedTests.train(.one, Array(arguments.dropFirst()) + ["--resume"])
        #expect(resumed.status == 0 && resumed.stdout.contains("resuming"), "\(resumed.stderr)")
    }

    /// Two devices of one process that fail mid-epoch: the first rank whose device fails
    /// stops the process, naming itself, since the other would wait for it in the next
    /// collective (before, a failure on rank 1 was left to rank 0 to tell, which hung
    /// when rank 0's device went on).
    @Test func aFailingDeviceStopsItsProcessNamingTheRank() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 12, seed: 66)
        let spec = folder.url.appendingPathComponent("small.yaml")
        try DistributedTests.smallSpec.write(to: spec, atomically: true, encoding: .utf8)
        let started = Date()
        let run = try DistributedTests.train(.twoDevices, ["--data", folder.url.appendingPathComponent("data").path, "--model", spec.path,
                                                           "--epochs", "2", "--batch-size", "8", "--seed", "3",
                                                           "--out", folder.url.appendingPathComponent("run").path],
                                             environment: ["LUMEN_FAULT_AFTER_LAUNCHES": "150"])
        #expect(run.status != 0)
        #expect(run.stderr.contains(" of 2: the device failed"), "\(run.stderr)")
        #expect(Date().timeIntervalSince(started) < 60)
    }

    /// One epoch under 2 ranks, then --resume under 1 rank to the second epoch: the
    /// weights of an uninterrupted 2-epoch run under 1 rank.
    @Test func aTwoRankRunResumesUnderOneRank() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 12, seed: 63)
        let spec = folder.url.appendingPathComponent("small.yaml")
        try DistributedTests.smallSpec.write(to: spec, atomically: true, encoding: .utf8)
        let common = ["--data", folder.url.appendingPathComponent("data").path, "--model", spec.path, "--batch-size", "8", "--seed", "5"]
        let resumed = folder.url.appendingPathComponent("resumed"), straight = folder.url.appendingPathComponent("straight")
        let first = try DistributedTests.train(.twoRanks, common + ["--epochs", "1", "--out", resumed.path])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try DistributedTests.train(.one, common + ["--epochs", "2", "--out", resumed.path, "--resume"])
        #expect(second.status == 0 && second.stdout.contains("resuming"), "\(second.stdout)\(second.stderr)")
        let whole = try DistributedTests.train(.one, common + ["--epochs", "2", "--out", straight.path])
        #expect(whole.status == 0, "\(whole.stderr)")
        try expectSameWeights(straight.appendingPathComponent("final.safetensors"), resumed.appendingPathComponent("final.safetensors"),
                              "resumed under 1 rank after 2")
    }
}
