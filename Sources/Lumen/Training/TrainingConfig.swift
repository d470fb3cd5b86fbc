import Foundation

/// A training run's settings, as a YAML or JSON `--config` file gives them, with Keras'
/// names. `lumen train` flags override the file.
public struct TrainingConfig: Codable, Equatable {
    public var data: String?
    public var val: String?
    public var validationSplit: Double?
    public var model: String?
    public var epochs: Int?
    /// Keras' steps_per_epoch: batches per epoch, continuing through the data across epochs.
    public var stepsPerEpoch: Int?
    /// Keras' validation_steps: validation batches per epoch, likewise.
    public var validationSteps: Int?
    public var batchSize: Int?
    public var learningRate: Float?
    public var optimizer: String?
    public var momentum: Float?
    public var nesterov: Bool?
    public var weightDecay: Float?
    public var seed: UInt64?
    public var out: String?
    public var inputSize: Int?
    public var color: String?
    public var interpolation: Interpolation?
    public var preprocessing: String?
    /// Per-channel mean and std subtracted and divided after scaling (ImageNet-style).
    public var mean: [Float]?
    public var std: [Float]?
    public var classWeight: ClassWeightSetting?
    public var labelSmoothing: Float?
    public var augmentation: Augmentation?
    public var callbacks: CallbackSettings?
    public var strict: Bool?
    public var workers: Int?
    /// A checkpoint whose weights start the run (transfer learning).
    public var initFrom: String?
    /// Train only the last N layers.
    public var trainableLast: Int?
    /// Freeze the layers up to and including this one.
    public var freezeUntil: String?
    /// Weights by tensor name (a torchvision state dict from Scripts/export-torchvision.py).
    public var pretrained: String?
    /// Re-initialise the classifier for this many classes instead of loading it.
    public var replaceHead: Int?
    /// Train on cached bottleneck features instead of images.
    public var features: String?
    public var valFeatures: String?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case data, val, model, epochs, optimizer, momentum, nesterov, seed, out, color, interpolation, preprocessing, mean, std
        case augmentation, callbacks, strict, workers
        case validationSplit = "validation_split", batchSize = "batch_size", learningRate = "learning_rate"
        case weightDecay = "weight_decay", inputSize = "input_size", classWeight = "class_weight"
        case labelSmoothing = "label_smoothing", initFrom = "init", trainableLast = "trainable_last"
        case freezeUntil = "freeze_until", features, valFeatures = "val_features", pretrained
        case replaceHead = "replace_head", stepsPerEpoch = "steps_per_epoch", validationSteps = "validation_steps"
    }

    public static func load(_ url: URL) throws -> TrainingConfig { try ConfigFile.decode(TrainingConfig.self, from: url) }
}

/// `class_weight`: "balanced", a list in class order, or a map from class name.
public enum ClassWeightSetting: Codable, Equatable {
    case balanced
    case list([Float])
    case byName([String: Float])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard text == "balanced" else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "class_weight must be 'balanced', a list or a map, got '\(text)'")
            }
            self = .balanced
        } else if let list = try? container.decode([Float].self) {
            self = .list(list)
        } else {
            self = .byName(try container.decode([String: Float].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .balanced: try container.encode("balanced")
        case .list(let list): try container.encode(list)
        case .byName(let map): try container.encode(map)
        }
    }

    /// Parses the `--class-weight` flag: `balanced`, `1,2.9`, or `NORMAL=1,PNEUMONIA=2.9`.
    public init(flag: String) throws {
        if flag == "balanced" { self = .balanced; return }
        let parts = flag.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.allSatisfy({ $0.contains("=") }) {
            var map: [String: Float] = [:]
            for part in parts {
                let pair = part.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, let value = Float(pair[1]) else { throw LumenError.invalidClassWeight("cannot read '\(part)'") }
                map[String(pair[0])] = value
            }
            self = .byName(map)
        } else {
            let values = parts.compactMap(Float.init)
            guard values.count == parts.count else { throw LumenError.invalidClassWeight("expected balanced, numbers, or NAME=number pairs, got '\(flag)'") }
            self = .list(values)
        }
    }

    /// Per-class weights. Balanced follows Keras/sklearn: n_samples / (n_classes · count).
    public func weights(classes: [String], counts: [Int]) throws -> [Float] {
        switch self {
        case .balanced:
            let total = counts.reduce(0, +)
            return counts.map { $0 == 0 ? 0 : Float(total) / Float(classes.count * $0) }
        case .list(let list):
            guard list.count == classes.count else {
                throw LumenError.invalidClassWeight("\(list.count) weights for \(classes.count) classes \(classes)")
            }
            return list
        case .byName(let map):
            let unknown = Set(map.keys).subtracting(classes)
            guard unknown.isEmpty else { throw LumenError.invalidClassWeight("unknown classes \(unknown.sorted()); classes are \(classes)") }
            return classes.map { map[$0] ?? 1 }
        }
    }
}

