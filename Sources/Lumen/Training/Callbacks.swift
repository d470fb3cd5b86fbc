import Foundation

/// What callbacks see and may change during `fit`.
public final class TrainingContext {
    public let model: Model
    public let optimizer: Optimizer
    /// Set by a callback to end training after this epoch.
    public var stopTraining = false
    /// Writes the model as a checkpoint (with class names and preprocessing) to a file.
    let saveModel: (URL) throws -> Void
    /// Messages for the user (ReduceLROnPlateau reducing, EarlyStopping stopping).
    let report: (String) -> Void

    init(model: Model, optimizer: Optimizer, saveModel: @escaping (URL) throws -> Void, report: @escaping (String) -> Void) {
        self.model = model
        self.optimizer = optimizer
        self.saveModel = saveModel
        self.report = report
    }
}

/// Keras' callback hooks, for the callbacks Lumen ships. Epochs are counted from 0, as
/// Keras passes them; messages and file names show epoch + 1, as Keras does.
public protocol Callback: AnyObject {
    /// A name unique among a run's callbacks, keying its saved state.
    var name: String { get }
    func trainBegan(_ context: TrainingContext) throws
    func epochEnded(_ epoch: Int, logs: [String: Double], _ context: TrainingContext) throws
    func trainEnded(_ context: TrainingContext) throws
    /// State to carry across `--resume`, as JSON-friendly values.
    var state: [String: Double] { get }
    func restore(_ state: [String: Double])
    /// Tensors to carry across `--resume` (EarlyStopping's best weights).
    var stateTensors: [String: SafeTensors.Entry] { get }
    func restore(tensors: [String: SafeTensors.Entry])
}

extension Callback {
    public func trainBegan(_ context: TrainingContext) throws {}
    public func trainEnded(_ context: TrainingContext) throws {}
    public var stateTensors: [String: SafeTensors.Entry] { [:] }
    public func restore(tensors: [String: SafeTensors.Entry]) {}
}

// MARK: - ModelCheckpoint

/// Keras' ModelCheckpoint: after each epoch, writes the model to `filepath` (formatted
/// with `{epoch}` and log keys, e.g. `{epoch:02d}-{val_loss:.3f}.safetensors`); with
/// `saveBestOnly`, only when the monitored value improves. Writes are atomic.
public final class ModelCheckpoint: Callback {
    public let name = "model_checkpoint"
    public let filepath: String
    public let monitor: Monitor
    public let saveBestOnly: Bool
    public private(set) var best: Double?
    /// Files written, in order, for tests and the run summary.
    public private(set) var written: [URL] = []

    public init(filepath: String, monitor: Monitor = Monitor("val_loss"), saveBestOnly: Bool = false,
                initialValueThreshold: Double? = nil) throws {
        self.filepath = filepath
        self.monitor = monitor
        self.saveBestOnly = saveBestOnly
        self.best = initialValueThreshold
        if saveBestOnly { _ = try monitor.minimises() }
    }

    public func epochEnded(_ epoch: Int, logs: [String: Double], _ context: TrainingContext) throws {
        if saveBestOnly {
            guard let current = logs[monitor.name] else {
                context.report("ModelCheckpoint: '\(monitor.name)' is not logged (have \(logs.keys.sorted().joined(separator: ", "))); skipping")
                return
            }
            guard try monitor.isImprovement(current, over: best) else { return }
            best = current
        }
        let url = URL(fileURLWithPath: try FilenameTemplate.format(filepath, epoch: epoch + 1, logs: logs))
        try context.saveModel(url)
        written.append(url)
    }

    public var state: [String: Double] { best.map { ["best": $0] } ?? [:] }
    public func restore(_ state: [String: Double]) { best = state["best"] }
}

/// Python-style `{key}` / `{key:spec}` formatting for checkpoint names, with the specs
/// people use there: `d`, `02d`, `.2f`, `.4e`.
public enum FilenameTemplate {
    public static func format(_ template: String, epoch: Int, logs: [String: Double]) throws -> String {
        var values = logs
        values["epoch"] = Double(epoch)
        var result = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw LumenError.invalidCallback("unclosed '{' in checkpoint name '\(template)'")
            }
            let field = rest[rest.index(after: open)..<close]
            let parts = field.split(separator: ":", maxSplits: 1).map(String.init)
            let key = parts.first ?? ""
            guard let value = values[key] else {
                throw LumenError.invalidCallback("checkpoint name '\(template)' uses {\(key)}, which is not logged; use epoch or one of \(logs.keys.sorted())")
            }
            result += render(value, spec: parts.count > 1 ? parts[1] : (key == "epoch" ? "d" : ""))
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    static func render(_ value: Double, spec: String) -> String {
        guard let kind = spec.last, "dfe".contains(kind) else { return String(value) }
        let body = spec.dropLast()
        if kind == "d" { return String(format: "%\(body)d", Int(value.rounded())) }
        return String(format: "%\(body)\(kind)", value)
    }
}

// MARK: - ReduceLROnPlateau

/// Keras' ReduceLROnPlateau: after `patience` epochs without improvement, multiply the
/// learning rate by `factor` (not below `minLR`), then wait `cooldown` epochs.
public final class ReduceLROnPlateau: Callback {
    public let name = "reduce_lr_on_plateau"
    public let monitor: Monitor
    public let factor: Double, patience: Int, cooldown: Int, minLR: Double
    public private(set) var best: Double?
    private var wait = 0, cooldownCounter = 0

