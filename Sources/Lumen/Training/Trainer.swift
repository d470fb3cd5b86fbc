import Foundation

/// Where an epoch stands after a step, with the time first-use work took kept apart, so
/// a rate or ETA can leave it out.
public struct StepProgress: Sendable {
    /// Steps done in the epoch (1-based), of `steps`.
    public var step: Int, steps: Int
    /// The epoch's running loss and accuracy.
    public var loss: Double, accuracy: Double
    /// Wall-clock seconds since this process began the epoch, and of those the seconds
    /// spent compiling kernels and timing GEMMs (first use).
    public var elapsed: Double, firstUse: Double
    /// Steps run since this process began the epoch (fewer than `step` after a resume).
    public var stepsRun: Int

    public init(step: Int, steps: Int, loss: Double, accuracy: Double, elapsed: Double, firstUse: Double, stepsRun: Int) {
        (self.step, self.steps, self.loss, self.accuracy) = (step, steps, loss, accuracy)
        (self.elapsed, self.firstUse, self.stepsRun) = (elapsed, firstUse, stepsRun)
    }

    /// Seconds left at the rate of the steps run, first-use work left out.
    public var eta: Double { eta(since: nil) }

    /// Seconds left at the rate of the steps run since `earlier`, a report of the same epoch
    /// (see `BatchProgress.eta(since:)`).
    public func eta(since earlier: StepProgress?) -> Double { asBatches.eta(since: earlier?.asBatches) }

    private var asBatches: BatchProgress {
        BatchProgress(done: step, total: steps, batchesRun: stepsRun, elapsed: elapsed, firstUse: firstUse)
    }
}

/// Progress of a `fit`, for the CLI to show. Library code prints nothing itself.
public protocol TrainingReporter: AnyObject {
    func epochBegan(_ epoch: Int, of epochs: Int, steps: Int)
    func stepEnded(_ progress: StepProgress)
    func epochEnded(_ epoch: Int, of epochs: Int, logs: [String: Double])
    func message(_ text: String)
}

/// Why training stopped before its last epoch, other than a callback.
public enum TrainingStop: Error, CustomStringConvertible, Equatable {
    /// Ctrl-C: a resumable checkpoint was written to `checkpoint`.
    case interrupted(checkpoint: String, epoch: Int, step: Int)
    /// The loss or a gradient was NaN or infinite at a step (1-based, across the run).
    case nonFinite(what: String, epoch: Int, step: Int, checkpoint: String?)
    /// A batch did not fit the device; `suggestedBatchSize` should.
    case outOfMemory(detail: String, batchSize: Int, suggestedBatchSize: Int)
    /// The device failed mid-run (lost, reset, out of resources).
    case deviceFailed(detail: String, epoch: Int, step: Int, saved: String?)

    /// Whether every rank of a data-parallel run meets this stop at the same step: an
    /// interrupt and a non-finite value are agreed on through collectives; a device's
    /// failure or its memory is one rank's alone, while the others wait for it.
    public var metByEveryRank: Bool {
        switch self {
        case .interrupted, .nonFinite: return true
        case .outOfMemory, .deviceFailed: return false
        }
    }

    public var description: String {
        switch self {
        case .interrupted(let checkpoint, let epoch, let step):
            return "interrupted in epoch \(epoch + 1) after step \(step); saved \(checkpoint). Continue with the same command and --resume"
        case .nonFinite(let what, let epoch, let step, let checkpoint):
            let kept = checkpoint.map { "; the last good checkpoint is \($0)" } ?? ""
            return "\(what) became NaN or infinite at step \(step) (epoch \(epoch + 1)); stopped\(kept). Try a lower --lr"
        case .outOfMemory(let detail, let batchSize, let suggested):
            return "\(detail) at batch size \(batchSize); try --batch-size \(suggested)"
        case .deviceFailed(let detail, let epoch, let step, let saved):
            let kept = saved.map { "; saved \($0) after step \(step) of epoch \(epoch + 1), continue with --resume" }
                ?? "; the checkpoint of the last complete epoch is kept"
            return "the device failed: \(detail)\(kept)"
        }
    }
}

