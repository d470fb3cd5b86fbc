import Foundation

/// What `--model` names: a built-in architecture, a checkpoint, or a JSON spec file.
public enum ModelReference {
    /// A built-in and its width multiplier (MobileNet's alpha; 1 for the others).
    case builtin(BuiltinModel, alpha: Float)
    case checkpoint(URL)
    case specFile(URL)
    /// A Keras full-model .h5 or .keras file: its architecture.
    case kerasFile(URL)

    /// Parses `--model`. A name that is neither a built-in nor an existing file is an
    /// error that lists the built-ins.
    /// `mobilenet:0.25` names MobileNet with alpha 0.25.
    public init(_ text: String, alpha: Float? = nil) throws {
        let parts = text.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
        if let builtin = BuiltinModel(rawValue: parts.first ?? "") {
            let width = parts.count > 1 ? Float(parts[1]) : alpha ?? 1
            guard let width, builtin == .mobilenet ? [0.25, 0.5, 0.75, 1].contains(width) : width == 1 else {
                throw LumenError.invalidModelSpec("--model '\(text)'\(alpha.map { " --alpha \($0)" } ?? ""): only mobilenet takes a width, one of 0.25, 0.5, 0.75 and 1.0")
            }
            self = .builtin(builtin, alpha: width)
            return
        }
        let url = URL(fileURLWithPath: text)
        guard FileManager.default.fileExists(atPath: url.path) else {
            let names = BuiltinModel.allCases.map(\.rawValue).joined(separator: ", ")
            throw LumenError.invalidModelSpec("--model '\(text)' is neither a built-in architecture (\(names)) nor an existing file")
        }
        switch url.pathExtension.lowercased() {
        case "safetensors": self = .checkpoint(url)
        case "h5", "keras": self = .kerasFile(url)
        default: self = .specFile(url)
        }
    }

    /// Whether the spec comes with its own classifier (every file), where a built-in's is
    /// sized for the data's classes.
    public var bringsItsClassifier: Bool {
        if case .builtin = self { return false }
        return true
    }

    /// The spec: built-ins take the class count and input size; files carry their own.
    public func spec(classes: Int, inputSize: Int?, channels: Int?) throws -> ModelSpec {
        switch self {
        case .builtin(let model, let alpha):
            return model.spec(classes: classes, inputSize: inputSize, channels: channels, alpha: alpha)
        case .checkpoint(let url):
            return try Checkpoint(contentsOf: url).spec
        case .kerasFile(let url):
            return try KerasModelFile(contentsOf: url).spec
        case .specFile(let url):
            do {
                return try ConfigFile.decode(ModelSpec.self, from: url)
            } catch let error as DataError {
                throw LumenError.invalidModelSpec("\(error.path) is not a readable model spec: \(error.reason)")
            }
        }
    }
}
