/// The `lumen train` flags that set callbacks rather than a config key of their own.
public struct CallbackFlags: Equatable {
    public var monitor: String?
    public var checkpointPath: String?
    public var saveEveryEpoch = false
    public var reduceLrPatience: Int?
    public var reduceLrFactor: Double?
    public var minLr: Double?
    public var earlyStoppingPatience: Int?
    public var restoreBestWeights = false

    public init() {}
}

extension TrainingConfig {
    /// This config (a `--config` file) with every setting `flags` gives taking precedence,
    /// then the callback flags applied: a checkpoint flag edits (or adds) the
    /// ModelCheckpoint, a ReduceLROnPlateau or EarlyStopping flag enables that callback,
    /// and `--monitor` sets what each of those watches.
    public func overridden(by flags: TrainingConfig, callbacks callbackFlags: CallbackFlags) -> TrainingConfig {
        var c = self
        c.data = flags.data ?? data
        c.val = flags.val ?? val
        c.validationSplit = flags.validationSplit ?? validationSplit
        c.model = flags.model ?? model
        c.epochs = flags.epochs ?? epochs
        c.stepsPerEpoch = flags.stepsPerEpoch ?? stepsPerEpoch
        c.validationSteps = flags.validationSteps ?? validationSteps
        c.batchSize = flags.batchSize ?? batchSize
        c.learningRate = flags.learningRate ?? learningRate
        c.optimizer = flags.optimizer ?? optimizer
        c.momentum = flags.momentum ?? momentum
        c.nesterov = flags.nesterov ?? nesterov
        c.weightDecay = flags.weightDecay ?? weightDecay
        c.seed = flags.seed ?? seed
        c.out = flags.out ?? out
        c.inputSize = flags.inputSize ?? inputSize
        c.color = flags.color ?? color
        c.interpolation = flags.interpolation ?? interpolation
        c.preprocessing = flags.preprocessing ?? preprocessing
        c.mean = flags.mean ?? mean
        c.std = flags.std ?? std
        c.classWeight = flags.classWeight ?? classWeight
        c.labelSmoothing = flags.labelSmoothing ?? labelSmoothing
        c.augmentation = flags.augmentation ?? augmentation
        c.strict = flags.strict ?? strict
        c.workers = flags.workers ?? workers
        c.initFrom = flags.initFrom ?? initFrom
        c.trainableLast = flags.trainableLast ?? trainableLast
        c.freezeUntil = flags.freezeUntil ?? freezeUntil
        c.pretrained = flags.pretrained ?? pretrained
        c.replaceHead = flags.replaceHead ?? replaceHead
        c.features = flags.features ?? features
        c.valFeatures = flags.valFeatures ?? valFeatures

        let f = callbackFlags
        var settings = flags.callbacks ?? callbacks ?? CallbackSettings()
        if f.checkpointPath != nil || f.saveEveryEpoch || f.monitor != nil {
            var checkpoint = settings.modelCheckpoint ?? .init(filepath: nil, monitor: nil, mode: nil, saveBestOnly: true)
            if let path = f.checkpointPath { checkpoint.filepath = path }
            if f.saveEveryEpoch { checkpoint.saveBestOnly = false }
            if let monitor = f.monitor { checkpoint.monitor = monitor }
            settings.modelCheckpoint = checkpoint
        }
        if f.reduceLrPatience != nil || f.reduceLrFactor != nil || f.minLr != nil {
            var reduce = settings.reduceLROnPlateau ?? .init()
            if let patience = f.reduceLrPatience { reduce.patience = patience }
            if let factor = f.reduceLrFactor { reduce.factor = factor }
            if let minLr = f.minLr { reduce.minLR = minLr }
            if let monitor = f.monitor { reduce.monitor = monitor }
            settings.reduceLROnPlateau = reduce
        }
        if f.earlyStoppingPatience != nil || f.restoreBestWeights {
            var stopping = settings.earlyStopping ?? .init()
            if let patience = f.earlyStoppingPatience { stopping.patience = patience }
            if f.restoreBestWeights { stopping.restoreBestWeights = true }
            if let monitor = f.monitor { stopping.monitor = monitor }
            settings.earlyStopping = stopping
        }
        c.callbacks = settings
        return c
    }
}
