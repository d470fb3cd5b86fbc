import Foundation

/// A training run's settings resolved once: every setting has its value, its default
/// given here and nowhere else, and is checked here, whether it came from a flag or a
/// config file. Both kinds of run (images, bottleneck features) are built from it.
public struct TrainingPlan {
    /// The optimizers `lumen train` offers.
    public enum OptimizerKind: String, CaseIterable, Sendable {
        case adam, adamw, sgd
    }

    /// What the model trains on.
    public enum Source {
        /// Image folders: a training folder, and a validation folder or a split of it.
        case images(data: String, validation: String?)
        /// Bottleneck features from `lumen extract-features`.
        case features(String, validation: String?)
    }

    public var source: Source
    public var validationSplit: Double?
    /// A built-in name, a spec file or a checkpoint (for features: the head's spec).
    public var model: String
    public var out: URL
    public var epochs = 10
    /// Batches per epoch (Keras' steps_per_epoch), when not one pass over the data.
    public var stepsPerEpoch: Int?
    /// Validation batches per epoch (Keras' validation_steps), when not the whole set.
    public var validationSteps: Int?
    public var batchSize = 32
    public var learningRate: Float = 1e-3
    public var optimizer = OptimizerKind.adam
    public var momentum: Float = 0
    public var nesterov = false
    /// Decoupled weight decay: Keras' 0.004 for AdamW, else none.
    public var weightDecay: Float
    public var seed: UInt64 = 0
    public var labelSmoothing: Float = 0
    public var classWeight: ClassWeightSetting?
    public var callbacks: CallbackSettings
    // Images only.
    public var inputSize: Int?
    public var color: String?
    public var interpolation = Interpolation.nearest
    public var preprocessing: String?
    public var mean: [Float]?
    public var std: [Float]?
    public var augmentation: Augmentation?
    public var strict = false
    public var workers: Int?
    // Transfer learning.
    public var initFrom: String?
    public var trainableLast: Int?
    public var freezeUntil: String?
    public var pretrained: String?
    public var replaceHead: Int?

    /// Resolves `config` (a config file with flags applied), naming the first setting that
    /// is missing or out of range by its flag and its config key.
    public init(_ config: TrainingConfig) throws {
        func invalid(_ what: String) -> LumenError { LumenError.invalidTraining(what) }
        guard let out = config.out else { throw invalid("no run folder: pass --out RUN_DIR or set out: in the config") }
        if let features = config.features {
            guard let head = config.model, FileManager.default.fileExists(atPath: head) else {
                throw invalid("training on features needs --model HEAD.yaml, a spec of the head")
            }
            source = .features(features, validation: config.valFeatures)
            model = head
        } else {
            guard let data = config.data else { throw invalid("no training data: pass --data DIR or set data: in the config") }
            source = .images(data: data, validation: config.val)
            model = config.model ?? config.initFrom ?? "xray-cnn"
        }
        self.out = URL(fileURLWithPath: out, isDirectory: true)
        if let epochs = config.epochs {
            guard epochs >= 1 else { throw invalid("--epochs (epochs) must be at least 1, got \(epochs)") }
            self.epochs = epochs
        }
        for (value, flag, key) in [(config.stepsPerEpoch, "--steps-per-epoch", "steps_per_epoch"),
                                   (config.validationSteps, "--validation-steps", "validation_steps")] {
            if let value, value < 1 { throw invalid("\(flag) (\(key)) must be at least 1, got \(value)") }
        }
        stepsPerEpoch = config.stepsPerEpoch
        validationSteps = config.validationSteps
        if let batchSize = config.batchSize {
            guard batchSize >= 1 else { throw invalid("--batch-size (batch_size) must be at least 1, got \(batchSize)") }
            self.batchSize = batchSize
        }
        if let rate = config.learningRate {
            guard rate > 0, rate.isFinite else { throw invalid("--lr (learning_rate) must be a positive number, got \(rate)") }
            learningRate = rate
        }
        if let split = config.validationSplit {
            guard split > 0, split < 1 else { throw invalid("--validation-split (validation_split) must be between 0 and 1, got \(split)") }
            guard config.val == nil, config.valFeatures == nil else { throw invalid("use either a validation folder or --validation-split, not both") }
        }
        validationSplit = config.validationSplit
        if let name = config.optimizer {
            guard let kind = OptimizerKind(rawValue: name.lowercased()) else {
                throw invalid("--optimizer (optimizer) must be adam, adamw or sgd, got '\(name)'")
            }
            optimizer = kind
        }
        momentum = config.momentum ?? 0
        nesterov = config.nesterov ?? false
        weightDecay = config.weightDecay ?? (optimizer == .adamw ? 0.004 : 0)
        seed = config.seed ?? 0
        labelSmoothing = config.labelSmoothing ?? 0
        classWeight = config.classWeight
        callbacks = config.callbacks ?? CallbackSettings()
        inputSize = config.inputSize
        color = config.color
        interpolation = config.interpolation ?? .nearest
        preprocessing = config.preprocessing
        mean = config.mean
        std = config.std
        augmentation = config.augmentation.flatMap { $0.isIdentity ? nil : $0 }
        strict = config.strict ?? false
        if let workers = config.workers {
            guard workers >= 1 else { throw invalid("--workers (workers) must be at least 1, got \(workers)") }
        }
        workers = config.workers
        initFrom = config.initFrom
        if let last = config.trainableLast, last < 0 {
            throw invalid("--trainable-last (trainable_last) must not be negative, got \(last)")
        }
        if config.trainableLast != nil && config.freezeUntil != nil {
            throw invalid("use either --trainable-last or --freeze-until, not both")
        }
        trainableLast = config.trainableLast
        freezeUntil = config.freezeUntil
        pretrained = config.pretrained
        replaceHead = config.replaceHead
    }

    /// The optimizer the plan names, with its settings.
    public func makeOptimizer() -> Optimizer {
        switch optimizer {
        case .adam, .adamw: return Adam(learningRate: learningRate, weightDecay: weightDecay)
        case .sgd: return SGD(learningRate: learningRate, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        }
    }

    /// The callbacks, with a ModelCheckpoint writing best.safetensors when the config names
    /// none (users always add one), watching `val_loss` with validation and `loss` without.
    func makeCallbacks(hasValidation: Bool) throws -> [Callback] {
        let monitor = hasValidation ? "val_loss" : "loss"
        var settings = callbacks
        if settings.modelCheckpoint == nil {
            settings.modelCheckpoint = .init(filepath: "best.safetensors", monitor: monitor, mode: nil, saveBestOnly: true)
        }
        return try settings.make(runDirectory: out, defaultMonitor: monitor)
    }
}
