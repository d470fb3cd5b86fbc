import Foundation

/// Everything `lumen train` sets up from a resolved `TrainingConfig`: data, model,
/// optimizer, loss, callbacks and the `Trainer`.
public struct TrainingRun {
    public let trainer: Trainer
    public let epochs: Int
    public let trainingFolder: ImageFolder
    public let validationFolder: ImageFolder?
    public let classWeights: [Float]?

    /// Builds the run. `config.data`, `config.model` and `config.out` must be set.
    public init(config: TrainingConfig, device: Device) throws {
        guard let data = config.data else { throw LumenError.invalidModelSpec("no training data: pass --data DIR or set data: in the config") }
        guard let out = config.out else { throw LumenError.invalidModelSpec("no run folder: pass --out RUN_DIR or set out: in the config") }
        let modelName = config.model ?? config.initFrom ?? "xray-cnn"
        var training = try ImageFolder(root: URL(fileURLWithPath: data))
        var validation: ImageFolder?
        if let val = config.val {
            validation = try ImageFolder(root: URL(fileURLWithPath: val), classes: training.classes)
        } else if let split = config.validationSplit {
            let parts = try training.split(validation: split)
            training = parts.training
            validation = parts.validation
        }
        let classes = training.classes
        let reference = try ModelReference(modelName)
        var defaults = (size: 150, channels: 3)
        if case .builtin(let builtin) = reference { defaults = builtin.defaultInput }
        let channels = config.color.map { $0 == "grayscale" ? 1 : 3 } ?? defaults.channels
        let spec = try reference.spec(classes: classes.count, inputSize: config.inputSize ?? defaults.size, channels: channels)
        let seed = config.seed ?? 0
        let model = try Sequential(spec: spec, device: device, seed: seed)
        guard model.outputCount == classes.count || (model.outputCount == 1 && classes.count == 2) else {
            throw LumenError.invalidModelSpec("the model has \(model.outputCount) outputs but \(data) has \(classes.count) classes \(classes)")
        }
        if case .checkpoint(let url) = reference {
            try Checkpoint.load(try Checkpoint(contentsOf: url).tensors, into: model, source: "checkpoint \(url.path)")
        }
        if let initFrom = config.initFrom, initFrom != modelName {
            try Checkpoint.load(try Checkpoint(contentsOf: URL(fileURLWithPath: initFrom)).tensors, into: model,
                                source: "checkpoint \(initFrom)")
        }
        if let last = config.trainableLast { try model.setTrainable(last: last) }
        if let name = config.freezeUntil { try model.freeze(until: name) }

        var preprocessing: Preprocessing
        switch config.preprocessing ?? "rescale" {
        case "rescale": preprocessing = .rescale
        case "tf": preprocessing = .tf
        case let other: throw LumenError.invalidModelSpec("preprocessing must be rescale or tf, got '\(other)'")
        }
        for (name, values) in [("mean", config.mean), ("std", config.std)] {
            if let values, values.count != spec.inputShape[2] {
                throw LumenError.invalidModelSpec("\(name) has \(values.count) values for \(spec.inputShape[2]) channels")
            }
        }
        if let std = config.std, std.contains(where: { !($0 > 0) }) {
            throw LumenError.invalidModelSpec("std values must be positive, got \(std)")
        }
        preprocessing.mean = config.mean
        preprocessing.std = config.std
        var options = LoaderOptions(height: spec.inputShape[0], width: spec.inputShape[1], channels: spec.inputShape[2])
        options.interpolation = config.interpolation ?? .nearest
        options.preprocessing = preprocessing
        options.batchSize = config.batchSize ?? 32
        options.seed = seed
        options.strict = config.strict ?? false
        if let workers = config.workers { options.workers = workers }
        var trainOptions = options
        trainOptions.augmentation = config.augmentation.flatMap { $0.isIdentity ? nil : $0 }
        let trainLoader = try BatchLoader(folder: training, options: trainOptions)
        var validationOptions = options
        validationOptions.shuffle = false
        let validationLoader = try validation.map { try BatchLoader(folder: $0, options: validationOptions) }

        let classWeights = try config.classWeight?.weights(classes: classes, counts: training.classCounts)
        let loss = Loss(model.defaultLoss, labelSmoothing: config.labelSmoothing ?? 0, classWeights: classWeights)
        let lr = config.learningRate ?? 1e-3
        let optimizer: Optimizer
        switch (config.optimizer ?? "adam").lowercased() {
        case "adam": optimizer = Adam(learningRate: lr, weightDecay: config.weightDecay ?? 0)
        case "adamw": optimizer = Adam(learningRate: lr, weightDecay: config.weightDecay ?? 0.004)
        case "sgd": optimizer = SGD(learningRate: lr, momentum: config.momentum ?? 0, nesterov: config.nesterov ?? false,
                                    weightDecay: config.weightDecay ?? 0)
        case let other: throw LumenError.invalidModelSpec("optimizer must be adam, adamw or sgd, got '\(other)'")
        }
        let runDirectory = URL(fileURLWithPath: out, isDirectory: true)
        let monitor = validation == nil ? "loss" : "val_loss"
        var settings = config.callbacks ?? CallbackSettings()
        if settings.modelCheckpoint == nil {
            settings.modelCheckpoint = .init(filepath: "best.safetensors", monitor: monitor, mode: nil, saveBestOnly: true)
        }
        let callbacks = try settings.make(runDirectory: runDirectory, defaultMonitor: monitor)
        trainer = try Trainer(model: model, optimizer: optimizer, loss: loss, training: trainLoader, validation: validationLoader,
                              callbacks: callbacks, runDirectory: runDirectory, classes: classes, preprocessing: preprocessing)
        trainer.configuration = ["model": modelName, "data": data, "optimizer": config.optimizer ?? "adam",
                                 "learning_rate": String(lr), "batch_size": String(options.batchSize),
                                 "seed": String(seed), "epochs": String(config.epochs ?? 10)]
        epochs = config.epochs ?? 10
        trainingFolder = training
        validationFolder = validation
        self.classWeights = classWeights
    }
}
