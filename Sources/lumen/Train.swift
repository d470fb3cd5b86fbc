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
    @Option(help: "Train a fresh classifier for this many classes instead of the pretrained one.") var replaceHead: Int?
    @Option(help: "Train a head on bottleneck features from `lumen extract-features` instead of images.") var features: String?
    @Option(help: "Validation features from `lumen extract-features`.") var valFeatures: String?
    @Flag(help: "Continue from RUN_DIR/last.safetensors when it exists.") var resume = false
    @Flag(help: "Stop at the first unreadable image instead of skipping it.") var strict = false
    @Flag(help: "On a NaN or infinite loss, name the first layer where it appeared; check gradients every step.") var detectAnomaly = false
    @OptionGroup var deviceOption: DeviceOption
    @OptionGroup var image: ImageOptions
    @OptionGroup var augmentationOptions: AugmentationOptions

    func validate() throws {
        if let epochs, epochs <= 0 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let batchSize, batchSize <= 0 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let lr, !(lr > 0) { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if let validationSplit, !(validationSplit > 0 && validationSplit < 1) {
            throw ValidationError("--validation-split must be between 0 and 1, got \(validationSplit)")
        }
        if validationSplit != nil && val != nil { throw ValidationError("use either --val or --validation-split, not both") }
        if let workers, workers <= 0 { throw ValidationError("--workers must be at least 1, got \(workers)") }
        if let trainableLast, trainableLast < 0 { throw ValidationError("--trainable-last must not be negative, got \(trainableLast)") }
        if trainableLast != nil && freezeUntil != nil { throw ValidationError("use either --trainable-last or --freeze-until, not both") }
        if let initFrom, !FileManager.default.fileExists(atPath: initFrom) { throw ValidationError("--init: no checkpoint at \(initFrom)") }
        if let model, BuiltinModel(rawValue: model) == nil, !FileManager.default.fileExists(atPath: model) {
            throw ValidationError("--model '\(model)' is not a built-in architecture (\(BuiltinModel.allCases.map(\.rawValue).joined(separator: ", "))) or an existing file")
        }
    }

    /// The config file with every given flag applied on top.
    func resolvedConfig() throws -> TrainingConfig {
        var c = try config.map { try TrainingConfig.load(URL(fileURLWithPath: $0)) } ?? TrainingConfig()
        if let data { c.data = data }
        if let val { c.val = val }
        if let validationSplit { c.validationSplit = validationSplit }
        if let model { c.model = model }
        if let epochs { c.epochs = epochs }
        if let batchSize { c.batchSize = batchSize }
        if let lr { c.learningRate = lr }
        if let optimizer { c.optimizer = optimizer }
        if let momentum { c.momentum = momentum }
        if let weightDecay { c.weightDecay = weightDecay }
        if let seed { c.seed = seed }
        if let out { c.out = out }
        if let classWeight { c.classWeight = try ClassWeightSetting(flag: classWeight) }
        if let labelSmoothing { c.labelSmoothing = labelSmoothing }
        if let preprocessing { c.preprocessing = preprocessing }
        if let workers { c.workers = workers }
        if let size = image.inputSize { c.inputSize = size }
        if let color = image.color { c.color = color.rawValue }
        if image.interpolation != .nearest { c.interpolation = image.interpolation }
        if strict { c.strict = true }
        if let initFrom { c.initFrom = initFrom }
        if let trainableLast { c.trainableLast = trainableLast }
        if let freezeUntil { c.freezeUntil = freezeUntil }
        if let features { c.features = features }
        if let pretrained { c.pretrained = pretrained }
        if let replaceHead { c.replaceHead = replaceHead }
        if let valFeatures { c.valFeatures = valFeatures }
        c.augmentation = try augmentationOptions.augmentation(base: c.augmentation)
        var callbacks = c.callbacks ?? CallbackSettings()
        if checkpointPath != nil || saveEveryEpoch || monitor != nil {
            var checkpoint = callbacks.modelCheckpoint ?? .init(filepath: nil, monitor: nil, mode: nil, saveBestOnly: true)
            if let checkpointPath { checkpoint.filepath = checkpointPath }
            if saveEveryEpoch { checkpoint.saveBestOnly = false }
            if let monitor { checkpoint.monitor = monitor }
            callbacks.modelCheckpoint = checkpoint
        }
        if reduceLrPatience != nil || reduceLrFactor != nil || minLr != nil {
            var reduce = callbacks.reduceLROnPlateau ?? .init()
            if let reduceLrPatience { reduce.patience = reduceLrPatience }
            if let reduceLrFactor { reduce.factor = reduceLrFactor }
            if let minLr { reduce.minLR = minLr }
            if let monitor { reduce.monitor = monitor }
            callbacks.reduceLROnPlateau = reduce
        }
        if earlyStoppingPatience != nil || restoreBestWeights {
            var stopping = callbacks.earlyStopping ?? .init()
            if let earlyStoppingPatience { stopping.patience = earlyStoppingPatience }
            if restoreBestWeights { stopping.restoreBestWeights = true }
            if let monitor { stopping.monitor = monitor }
            callbacks.earlyStopping = stopping
        }
        c.callbacks = callbacks
        return c
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
            let reporter = ProgressReporter()
            let device = try deviceOption.open { [weak reporter] in reporter?.message($0) }
            let run = try TrainingRun(config: config, device: device)
            let trainer = run.trainer
            trainer.reporter = reporter
            trainer.detectAnomaly = detectAnomaly
            for line in run.warnings { warn(line) }
            (trainer.training as? BatchLoader)?.badFile = { warn("skipped \($0)") }
            (trainer.validation as? BatchLoader)?.badFile = { warn("skipped \($0)") }
            print("device: \(device.info.label)")
            print("data: \(run.dataSummary)")
            if let weights = run.classWeights {
                print("class weights: " + zip(trainer.classes, weights).map { "\($0)=\(String(format: "%.3f", $1))" }.joined(separator: ", "))
            }
            if resume, let (epoch, step) = try trainer.resumeIfPossible() {
                print("resuming \(trainer.resumeURL.path) at epoch \(epoch + 1), step \(step)")
            } else if !resume, FileManager.default.fileExists(atPath: trainer.resumeURL.path) {
                print("note: \(trainer.runDirectory.path) holds an earlier run; starting fresh (use --resume to continue it)")
            }
            let interrupt = InterruptHandler { [weak trainer] in trainer?.requestStop() }
            defer { withExtendedLifetime(interrupt) {} }
            do {
                try trainer.fit(epochs: run.epochs)
            } catch let stop as TrainingStop {
                fail(stop.description)
            }
            try AtomicFile.write(try Charts.trainingCurves(trainer.history),
                                 to: trainer.runDirectory.appendingPathComponent("training_curves.png"))
            let reportURL = trainer.runDirectory.appendingPathComponent("report.html")
            var evaluation: Evaluation?
            if let validation = run.validationFolder {
                evaluation = try Evaluation.run(model: trainer.model, classes: trainer.classes, preprocessing: trainer.preprocessing,
                                                folder: validation, batchSize: config.batchSize ?? 32)
            }
            try EvaluationFiles.writeReport(checkpoint: try Checkpoint(contentsOf: trainer.finalURL), checkpointURL: trainer.finalURL,
                                            model: trainer.model, evaluation: evaluation, history: trainer.history, to: reportURL)
            print("saved \(trainer.finalURL.path), training_curves.png and report.html; history in \(trainer.runDirectory.appendingPathComponent("history.csv").path)")
        }
    }
}
