import Foundation

/// What `--model` names: a built-in architecture, a checkpoint, or a JSON spec file.
public enum ModelReference {
    case builtin(BuiltinModel)
    case checkpoint(URL)
    case specFile(URL)

    /// Parses `--model`. A name that is neither a built-in nor an existing file is an
    /// error that lists the built-ins.
    public init(_ text: String) throws {
        if let builtin = BuiltinModel(rawValue: text.lowercased()) {
            self = .builtin(builtin)
            return
        }
        let url = URL(fileURLWithPath: text)
        guard FileManager.default.fileExists(atPath: url.path) else {
            let names = BuiltinModel.allCases.map(\.rawValue).joined(separator: ", ")
            throw LumenError.invalidModelSpec("--model '\(text)' is neither a built-in architecture (\(names)) nor an existing file")
        }
        self = url.pathExtension.lowercased() == "safetensors" ? .checkpoint(url) : .specFile(url)
    }

    /// The spec: built-ins take the class count and input size; files carry their own.
    public func spec(classes: Int, inputSize: Int?, channels: Int?) throws -> ModelSpec {
        switch self {
        case .builtin(let model):
            return model.spec(classes: classes, inputSize: inputSize, channels: channels)
        case .checkpoint(let url):
            return try Checkpoint(contentsOf: url).spec
        case .specFile(let url):
            do {
                return try ConfigFile.decode(ModelSpec.self, from: url)
            } catch let error as DataError {
                throw LumenError.invalidModelSpec("\(error.path) is not a readable model spec: \(error.reason)")
            }
        }
    }
}