/// The `callbacks:` section, with each callback's Keras arguments.
public struct CallbackSettings: Codable, Equatable {
    public struct Checkpoint: Codable, Equatable {
        public var filepath: String?
        public var monitor: String?
        public var mode: Monitor.Mode?
        public var saveBestOnly: Bool?
        public var initialValueThreshold: Double?
        public init(filepath: String? = nil, monitor: String? = nil, mode: Monitor.Mode? = nil, saveBestOnly: Bool? = nil,
                    initialValueThreshold: Double? = nil) {
            self.filepath = filepath
            self.monitor = monitor
            self.mode = mode
            self.saveBestOnly = saveBestOnly
            self.initialValueThreshold = initialValueThreshold
        }
        enum CodingKeys: String, CodingKey {
            case filepath, monitor, mode, saveBestOnly = "save_best_only", initialValueThreshold = "initial_value_threshold"
        }
    }

    public struct ReduceLR: Codable, Equatable {
        public var monitor: String?
        public var mode: Monitor.Mode?
        public var factor: Double?
        public var patience: Int?
        public var minDelta: Double?
        public var cooldown: Int?
        public var minLR: Double?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case monitor, mode, factor, patience, cooldown, minDelta = "min_delta", minLR = "min_lr"
        }
    }

    public struct Stopping: Codable, Equatable {
        public var monitor: String?
        public var mode: Monitor.Mode?
        public var patience: Int?
        public var minDelta: Double?
        public var baseline: Double?
        public var restoreBestWeights: Bool?
        public var startFromEpoch: Int?
        public init() {}
        enum CodingKeys: String, CodingKey {
            case monitor, mode, patience, baseline, minDelta = "min_delta", restoreBestWeights = "restore_best_weights"
            case startFromEpoch = "start_from_epoch"
        }
    }

    public var modelCheckpoint: Checkpoint?
    public var reduceLROnPlateau: ReduceLR?
    public var earlyStopping: Stopping?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case modelCheckpoint = "model_checkpoint", reduceLROnPlateau = "reduce_lr_on_plateau", earlyStopping = "early_stopping"
    }

    /// The callbacks, in the order the tutorials list them: checkpoint, learning-rate
    /// schedule, early stopping. Checkpoint paths are relative to `runDirectory`.
    public func make(runDirectory: URL, defaultMonitor: String) throws -> [Callback] {
        var callbacks: [Callback] = []
        if let c = modelCheckpoint {
            let path = c.filepath ?? "best.safetensors"
            let full = path.hasPrefix("/") ? path : runDirectory.appendingPathComponent(path).path
            callbacks.append(try ModelCheckpoint(filepath: full, monitor: Monitor(c.monitor ?? defaultMonitor, mode: c.mode ?? .auto),
                                                 saveBestOnly: c.saveBestOnly ?? false,
                                                 initialValueThreshold: c.initialValueThreshold))
        }
        if let r = reduceLROnPlateau {
            callbacks.append(try ReduceLROnPlateau(
                monitor: Monitor(r.monitor ?? defaultMonitor, mode: r.mode ?? .auto, minDelta: r.minDelta ?? 1e-4),
                factor: r.factor ?? 0.1, patience: r.patience ?? 10, cooldown: r.cooldown ?? 0, minLR: r.minLR ?? 0))
        }
        if let e = earlyStopping {
            callbacks.append(try EarlyStopping(
                monitor: Monitor(e.monitor ?? defaultMonitor, mode: e.mode ?? .auto, minDelta: e.minDelta ?? 0),
                patience: e.patience ?? 0, baseline: e.baseline, restoreBestWeights: e.restoreBestWeights ?? false,
                startFromEpoch: e.startFromEpoch ?? 0))
        }
        return callbacks
    }
}