    public init(monitor: Monitor = Monitor("val_loss", minDelta: 1e-4), factor: Double = 0.1, patience: Int = 10,
                cooldown: Int = 0, minLR: Double = 0) throws {
        guard factor < 1, factor > 0 else { throw LumenError.invalidCallback("ReduceLROnPlateau factor must be in (0, 1), got \(factor)") }
        guard patience >= 0, cooldown >= 0, minLR >= 0 else {
            throw LumenError.invalidCallback("ReduceLROnPlateau patience, cooldown and min_lr must not be negative")
        }
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.cooldown = cooldown
        self.minLR = minLR
        _ = try monitor.minimises()
    }

    public func epochEnded(_ epoch: Int, logs: [String: Double], _ context: TrainingContext) throws {
        guard let current = logs[monitor.name] else {
            context.report("ReduceLROnPlateau: '\(monitor.name)' is not logged; learning rate unchanged")
            return
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            wait = 0
        }
        if try monitor.isImprovement(current, over: best) {
            best = current
            wait = 0
        } else if cooldownCounter == 0 {
            wait += 1
            if wait >= patience {
                let old = Double(context.optimizer.learningRate)
                if old > Double(Float(minLR)) {
                    let new = max(old * factor, minLR)
                    context.optimizer.learningRate = Float(new)
                    context.report("Epoch \(epoch + 1): ReduceLROnPlateau reducing learning rate to \(Float(new)).")
                    cooldownCounter = cooldown
                    wait = 0
                }
            }
        }
    }

    public var state: [String: Double] {
        var s: [String: Double] = ["wait": Double(wait), "cooldown_counter": Double(cooldownCounter)]
        if let best { s["best"] = best }
        return s
    }

    public func restore(_ state: [String: Double]) {
        best = state["best"]
        wait = Int(state["wait"] ?? 0)
        cooldownCounter = Int(state["cooldown_counter"] ?? 0)
    }
}

// MARK: - EarlyStopping

/// Keras' EarlyStopping. With `restoreBestWeights`, the weights of the best epoch are
/// put back at the end of training whenever a best epoch was seen, as Keras 3 does
/// (Keras 2 restored them only when it actually stopped early).
public final class EarlyStopping: Callback {
    public let name = "early_stopping"
    public let monitor: Monitor
    public let patience: Int, startFromEpoch: Int
    public let baseline: Double?
    public let restoreBestWeights: Bool
    public private(set) var best: Double?
    public private(set) var bestEpoch = 0
    public private(set) var stoppedEpoch = 0
    private var wait = 0
    private var bestWeights: [String: SafeTensors.Entry]?

    public init(monitor: Monitor = Monitor("val_loss"), patience: Int = 0, baseline: Double? = nil,
                restoreBestWeights: Bool = false, startFromEpoch: Int = 0) throws {
        guard patience >= 0, startFromEpoch >= 0 else { throw LumenError.invalidCallback("EarlyStopping patience must not be negative") }
        self.monitor = monitor
        self.patience = patience
        self.baseline = baseline
        self.restoreBestWeights = restoreBestWeights
        self.startFromEpoch = startFromEpoch
        _ = try monitor.minimises()
    }

    public func epochEnded(_ epoch: Int, logs: [String: Double], _ context: TrainingContext) throws {
        guard let current = logs[monitor.name] else {
            context.report("EarlyStopping: '\(monitor.name)' is not logged; not stopping")
            return
        }
        guard epoch >= startFromEpoch else { return }
        if restoreBestWeights && bestWeights == nil {
            bestWeights = try snapshot(context.model)
            bestEpoch = epoch
        }
        wait += 1
        if try monitor.isImprovement(current, over: best) {
            best = current
            bestEpoch = epoch
            if restoreBestWeights { bestWeights = try snapshot(context.model) }
            if try baseline == nil || monitor.isImprovement(current, over: baseline) { wait = 0 }
            return
        }
        if wait >= patience && epoch > 0 {
            stoppedEpoch = epoch
            context.stopTraining = true
        }
    }

    public func trainEnded(_ context: TrainingContext) throws {
        if stoppedEpoch > 0 { context.report("Epoch \(stoppedEpoch + 1): early stopping") }
        if restoreBestWeights, let bestWeights {
            context.report("Restoring model weights from the end of the best epoch: \(bestEpoch + 1).")
            try Checkpoint.load(bestWeights, into: context.model, source: "best weights")
        }
    }

    private func snapshot(_ model: Model) throws -> [String: SafeTensors.Entry] {
        var weights: [String: SafeTensors.Entry] = [:]
        for p in model.parameters { weights[p.name] = SafeTensors.Entry(shape: p.value.shape, values: try p.value.toArray()) }
        return weights
    }

    public var state: [String: Double] {
        var s: [String: Double] = ["wait": Double(wait), "best_epoch": Double(bestEpoch), "stopped_epoch": Double(stoppedEpoch)]
        if let best { s["best"] = best }
        return s
    }

    public func restore(_ state: [String: Double]) {
        best = state["best"]
        wait = Int(state["wait"] ?? 0)
        bestEpoch = Int(state["best_epoch"] ?? 0)
        stoppedEpoch = Int(state["stopped_epoch"] ?? 0)
    }

    public var stateTensors: [String: SafeTensors.Entry] { bestWeights ?? [:] }
    public func restore(tensors: [String: SafeTensors.Entry]) { bestWeights = tensors.isEmpty ? nil : tensors }
}
