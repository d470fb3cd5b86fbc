import Foundation

/// Everything `lumen train` sets up from a `TrainingPlan`: data, model, optimizer, loss,
/// callbacks and the `Trainer`. Images and bottleneck features differ only in how the
/// data and the model are prepared; the rest is built once, the same way for both.
public struct TrainingRun {
    public let trainer: Trainer
    public let plan: TrainingPlan
    public var epochs: Int { plan.epochs }
    /// The image folders, when training on images.
    public let trainingFolder: ImageFolder?
    public let validationFolder: ImageFolder?
    public let classWeights: [Float]?
    /// Lines to show the user about the data.
    public let dataSummary: String
    public let warnings: [String]

    /// Resolves `config` into a plan and builds the run.
    public init(config: TrainingConfig, device: Device) throws {
        try self.init(plan: TrainingPlan(config), device: device)
    }

    /// With `dataParallel`, this process trains on its share of every global batch of
    /// `plan.batchSize` and validates on its share of the validation batches.
    public init(plan: TrainingPlan, device: Device, dataParallel: DataParallel? = nil) throws {
        let data: PreparedData
        switch plan.source {
        case .images(let folder, let validation):
            data = try PreparedData(images: folder, validation: validation, plan: plan, device: device,
                                    shard: dataParallel.map { ($0.group.rank, $0.group.size) })
        case .features(let file, let validation):
            if let dataParallel, dataParallel.group.size > 1 {
                throw LumenError.invalidTraining("training on bottleneck features runs in one process; start it without mpirun (\(dataParallel.group.size) processes)")
            }
            data = try PreparedData(features: file, validation: validation, plan: plan, device: device)
        }
        let classWeights = try plan.classWeight?.weights(classes: data.classes, counts: data.classCounts)
        let loss = Loss(data.model.defaultLoss, labelSmoothing: plan.labelSmoothing, classWeights: classWeights)
        let training = plan.stepsPerEpoch.map { StepsPerEpoch(data.training, steps: $0) } ?? data.training
        let validation = data.validation.map { source in plan.validationSteps.map { StepsPerEpoch(source, steps: $0) } ?? source }
        trainer = try Trainer(model: data.model, optimizer: plan.makeOptimizer(), loss: loss, training: training,
                              validation: validation, callbacks: try plan.makeCallbacks(hasValidation: data.validation != nil),
                              runDirectory: plan.out, classes: data.classes, preprocessing: data.preprocessing)
        trainer.dataParallel = dataParallel
        trainer.configuration = data.configuration.merging([
            "model": plan.model, "optimizer": plan.optimizer.rawValue, "learning_rate": String(plan.learningRate),
            "batch_size": String(plan.batchSize), "seed": String(plan.seed), "epochs": String(plan.epochs),
        ]) { _, common in common }
        self.plan = plan
        self.classWeights = classWeights
        trainingFolder = data.trainingFolder
        validationFolder = data.validationFolder
        dataSummary = data.summary
        warnings = data.warnings
    }
}

/// The part of a run that depends on what it trains on: the model built for the data,
/// the batch sources, and how to describe them.
private struct PreparedData {
    var model: Model
    var classes: [String]
    var classCounts: [Int]
    var training: BatchSource
    var validation: BatchSource?
    var preprocessing: Preprocessing
    var configuration: [String: String]
    var summary: String
    var warnings: [String]
    var trainingFolder: ImageFolder?
    var validationFolder: ImageFolder?