/// Keras' `fit`: epochs of training steps over a `BatchLoader`, a validation pass,
/// logs, callbacks, and a resumable checkpoint after every epoch.
public final class Trainer {
    public let model: Model
    public let optimizer: Optimizer
    public let loss: Loss
    public let training: BatchSource
    public let validation: BatchSource?
    public let callbacks: [Callback]
    public let runDirectory: URL
    public let classes: [String]
    public let preprocessing: Preprocessing
    /// Settings recorded in checkpoints, for people reading them later.
    public var configuration: [String: String] = [:]
    public weak var reporter: TrainingReporter?
    /// Check every step's gradients and, on a non-finite loss, find the first layer
    /// whose output went bad. Slower: it reads every gradient back.
    public var detectAnomaly = false
    /// Data-parallel training over several processes (the loaders give this process's
    /// share of each global batch); nil for one process. Only rank 0 writes files.
    public var dataParallel: DataParallel?
    private var writesFiles: Bool { dataParallel?.group.isMain ?? true }
    public private(set) var history = History()
    private var startEpoch = 0
    private var startBatch = 0
    private var partial = EpochMetrics()
    private let stopLock = NSLock()
    private var stopRequested = false

    /// The resumable checkpoint of the run, rewritten after every epoch.
    public var resumeURL: URL { runDirectory.appendingPathComponent("last.safetensors") }
    /// The model at the end of training (after EarlyStopping's restore, if any).
    public var finalURL: URL { runDirectory.appendingPathComponent("final.safetensors") }

    public init(model: Model, optimizer: Optimizer, loss: Loss, training: BatchSource, validation: BatchSource?,
                callbacks: [Callback], runDirectory: URL, classes: [String], preprocessing: Preprocessing) throws {
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.training = training
        self.validation = validation
        self.callbacks = callbacks
        self.runDirectory = runDirectory
        self.classes = classes
        self.preprocessing = preprocessing
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        Trainer.removeStrayTemporaryFiles(in: runDirectory)
    }

    /// Asks training to stop after the current step and write a resumable checkpoint.
    /// Safe to call from a signal handler's queue.
    public func requestStop() {
        stopLock.lock()
        stopRequested = true
        stopLock.unlock()
    }

    private var shouldStop: Bool {
        stopLock.lock()
        defer { stopLock.unlock() }
        return stopRequested
    }

