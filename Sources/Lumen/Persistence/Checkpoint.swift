import Foundation

/// A model saved as one `.safetensors` file: PyTorch tensor names and layouts, and in
/// `__metadata__` the model spec, class names and preprocessing, so `predict` needs
/// nothing else.
public struct Checkpoint {
    public static let formatName = "lumen-checkpoint"
    public static let formatVersion = "1"

    public var spec: ModelSpec
    public var classes: [String]
    public var preprocessing: Preprocessing
    public var tensors: [String: SafeTensors.Entry]
    /// Other metadata (training state for resumable checkpoints).
    public var extra: [String: String]
    /// Tensors that are not model parameters, named with a `/` (`optimizer/conv2d.weight.m`):
    /// the state a resumable checkpoint carries.
    public var extraTensors: [String: SafeTensors.Entry] = [:]

    /// Captures a model's current parameters.
    public init(model: Model, classes: [String], preprocessing: Preprocessing = .rescale,
                extra: [String: String] = [:]) throws {
        spec = model.spec
        self.classes = classes
        self.preprocessing = preprocessing
        self.extra = extra
        var tensors: [String: SafeTensors.Entry] = [:]
        for parameter in model.parameters {
            tensors[parameter.name] = SafeTensors.Entry(shape: parameter.value.shape, values: try parameter.value.toArray())
        }
        self.tensors = tensors
    }

    /// Writes the checkpoint atomically: a crash mid-write leaves the previous file whole.
    public func write(to url: URL) throws {
        var metadata = extra
        metadata["format"] = Checkpoint.formatName
        metadata["format_version"] = Checkpoint.formatVersion
        metadata["model"] = try Checkpoint.json(spec)
        metadata["classes"] = try Checkpoint.json(classes)
        metadata["preprocessing"] = try Checkpoint.json(preprocessing)
        try SafeTensors(tensors: tensors.merging(extraTensors) { a, _ in a }, metadata: metadata).write(to: url)
    }

    /// Reads a checkpoint, rejecting files that are not Lumen checkpoints with the reason.
    public init(contentsOf url: URL) throws {
        let file = try SafeTensors(contentsOf: url)
        func fail(_ defect: String) -> CheckpointError { CheckpointError(file: url.path, defect: defect) }
        guard file.metadata["format"] == Checkpoint.formatName else {
            throw fail("not a Lumen checkpoint (no \"format\": \"\(Checkpoint.formatName)\" in its metadata); write one with `lumen init` or `lumen train`")
        }
        guard file.metadata["format_version"] == Checkpoint.formatVersion else {
            throw fail("checkpoint format version \(file.metadata["format_version"] ?? "none") is not \(Checkpoint.formatVersion)")
        }
        let decoder = JSONDecoder()
        guard let specText = file.metadata["model"],
              let spec = try? decoder.decode(ModelSpec.self, from: Data(specText.utf8)) else {
            throw fail("its model spec is missing or unreadable")
        }
        self.spec = spec
        classes = file.metadata["classes"].flatMap { try? decoder.decode([String].self, from: Data($0.utf8)) } ?? []
        preprocessing = file.metadata["preprocessing"].flatMap { try? decoder.decode(Preprocessing.self, from: Data($0.utf8)) }
            ?? .rescale
        tensors = file.tensors.filter { !$0.key.contains("/") }
        extraTensors = file.tensors.filter { $0.key.contains("/") }
        extra = file.metadata.filter { !["format", "format_version", "model", "classes", "preprocessing"].contains($0.key) }
    }

    /// Builds the model on `device` and loads every tensor, strictly.
    public func makeModel(on device: Device) throws -> Model {
        let model = try Model(spec: spec, device: device)
        try Checkpoint.load(tensors, into: model, source: "checkpoint")
        return model
    }

    /// Copies `tensors` into the model's parameters by name. Strict: every missing
    /// tensor, unexpected tensor and shape mismatch is named in one error. Parameters
    /// named in `keeping` keep their values, and tensors of those names are passed over
    /// (a classifier replaced by a fresh one).
    public static func load(_ tensors: [String: SafeTensors.Entry], into model: Model, source: String,
                            keeping kept: Set<String> = []) throws {
        var problems: [String] = []
        let parameters = model.parameters.filter { !kept.contains($0.name) }
        let expected = Set(parameters.map(\.name))
        for parameter in parameters {
            guard let entry = tensors[parameter.name] else {
                problems.append("missing \(parameter.name) \(parameter.value.shape)")
                continue
            }
            if entry.shape != parameter.value.shape {
                problems.append("\(parameter.name) has shape \(entry.shape) in the \(source) but \(parameter.value.shape) in the model")
            }
        }
        for name in tensors.keys.sorted() where !expected.contains(name) && !kept.contains(name) {
            problems.append("unexpected \(name) \(tensors[name]!.shape)")
        }
        guard problems.isEmpty else {
            throw LumenError.weightsMismatch(source: source, problems: problems)
        }
        for parameter in parameters { try parameter.value.write(tensors[parameter.name]!.values) }
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A file that is safetensors but not a usable Lumen checkpoint.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let defect: String
    public var description: String { "\(file): \(defect)" }
}
