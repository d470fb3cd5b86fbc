import Foundation

/// Everything `lumen train` sets up from a resolved `TrainingConfig`: data, model,
/// optimizer, loss, callbacks and the `Trainer`.
public struct TrainingRun {
    public let trainer: Trainer
    public let epochs: Int
    /// The image folders, when training on images.
    public let trainingFolder: ImageFolder?
    public let validationFolder: ImageFolder?
    public let classWeights: [Float]?
    /// Lines to show the user about the data.
    public let dataSummary: String
    public let warnings: [String]

    /// Builds the run. `config.data` (or `config.features`), `config.model` and
    /// `config.out` must be set.
    public init(config: TrainingConfig, device: Device) throws {
        if config.features != nil {
            self = try TrainingRun(featuresConfig: config, device: device)
        } else {
            self = try TrainingRun(imagesConfig: config, device: device)
        }
    }

    /// A model trained on image folders.
    private init(imagesConfig config: TrainingConfig, device: Device) throws {
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
        if let replaceHead = config.replaceHead, replaceHead != classes.count {
            throw LumenError.invalidModelSpec("--replace-head \(replaceHead) but \(data) has \(classes.count) classes \(classes)")
        }
        let spec = try reference.spec(classes: classes.count, inputSize: config.inputSize ?? defaults.size, channels: channels)
        let seed = config.seed ?? 0
        let model = try Sequential(spec: spec, device: device, seed: seed)
        guard model.outputCount == classes.count || (model.outputCount == 1 && classes.count == 2) else {
            throw LumenError.invalidModelSpec("the model has \(model.outputCount) outputs but \(data) has \(classes.count) classes \(classes)")
        }
        if case .checkpoint(let url) = reference {
            try Checkpoint.load(try Checkpoint(contentsOf: url).tensors, into: model, source: "checkpoint \(url.path)")
        }
        if let pretrained = config.pretrained {
            try PretrainedWeights.load(URL(fileURLWithPath: pretrained), into: model, replaceHead: config.replaceHead)
        }
        if let initFrom = config.initFrom, initFrom != modelName {
            try Checkpoint.load(try Checkpoint(contentsOf: URL(fileURLWithPath: initFrom)).tensors, into: model,
                                source: "checkpoint \(initFrom)")
        }
        if let last = config.trainableLast { try model.setTrainable(last: last) }
        if let name = config.freezeUntil { try model.freeze(until: name) }

        var preprocessing: Preprocessing
        switch config.preprocessing {
        case nil:
            // Each built-in architecture's own (ImageNet's mean and std for torchvision's).
            if case .builtin(let builtin) = reference { preprocessing = builtin.defaultPreprocessing } else { preprocessing = .rescale }
        case "rescale": preprocessing = .rescale
        case "tf": preprocessing = .tf
        case let other?: throw LumenError.invalidModelSpec("preprocessing must be rescale or tf, got '\(other)'")
        }
        for (name, values) in [("mean", config.mean), ("std", config.std)] {
            if let values, values.count != spec.inputShape[2] {
                throw LumenError.invalidModelSpec("\(name) has \(values.count) values for \(spec.inputShape[2]) channels")
            }
        }
        if let std = config.std, std.contains(where: { !($0 > 0) }) {
            throw LumenError.invalidModelSpec("std values must be positive, got \(std)")
        }
        if let mean = config.mean { preprocessing.mean = mean }
        if let std = config.std { preprocessing.std = std }
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
        dataSummary = "\(training.samples.count) training images in \(classes.count) classes \(classes)"
            + (validation.map { ", \($0.samples.count) validation images" } ?? ", no validation")
        warnings = training.warnings + (validation?.warnings ?? [])
    }

