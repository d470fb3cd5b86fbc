import ArgumentParser
import Foundation
import Lumen

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on an image folder: Keras' fit, with callbacks, checkpoints and resume.",
        discussion: """
        Writes to RUN_DIR: best.safetensors (ModelCheckpoint), last.safetensors (resumable, \
        every epoch), final.safetensors, history.csv and history.json. Flags override --config.
        """)

    @Option(help: "Training folder, one subfolder per class.") var data: String?
    @Option(help: "Validation folder with the same classes.") var val: String?
    @Option(help: "Fraction of each class held out for validation, as Keras' validation_split.") var validationSplit: Double?
    @Option(help: "xray-cnn, fashion-cnn, a model spec (.yaml/.json) or a checkpoint to start from.") var model: String?
    @Option(help: "Epochs to train.") var epochs: Int?
    @Option(help: "Batches per epoch, as Keras' steps_per_epoch; epochs continue through the data.") var stepsPerEpoch: Int?
    @Option(help: "Validation batches per epoch, as Keras' validation_steps.") var validationSteps: Int?
    @Option(help: "Images per batch.") var batchSize: Int?
    @Option(help: "Learning rate.") var lr: Float?
    @Option(help: "adam, adamw or sgd.") var optimizer: String?
    @Option(help: "SGD momentum.") var momentum: Float?
    @Option(help: "Decoupled weight decay.") var weightDecay: Float?
    @Option(help: "Seed for weights, shuffling, augmentation and dropout.") var seed: UInt64?
    @Option(help: "Run folder for checkpoints and history.") var out: String?
    @Option(help: "A YAML or JSON training config with Keras names.") var config: String?
    @Option(help: "balanced, weights in class order (1,2.9), or NAME=weight pairs.") var classWeight: String?
    @Option(help: "Label smoothing.") var labelSmoothing: Float?
    @Option(help: "rescale (x/255) or tf (x/127.5 - 1).") var preprocessing: String?
    @Option(help: "Decoding threads.") var workers: Int?
    @Option(help: "Metric the callbacks watch (default val_loss, or loss without validation).") var monitor: String?
    @Option(help: "Checkpoint file name in RUN_DIR; may use {epoch} and log keys.") var checkpointPath: String?
    @Flag(help: "Write a checkpoint every epoch, not only when the monitored metric improves.") var saveEveryEpoch = false
    @Option(help: "Enable ReduceLROnPlateau with this patience.") var reduceLrPatience: Int?
    @Option(help: "ReduceLROnPlateau factor.") var reduceLrFactor: Double?
    @Option(help: "ReduceLROnPlateau lower bound.") var minLr: Double?
    @Option(help: "Enable EarlyStopping with this patience.") var earlyStoppingPatience: Int?
    @Flag(help: "EarlyStopping restores the best epoch's weights at the end.") var restoreBestWeights = false
    @Option(name: .customLong("init"), help: "Start from this checkpoint's weights (transfer learning).") var initFrom: String?
    @Option(help: "Train only the last N layers, counted as in `lumen summary`.") var trainableLast: Int?
    @Option(help: "Freeze the layers up to and including this one.") var freezeUntil: String?
    @Option(help: "Weights by tensor name, e.g. a torchvision state dict from Scripts/export-torchvision.py.") var pretrained: String?
    @Option(help: "Train a fresh classifier for this many classes instead of the one in --pretrained weights or a checkpoint (--init, --model).") var replaceHead: Int?
    @Option(help: "Train a head on bottleneck features from `lumen extract-features` instead of images.") var features: String?
    @Option(help: "Validation features from `lumen extract-features`.") var valFeatures: String?
    @Flag(help: "Continue from RUN_DIR/last.safetensors when it exists.") var resume = false
    @Flag(help: "Stop at the first unreadable image instead of skipping it.") var strict = false
    @Flag(help: "On a NaN or infinite loss, name the first layer where it appeared; check gradients every step.") var detectAnomaly = false
    @Flag(help: "Under mpirun: BatchNorm statistics over the global batch, not each process's share.") var syncBatchnorm = false
    @OptionGroup var deviceOption: DeviceOption
    @OptionGroup var image: ImageOptions
    @OptionGroup var augmentationOptions: AugmentationOptions

    /// Checks of the flags themselves; the settings' ranges are checked by `TrainingPlan`,
    /// whether they come from a flag or the config file.
    func validate() throws {
        if let initFrom, !FileManager.default.fileExists(atPath: initFrom) { throw ValidationError("--init: no checkpoint at \(initFrom)") }
        if let model, (try? ModelReference(model)) == nil {
            throw ValidationError("--model '\(model)' is not a built-in architecture (\(BuiltinModel.allCases.map(\.rawValue).joined(separator: ", "))) or an existing file")
        }
    }

    /// The config file with every given flag applied on top.
    func resolvedConfig() throws -> TrainingConfig {
        let file = try config.map { try TrainingConfig.load(URL(fileURLWithPath: $0)) } ?? TrainingConfig()
        var flags = TrainingConfig()
        (flags.data, flags.val, flags.validationSplit, flags.model) = (data, val, validationSplit, model)
        (flags.epochs, flags.batchSize, flags.learningRate, flags.optimizer) = (epochs, batchSize, lr, optimizer)
        (flags.stepsPerEpoch, flags.validationSteps) = (stepsPerEpoch, validationSteps)
        (flags.momentum, flags.weightDecay, flags.seed, flags.out) = (momentum, weightDecay, seed, out)
        flags.classWeight = try classWeight.map { try ClassWeightSetting(flag: $0) }
        (flags.labelSmoothing, flags.preprocessing, flags.workers) = (labelSmoothing, preprocessing, workers)
        (flags.inputSize, flags.color) = (image.inputSize, image.color?.rawValue)
        flags.interpolation = image.interpolation == .nearest ? nil : image.interpolation
        flags.strict = strict ? true : nil
        (flags.initFrom, flags.trainableLast, flags.freezeUntil) = (initFrom, trainableLast, freezeUntil)
        (flags.features, flags.valFeatures, flags.pretrained, flags.replaceHead) = (features, valFeatures, pretrained, replaceHead)
        flags.augmentation = try augmentationOptions.augmentation(base: file.augmentation)
        var callbacks = CallbackFlags()
        (callbacks.monitor, callbacks.checkpointPath, callbacks.saveEveryEpoch) = (monitor, checkpointPath, saveEveryEpoch)
        (callbacks.reduceLrPatience, callbacks.reduceLrFactor, callbacks.minLr) = (reduceLrPatience, reduceLrFactor, minLr)
        (callbacks.earlyStoppingPatience, callbacks.restoreBestWeights) = (earlyStoppingPatience, restoreBestWeights)
        return file.overridden(by: flags, callbacks: callbacks)
    }

    func run() throws {
        try train()
        // LUMEN_DEBUG_OBJECTS=1: with the run's objects gone, the device among them, every
        // OpenCL object Lumen made must have been released.
        if (try? RuntimeEnvironment.current())?.debugObjects == true {
            FileHandle.standardError.write(Data("lumen: debug: \(Device.liveObjectCount) OpenCL objects live at exit\n".utf8))
        }
    }

    private func train() throws {
        try reportingErrors {
            let config = try resolvedConfig()
            let environment = try RuntimeEnvironment.current()
            if let selectors = try severalDevices(environment), !environment.launchedByMPI {
                try trainOnSeveralDevices(config, selectors, environment)
                return
            }
            // Under mpirun each process is a rank driving one device; alone, one rank.
            let group = environment.launchedByMPI ? try ProcessGroup.mpi() : ProcessGroup.single()
            MPIJob.current = group
            defer { group.finish() }
            let reporter = ProgressReporter()
            let notes: @Sendable (String) -> Void = { [weak reporter] in reporter?.message($0) }
            let device = try environment.open(try environment.selector(deviceOption.device, localRank: group.localRank),
                                              notes: group.isMain ? notes : nil)
            if syncBatchnorm && group.size == 1 { warn("--sync-batchnorm has no effect in one process") }
            let parallel = group.size > 1 ? DataParallel(group: group, synchronizesBatchNorm: syncBatchnorm) : nil
            let run = try TrainingRun(plan: try TrainingPlan(config), device: device, dataParallel: parallel)
            let trainer = run.trainer
            if group.isMain { trainer.reporter = reporter }
            trainer.detectAnomaly = detectAnomaly
            for line in run.warnings where group.isMain { warn(line) }
            nameBadFiles(of: trainer)
            if group.size > 1 {
                // Every rank says which device it took; the rest of the output is rank 0's.
                print("rank \(group.rank) of \(group.size) (local rank \(group.localRank)): device \(device.info.label)")
                fflush(stdout)
            } else {
                print("device: \(device.info.label)")
            }
            guard group.isMain else {
                try resumeAndFit(trainer, run: run, quiet: true)
                return
            }
            print("data: \(run.dataSummary)\(group.size > 1 ? "; global batch \(run.plan.batchSize) over \(group.size) processes" : "")")
            if let weights = run.classWeights {
                print("class weights: " + zip(trainer.classes, weights).map { "\($0)=\(String(format: "%.3f", $1))" }.joined(separator: ", "))
            }
            try resumeAndFit(trainer, run: run, quiet: false)
            try writeReport(trainer, run: run)
        }
    }

    /// Rank 0's evaluation files after training: the curves, the report, and where they went.
    private func writeReport(_ trainer: Trainer, run: TrainingRun) throws {
        try EvaluationFiles.afterTraining(trainer, validation: run.validationFolder, batchSize: run.plan.batchSize)
        print("saved \(trainer.finalURL.path), training_curves.png and report.html; history in \(trainer.runDirectory.appendingPathComponent("history.csv").path)")
    }

    /// `--device a,b,…` or `all-gpus`: the devices to split each batch over in this
    /// process; nil for one device.
    private func severalDevices(_ environment: RuntimeEnvironment) throws -> [DeviceSelector]? {
        guard let text = deviceOption.device ?? environment.variables["LUMEN_DEVICE"] else { return nil }
        if text == "all-gpus" {
            let gpus = try DeviceInfo.all().filter { $0.kind != .cpu }
            guard !gpus.isEmpty else { fail("--device all-gpus: this machine has no GPU; `lumen devices` lists what it has") }
            return gpus.count > 1 ? gpus.map { DeviceSelector(String($0.index)) } : nil
        }
        let parts = text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        return parts.count > 1 ? parts.map(DeviceSelector.init) : nil
    }

    /// Each unusable image a rank's loaders find is named once, as it is found.
    private func nameBadFiles(of trainer: Trainer) {
        trainer.training.imageLoader?.badFile = { warn("skipped \($0)") }
        trainer.validation?.imageLoader?.badFile = { warn("skipped \($0)") }
    }

    /// Data-parallel training over several devices of this process: one thread per
    /// device, each a rank with its share of every global batch, summing gradients in
    /// memory with the same code MPI ranks use. Rank 0 prints and writes.
    private func trainOnSeveralDevices(_ config: TrainingConfig, _ selectors: [DeviceSelector], _ environment: RuntimeEnvironment) throws {
        let groups = ProcessGroup.threads(selectors.count)
        let reporter = ProgressReporter()
        let notes: @Sendable (String) -> Void = { [weak reporter] in reporter?.message($0) }
        let devices = try selectors.enumerated().map { try environment.open($1, notes: $0 == 0 ? notes : nil) }
        let runs = try zip(groups, devices).map { group, device in
            try TrainingRun(plan: try TrainingPlan(config), device: device,
                            dataParallel: DataParallel(group: group, synchronizesBatchNorm: syncBatchnorm))
        }
        let main = runs[0].trainer
        main.reporter = reporter
        main.detectAnomaly = detectAnomaly
        for line in runs[0].warnings { warn(line) }
        for (rank, device) in devices.enumerated() { print("rank \(rank) of \(devices.count) (in this process): device \(device.info.label)") }
        print("data: \(runs[0].dataSummary); global batch \(runs[0].plan.batchSize) over \(devices.count) devices")
        for (rank, run) in runs.enumerated() {
            run.trainer.detectAnomaly = detectAnomaly
            nameBadFiles(of: run.trainer)
            if resume, let (epoch, step) = try run.trainer.resumeIfPossible(), rank == 0 {
                print("resuming \(run.trainer.resumeURL.path) at epoch \(epoch + 1), step \(step)")
            }
        }
        let interrupt = InterruptHandler { for run in runs { run.trainer.requestStop() } }
        defer { withExtendedLifetime(interrupt) {} }
        let finished = DispatchGroup()
        let stops = StopBox()
        for (rank, run) in runs.enumerated() {
            finished.enter()
            let thread = Thread {
                defer { finished.leave() }
                do {
                    try run.trainer.fit(epochs: run.epochs)
                } catch let stop as TrainingStop {
                    // A stop every rank meets at the same step: rank 0 tells. One rank's own (its
                    // device failed or ran out of memory): the others wait for it in the next
                    // collective, so stop the process.
                    guard stop.metByEveryRank else { fail("rank \(rank) of \(runs.count): \(stop.description)") }
                    if rank == 0 { stops.set(stop) }
                } catch {
                    // Other ranks would wait for this one forever: stop the process.
                    fail("rank \(rank) of \(runs.count): \((error as? LumenError)?.description ?? (error as? CLError)?.description ?? "\(error)")")
                }
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        finished.wait()
        if let stop = stops.value { fail(stop.description) }
        try writeReport(main, run: runs[0])
    }

    /// Resumes when asked (every rank reads the same resumable checkpoint), then fits;
    /// Ctrl-C stops after the current step with a resumable checkpoint.
    private func resumeAndFit(_ trainer: Trainer, run: TrainingRun, quiet: Bool) throws {
        if resume, let (epoch, step) = try trainer.resumeIfPossible() {
            if !quiet { print("resuming \(trainer.resumeURL.path) at epoch \(epoch + 1), step \(step)") }
        } else if !resume, !quiet, FileManager.default.fileExists(atPath: trainer.resumeURL.path) {
            print("note: \(trainer.runDirectory.path) holds an earlier run; starting fresh (use --resume to continue it)")
        }
        let interrupt = InterruptHandler { [weak trainer] in trainer?.requestStop() }
        defer { withExtendedLifetime(interrupt) {} }
        do {
            try trainer.fit(epochs: run.epochs)
        } catch let stop as TrainingStop {
            fail(stop.description)
        }
    }
}

/// The stop rank 0 met, handed from its thread to the main one.
private final class StopBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stop: TrainingStop?
    func set(_ value: TrainingStop) { lock.lock(); stop = value; lock.unlock() }
    var value: TrainingStop? { lock.lock(); defer { lock.unlock() }; return stop }
}