    /// A model trained on image folders.
    init(images data: String, validation val: String?, plan: TrainingPlan, device: Device,
         shard: (rank: Int, count: Int)? = nil) throws {
        var training = try ImageFolder(root: URL(fileURLWithPath: data))
        var validation: ImageFolder?
        if let val {
            validation = try ImageFolder(root: URL(fileURLWithPath: val), classes: training.classes)
        } else if let split = plan.validationSplit {
            (training, validation) = try training.split(validation: split)
        }
        let classes = training.classes
        let reference = try ModelReference(plan.model)
        var defaults = (size: 150, channels: 3)
        if case .builtin(let builtin, _) = reference { defaults = builtin.defaultInput }
        let channels = plan.color.map { $0 == "grayscale" ? 1 : 3 } ?? defaults.channels
        if let replaceHead = plan.replaceHead, replaceHead != classes.count {
            throw LumenError.invalidModelSpec("--replace-head \(replaceHead) but \(data) has \(classes.count) classes \(classes)")
        }
        // The Lumen checkpoint the run starts from (as --model, read once for its spec and
        // weights, or as --init), if any: its preprocessing is the run's default below.
        var starting: Checkpoint?
        if case .checkpoint(let url) = reference { starting = try Checkpoint(contentsOf: url) }
        var spec = try starting?.spec ?? reference.spec(classes: classes.count, inputSize: plan.inputSize ?? defaults.size, channels: channels)
        // A file (checkpoint, Keras model, spec) brings its own classifier: --replace-head sizes a new one.
        if plan.replaceHead != nil, reference.bringsItsClassifier { spec = try spec.replacingHead(classes: classes.count) }
        model = try PreparedData.model(spec, classes: classes, of: data, plan: plan, device: device)
        if case .checkpoint(let url) = reference, let starting {
            try PretrainedWeights.load(starting.tensors, source: "checkpoint \(url.path)", into: model, replaceHead: plan.replaceHead)
        }
        if let pretrained = plan.pretrained {
            try PretrainedWeights.load(URL(fileURLWithPath: pretrained), into: model, replaceHead: plan.replaceHead)
        }
        if let initFrom = plan.initFrom, initFrom != plan.model {
            let checkpoint = try Checkpoint(contentsOf: URL(fileURLWithPath: initFrom))
            try PretrainedWeights.load(checkpoint.tensors, source: "checkpoint \(initFrom)", into: model, replaceHead: plan.replaceHead)
            starting = checkpoint
        }
        if let last = plan.trainableLast { try model.setTrainable(last: last) }
        if let name = plan.freezeUntil { try model.freeze(until: name) }

        switch plan.preprocessing {
        case nil:
            // The inputs the starting checkpoint's weights were trained on; else each built-in
            // architecture's own (ImageNet's mean and std for torchvision's); else x/255.
            if let starting {
                preprocessing = starting.preprocessing
            } else if case .builtin(let builtin, _) = reference {
                preprocessing = builtin.defaultPreprocessing
            } else {
                preprocessing = .rescale
            }
        case "rescale": preprocessing = .rescale
        case "tf": preprocessing = .tf
        case let other?: throw LumenError.invalidModelSpec("preprocessing must be rescale or tf, got '\(other)'")
        }
        for (name, values) in [("mean", plan.mean), ("std", plan.std)] {
            if let values, values.count != spec.inputShape[2] {
                throw LumenError.invalidModelSpec("\(name) has \(values.count) values for \(spec.inputShape[2]) channels")
            }
        }
        if let std = plan.std, std.contains(where: { !($0 > 0) }) {
            throw LumenError.invalidModelSpec("std values must be positive, got \(std)")
        }
        if let mean = plan.mean { preprocessing.mean = mean }
        if let std = plan.std { preprocessing.std = std }
        var options = LoaderOptions(height: spec.inputShape[0], width: spec.inputShape[1], channels: spec.inputShape[2])
        options.interpolation = plan.interpolation
        options.preprocessing = preprocessing
        options.batchSize = plan.batchSize
        options.seed = plan.seed
        options.strict = plan.strict
        if let workers = plan.workers { options.workers = workers }
        if let shard, shard.count > 1 {
            options.shard = (shard.rank, shard.count)
            // A last batch smaller than the number of processes would leave one without samples.
            if training.samples.count % plan.batchSize != 0 && training.samples.count % plan.batchSize < shard.count {
                options.keepPartialBatch = false
            }
            guard plan.batchSize >= shard.count else {
                throw LumenError.invalidTraining("--batch-size \(plan.batchSize) is the global batch; it must be at least the \(shard.count) processes")
            }
        }
        var trainOptions = options
        trainOptions.augmentation = plan.augmentation
        self.training = try BatchLoader(folder: training, options: trainOptions)
        var validationOptions = options
        validationOptions.shuffle = false
        self.validation = try validation.map { try BatchLoader(folder: $0, options: validationOptions) }
        self.classes = classes
        classCounts = training.classCounts
        configuration = ["data": data]
        summary = "\(training.samples.count) training images in \(classes.count) classes \(classes)"
            + (validation.map { ", \($0.samples.count) validation images" } ?? ", no validation")
        warnings = training.warnings + (validation?.warnings ?? [])
        trainingFolder = training
        validationFolder = validation
    }

    /// A head trained on bottleneck features (`lumen extract-features`).
    init(features path: String, validation val: String?, plan: TrainingPlan, device: Device) throws {
        var training = try FeatureFile(contentsOf: URL(fileURLWithPath: path))
        var validation: FeatureFile?
        if let val {
            validation = try FeatureFile(contentsOf: URL(fileURLWithPath: val))
            guard validation!.classes == training.classes, validation!.sampleShape == training.sampleShape else {
                throw LumenError.invalidModelSpec("\(val) was extracted with other classes or another base than \(path)")
            }
        } else if let split = plan.validationSplit {
            (training, validation) = try training.split(validation: split)
        }
        // The head's input is the features' shape, whatever its spec file says.
        let classes = training.classes
        var spec = try ModelReference(plan.model).spec(classes: classes.count, inputSize: nil, channels: nil)
        let shape = training.sampleShape
        guard shape.count == 3 else { throw LumenError.invalidModelSpec("features of shape \(shape) are not [C, H, W]") }
        spec.inputShape = [shape[1], shape[2], shape[0]]
        spec = try spec.prefixingLayerNames("head_")
        model = try PreparedData.model(spec, classes: classes, of: path, plan: plan, device: device)
        var counts = [Int](repeating: 0, count: classes.count)
        for label in training.labels { counts[label] += 1 }
        self.classes = classes
        classCounts = counts
        self.training = FeatureSource(training, batchSize: plan.batchSize, seed: plan.seed, shuffle: true)
        self.validation = validation.map { FeatureSource($0, batchSize: plan.batchSize, seed: plan.seed, shuffle: false) }
        preprocessing = training.preprocessing
        configuration = ["features": path, "base": training.base.name]
        summary = "\(training.labels.count) training feature maps \(shape) from \(training.base.name) in \(classes.count) classes \(classes)"
            + (validation.map { ", \($0.labels.count) for validation" } ?? ", no validation")
        warnings = []
        trainingFolder = nil
        validationFolder = nil
    }

    /// The model for `spec`, checked to have an output per class (or one sigmoid for two).
    private static func model(_ spec: ModelSpec, classes: [String], of data: String, plan: TrainingPlan,
                              device: Device) throws -> Model {
        let model = try Model(spec: spec, device: device, seed: plan.seed)
        guard model.outputCount == classes.count || (model.outputCount == 1 && classes.count == 2) else {
            throw LumenError.invalidModelSpec("the model has \(model.outputCount) outputs but \(data) has \(classes.count) classes \(classes); "
                + "--replace-head \(classes.count) trains a new classifier for them")
        }
        return model
    }
}