    /// A head trained on bottleneck features (`lumen extract-features`).
    private init(featuresConfig config: TrainingConfig, device: Device) throws {
        guard let out = config.out else { throw LumenError.invalidModelSpec("no run folder: pass --out RUN_DIR or set out: in the config") }
        guard let modelPath = config.model, FileManager.default.fileExists(atPath: modelPath) else {
            throw LumenError.invalidModelSpec("training on features needs --model HEAD.yaml, a spec of the head")
        }
        var training = try FeatureFile(contentsOf: URL(fileURLWithPath: config.features!))
        var validation: FeatureFile?
        if let val = config.valFeatures {
            validation = try FeatureFile(contentsOf: URL(fileURLWithPath: val))
            guard validation!.classes == training.classes, validation!.sampleShape == training.sampleShape else {
                throw LumenError.invalidModelSpec("\(val) was extracted with other classes or another base than \(config.features!)")
            }
        } else if let split = config.validationSplit {
            let parts = try training.split(validation: split)
            training = parts.training
            validation = parts.validation
        }
        // The head's input is the features' shape, whatever its spec file says.
        var spec = try ModelReference(modelPath).spec(classes: training.classes.count, inputSize: nil, channels: nil)
        let shape = training.sampleShape
        guard shape.count == 3 else { throw LumenError.invalidModelSpec("features of shape \(shape) are not [C, H, W]") }
        spec.inputShape = [shape[1], shape[2], shape[0]]
        spec = try spec.prefixingLayerNames("head_")
        let seed = config.seed ?? 0
        let model = try Sequential(spec: spec, device: device, seed: seed)
        let classes = training.classes
        guard model.outputCount == classes.count || (model.outputCount == 1 && classes.count == 2) else {
            throw LumenError.invalidModelSpec("the head has \(model.outputCount) outputs but the features have \(classes.count) classes")
        }
        let batchSize = config.batchSize ?? 32
        var counts = [Int](repeating: 0, count: classes.count)
        for label in training.labels { counts[label] += 1 }
        let classWeights = try config.classWeight?.weights(classes: classes, counts: counts)
        let loss = Loss(model.defaultLoss, labelSmoothing: config.labelSmoothing ?? 0, classWeights: classWeights)
        let lr = config.learningRate ?? 1e-3
        let optimizer: Optimizer = (config.optimizer ?? "adam").lowercased() == "sgd"
            ? SGD(learningRate: lr, momentum: config.momentum ?? 0, nesterov: config.nesterov ?? false, weightDecay: config.weightDecay ?? 0)
            : Adam(learningRate: lr, weightDecay: config.weightDecay ?? ((config.optimizer ?? "").lowercased() == "adamw" ? 0.004 : 0))
        let runDirectory = URL(fileURLWithPath: out, isDirectory: true)
        let monitor = validation == nil ? "loss" : "val_loss"
        var settings = config.callbacks ?? CallbackSettings()
        if settings.modelCheckpoint == nil {
            settings.modelCheckpoint = .init(filepath: "best.safetensors", monitor: monitor, mode: nil, saveBestOnly: true)
        }
        trainer = try Trainer(model: model, optimizer: optimizer, loss: loss,
                              training: FeatureSource(training, batchSize: batchSize, seed: seed, shuffle: true),
                              validation: validation.map { FeatureSource($0, batchSize: batchSize, seed: seed, shuffle: false) },
                              callbacks: try settings.make(runDirectory: runDirectory, defaultMonitor: monitor),
                              runDirectory: runDirectory, classes: classes, preprocessing: training.preprocessing)
        trainer.configuration = ["model": modelPath, "features": config.features!, "base": training.base.name,
                                 "optimizer": config.optimizer ?? "adam", "learning_rate": String(lr),
                                 "batch_size": String(batchSize), "seed": String(seed), "epochs": String(config.epochs ?? 10)]
        epochs = config.epochs ?? 10
        trainingFolder = nil
        validationFolder = nil
        self.classWeights = classWeights
        dataSummary = "\(training.labels.count) training feature maps \(shape) from \(training.base.name) in \(classes.count) classes \(classes)"
            + (validation.map { ", \($0.labels.count) for validation" } ?? ", no validation")
        warnings = []
    }
}