    /// The process's resident memory now, from /proc/self/statm (Linux), in MB.
    static func residentMegabytes() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return nil }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }

    /// Files a crash left half-written (`.<name>.tmp-…`); removed at the start of a run.
    static func removeStrayTemporaryFiles(in folder: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    // MARK: - Fit

    /// Trains until `epochs` epochs are done or a callback stops it. Returns the history.
    @discardableResult
    public func fit(epochs: Int) throws -> History {
        let context = TrainingContext(model: model, optimizer: optimizer, saveModel: { [unowned self] url in
            if self.writesFiles { try self.checkpoint(resumable: false).write(to: url) }
        }, report: { [weak self] in self?.reporter?.message($0) })
        for callback in callbacks { try callback.trainBegan(context) }
        try dataParallel?.broadcastParameters(of: model)
        let steps = training.batchesPerEpoch
        var epoch = startEpoch
        while epoch < epochs && !context.stopTraining {
            reporter?.epochBegan(epoch, of: epochs, steps: steps)
            let began = Date(), firstUseBefore = model.device.firstUseSeconds
            let allreduceBefore = dataParallel?.allreduceSeconds ?? 0
            var logs = try trainEpoch(epoch, steps: steps)
            try shareUnusableFiles()
            // Data-parallel: the time each step spent staging and summing gradients.
            if let dataParallel { logs["allreduce_seconds_per_step"] = (dataParallel.allreduceSeconds - allreduceBefore) / Double(max(steps, 1)) }
            if let validation { logs.merge(try evaluate(validation, epoch: epoch)) { $1 } }
            let seconds = Date().timeIntervalSince(began)
            let firstUse = model.device.firstUseSeconds - firstUseBefore
            logs["learning_rate"] = Double(optimizer.learningRate)
            logs["epoch_time"] = seconds
            // The rate leaves out first-use work (compiling kernels, timing GEMMs).
            logs["images_per_second"] = Double(training.sampleCount - training.badFiles.count) / max(seconds - firstUse, 1e-9)
            if let resident = Trainer.residentMegabytes() { logs["memory_mb"] = resident }
            history.epochs.append(logs)
            if writesFiles {
                try history.write(csv: runDirectory.appendingPathComponent("history.csv"),
                                  json: runDirectory.appendingPathComponent("history.json"))
            }
            reporter?.epochEnded(epoch, of: epochs, logs: logs)
            for callback in callbacks { try callback.epochEnded(epoch, logs: logs, context) }
            epoch += 1
            startBatch = 0
            partial = EpochMetrics()
            try saveResumable(epoch: epoch, batch: 0)
        }
        for callback in callbacks { try callback.trainEnded(context) }
        if writesFiles { try checkpoint(resumable: false).write(to: finalURL) }
        return history
    }

    /// Data-parallel: every process learns the unusable files the others found in their
    /// shares this epoch, so a later epoch that deals one to another process neither reads
    /// nor names it again (each is named once, by the process that found it).
    private func shareUnusableFiles() throws {
        guard let parallel = dataParallel else { return }
        var flags = training.unusableSamples
        guard !flags.isEmpty else { return }  // every process has the same kind of source
        try parallel.group.sum(&flags)
        training.skip(unusable: flags)
    }

    private func trainEpoch(_ epoch: Int, steps: Int) throws -> [String: Double] {
        let stream = training.epoch(epoch, skipping: startBatch)
        var step = startBatch
        let began = Date(), firstUseBefore = model.device.firstUseSeconds
        let k = model.outputCount
        let activation = model.outputActivation
        while let batch = try stream.next() {
            step = startBatch + stream.passed - 1  // batches whose every file was bad count as passed
            // Data-parallel: every process learns how many readable images the global batch
            // has (the gradients' scale) and whether some process has none in its share;
            // then every process skips the step, which would otherwise wait for that one.
            var readable = Double(batch.labels.count)
            if let parallel = dataParallel {
                var counts = [readable, batch.labels.isEmpty ? 1 : 0]
                try parallel.group.sum(&counts)
                if counts[1] > 0 {
                    step += 1
                    reporter?.message("epoch \(epoch + 1), step \(step): skipped on every process; \(Int(counts[1])) of "
                                      + "\(parallel.group.size) had no readable image in its share of the batch")
                    continue
                }
                readable = counts[0]
            }
            model.setDropoutStep(optimizer.iterations)
            let (value, logits): (Float, Tensor)
            var updating = false
            do {
                let x = try Tensor(on: model.device, shape: batch.shape, values: batch.inputs)
                let parallel = dataParallel
                // Data-parallel: this share's loss gradient scaled by its part of the global
                // batch; every process agrees whether the step goes on; gradients summed.
                (value, logits) = try model.trainStep(
                    x, labels: batch.labels, loss: loss, optimizer: optimizer, replicas: parallel?.share(of: batch),
                    gradientScale: Float(batch.labels.count) / Float(readable),
                    proceeds: { value in
                        let bad = !value.isFinite
                        return try !(parallel?.group.any(bad) ?? bad)  // no process met a non-finite loss
                    }) { [self] in
                    updating = true
                    try parallel?.sumGradients(of: model)
                    // With --detect-anomaly, a bad gradient stops the step before it reaches the weights.
                    if detectAnomaly, let name = try model.firstNonFiniteGradient() {
                        throw TrainingStop.nonFinite(what: "the gradient of \(name)", epoch: epoch, step: optimizer.iterations + 1,
                                                     checkpoint: FileManager.default.fileExists(atPath: resumeURL.path) ? resumeURL.path : nil)
                    }
                }
            } catch LumenError.deviceMemory(let purpose, let bytes, let limit, let device) {
                stream.cancel()
                let size = batch.labels.count
                let fits = limit > 0 && UInt64(bytes) > limit ? Int(Double(size) * Double(limit) / Double(bytes) * 0.9) : size / 2
                throw TrainingStop.outOfMemory(
                    detail: LumenError.deviceMemory(purpose: purpose, bytes: bytes, limit: limit, device: device).description,
                    batchSize: size, suggestedBatchSize: max(1, min(fits, size - 1)))
            } catch let error as CLError {
                // Before the update began, the weights are those after the last complete
                // step: save them so --resume continues from there, if the device still
                // answers. Mid-update they are half-written, and only the epoch's
                // checkpoint can be trusted.
                stream.cancel()
                var saved: String?
                if !updating, writesFiles, (try? saveResumable(epoch: epoch, batch: step)) != nil { saved = resumeURL.path }
                throw TrainingStop.deviceFailed(detail: error.description, epoch: epoch, step: step, saved: saved)
            }
            step += 1
            let kept = FileManager.default.fileExists(atPath: resumeURL.path) ? resumeURL.path : nil
            guard value.isFinite else {
                stream.cancel()
                var what = "the loss"
                if detectAnomaly {
                    let x = try Tensor(on: model.device, shape: batch.shape, values: batch.inputs)
                    what += try model.firstNonFiniteLayer(x).map { ", first in the output of \($0)," } ?? ""
                }
                throw TrainingStop.nonFinite(what: what, epoch: epoch, step: optimizer.iterations + 1, checkpoint: kept)
            }
            try dataParallel?.averageRunningStatistics(of: model)
            partial.add(loss: value, logits: try logits.toArray(), labels: batch.labels, outputs: k, activation: activation,
                        binary: classes.count == 2)
            reporter?.stepEnded(StepProgress(step: step, steps: steps, loss: partial.loss, accuracy: partial.accuracy,
                                             elapsed: Date().timeIntervalSince(began),
                                             firstUse: model.device.firstUseSeconds - firstUseBefore, stepsRun: step - startBatch))
            // Any process asked to stop: every process stops after the same step.
            if try dataParallel?.group.any(shouldStop) ?? shouldStop {
                stream.cancel()
                try saveResumable(epoch: epoch, batch: step)
                throw TrainingStop.interrupted(checkpoint: resumeURL.path, epoch: epoch, step: step)
            }
        }
        let epochMetrics = try dataParallel?.combined(partial) ?? partial
        // Batches came but not one image of them could be read: a loss of 0 would pass
        // for a result (and a best checkpoint).
        if stream.passed > 0 && epochMetrics.samples == 0 { throw Trainer.unreadable(training, what: "training") }
        return epochMetrics.logs()
    }

    /// Where every file of a source was unusable.
    static func unreadable(_ source: BatchSource, what: String) -> DataError {
        DataError(path: source.imageLoader?.folder.root.path ?? "the \(what) data",
                  reason: "no \(what) image could be read (\(source.badFiles.count) unusable files, each named above)")
    }

    /// Loss (without class weights, as Keras' validation), accuracy and, for two
    /// classes, AUC over a loader in inference mode.
    public func evaluate(_ loader: BatchSource, epoch: Int, prefix: String = "val_") throws -> [String: Double] {
        let plain = Loss(loss.kind, labelSmoothing: loss.labelSmoothing)
        let stream = loader.epoch(epoch)
        var metrics = EpochMetrics()
        while let batch = try stream.next() {
            let x = try Tensor(on: model.device, shape: batch.shape, values: batch.inputs)
            let logits = try model.logits(x, training: false)
            let (value, _) = try plain.evaluate(logits: logits, labels: batch.labels)
            metrics.add(loss: value, logits: try logits.toArray(), labels: batch.labels, outputs: model.outputCount,
                        activation: model.outputActivation, binary: classes.count == 2)
        }
        let combined = try dataParallel?.combined(metrics) ?? metrics
        if combined.samples == 0 && stream.passed > 0 { throw Trainer.unreadable(loader, what: "validation") }
        return combined.logs(prefix: prefix)
    }

    // MARK: - Checkpoints and resume

    func checkpoint(resumable: Bool) throws -> Checkpoint {
        var extra = configuration.isEmpty ? [:] : ["config": try Checkpoint.json(configuration)]
        var checkpoint = try Checkpoint(model: model, classes: classes, preprocessing: preprocessing)
        guard resumable else {
            checkpoint.extra = extra
            return checkpoint
        }
        var tensors: [String: SafeTensors.Entry] = [:]
        for (name, tensor) in optimizer.stateTensors() {
            tensors["optimizer/" + name] = SafeTensors.Entry(shape: tensor.shape, values: try tensor.toArray())
        }
        var callbackStates: [String: [String: Double]] = [:]
        for callback in callbacks {
            callbackStates[callback.name] = callback.state
            for (name, entry) in callback.stateTensors { tensors["callback/\(callback.name)/\(name)"] = entry }
        }
        extra["training"] = try Checkpoint.json(ResumeState(
            epoch: startEpoch, batch: startBatch, iterations: optimizer.iterations,
            learningRate: optimizer.learningRate, callbacks: callbackStates, history: history, partial: partial,
            batchesPerEpoch: training.batchesPerEpoch, batchesPerPass: training.batchesPerPass))
        checkpoint.extra = extra
        checkpoint.extraTensors = tensors
        return checkpoint
    }

    private func saveResumable(epoch: Int, batch: Int) throws {
        startEpoch = epoch
        startBatch = batch
        if writesFiles { try checkpoint(resumable: true).write(to: resumeURL) }
    }

    struct ResumeState: Codable {
        var epoch: Int, batch: Int, iterations: Int
        var learningRate: Float
        var callbacks: [String: [String: Double]]
        var history: History
        var partial: EpochMetrics
        /// The epoch's length in batches when saved: a position inside an epoch means
        /// other samples under another batch size or data (absent in older checkpoints).
        var batchesPerEpoch: Int?
        /// The length of a pass over the data in batches when saved: with steps per epoch,
        /// where positions count batches across passes, the epoch's length alone does not
        /// change with the batch size (absent in older checkpoints).
        var batchesPerPass: Int?
    }

    /// Continues from the run's resumable checkpoint when there is one. Returns the
    /// epoch (0-based) and step training will continue from, or nil for a fresh start.
    @discardableResult
    public func resumeIfPossible() throws -> (epoch: Int, step: Int)? {
        guard FileManager.default.fileExists(atPath: resumeURL.path) else { return nil }
        let saved = try Checkpoint(contentsOf: resumeURL)
        guard let text = saved.extra["training"],
              let state = try? JSONDecoder().decode(ResumeState.self, from: Data(text.utf8)) else {
            throw CheckpointError(file: resumeURL.path, defect: "has no training state to resume from")
        }
        guard saved.spec == model.spec else {
            throw CheckpointError(file: resumeURL.path, defect: "was written for a different model (\(saved.spec.name)); use another --out or delete it")
        }
        if state.batch > 0, let saved = state.batchesPerEpoch, saved != training.batchesPerEpoch {
            throw CheckpointError(file: resumeURL.path, defect: "stopped at batch \(state.batch) of \(saved) in epoch \(state.epoch + 1), "
                                  + "but this run's data and batch size make \(training.batchesPerEpoch) batches an epoch; resume with "
                                  + "the batch size and data it was started with, or use another --out")
        }
        if state.batch > 0, let saved = state.batchesPerPass, saved != training.batchesPerPass {
            throw CheckpointError(file: resumeURL.path, defect: "stopped at batch \(state.batch) of epoch \(state.epoch + 1) "
                                  + "with \(saved) batches a pass over the data, but this run's data and batch size make "
                                  + "\(training.batchesPerPass); resume with the batch size and data it was started with, or use another --out")
        }
        try Checkpoint.load(saved.tensors, into: model, source: "resumable checkpoint")
        var optimizerState: [String: SafeTensors.Entry] = [:]
        for (key, entry) in saved.extraTensors where key.hasPrefix("optimizer/") { optimizerState[String(key.dropFirst(10))] = entry }
        try optimizer.restore(optimizerState, iterations: state.iterations, on: model.device)
        optimizer.learningRate = state.learningRate
        for callback in callbacks {
            callback.restore(state.callbacks[callback.name] ?? [:])
            let prefix = "callback/\(callback.name)/"
            var tensors: [String: SafeTensors.Entry] = [:]
            for (key, entry) in saved.extraTensors where key.hasPrefix(prefix) { tensors[String(key.dropFirst(prefix.count))] = entry }
            callback.restore(tensors: tensors)
        }
        history = state.history
        startEpoch = state.epoch
        startBatch = state.batch
        partial = state.partial
        return (state.epoch, state.batch)
    }
}
