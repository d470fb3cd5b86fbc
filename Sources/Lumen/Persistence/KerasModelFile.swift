import CLShim
import Foundation
import ZIPFoundation

/// A Keras model file that carries its architecture: a Keras 2/3 full-model `.h5`
/// (the `model_config` attribute, weights under `model_weights/`) or a Keras 3 `.keras`
/// archive (`config.json` and `model.weights.h5`, read through ZIPFoundation).
public final class KerasModelFile {
    /// The architecture, with Keras' layer names.
    public let spec: ModelSpec
    /// The HDF5 file holding the weights: the file itself, or the archive's weights
    /// unpacked into a temporary folder that lives as long as this object.
    let weights: URL
    private let scratch: URL?

    public init(contentsOf url: URL) throws {
        let path = url.path
        guard let handle = FileHandle(forReadingAtPath: path) else { throw LumenError.invalidModelSpec("\(path): cannot be read") }
        let magic = handle.readData(ofLength: 4)
        try? handle.close()
        if magic == Data([0x50, 0x4B, 0x03, 0x04]) {
            let archive: Archive
            do { archive = try Archive(url: url, accessMode: .read) } catch {
                throw LumenError.invalidModelSpec("\(path): not a readable .keras archive (\(error))")
            }
            func entry(_ name: String) throws -> Entry {
                guard let found = archive[name] else { throw LumenError.invalidModelSpec("\(path): the .keras archive has no \(name)") }
                return found
            }
            var config = Data()
            _ = try archive.extract(try entry("config.json")) { config.append($0) }
            spec = try KerasModelConfig.spec(fromJSON: config, source: path)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lumen-keras-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            scratch = folder
            weights = folder.appendingPathComponent("model.weights.h5")
            _ = try archive.extract(try entry("model.weights.h5"), to: weights)
        } else {
            var file: Int64 = -1
            guard lm_h5_open(path, &file) == 0 else {
                throw LumenError.invalidModelSpec("\(path): neither a Keras .h5 (HDF5) file nor a .keras archive")
            }
            defer { lm_h5_close(file) }
            let fail = { (reason: String) in KerasWeights.ImportError(file: path, reason: reason) }
            guard let config = try KerasWeights.strings(file, "/", "model_config", fail).first else {
                throw LumenError.invalidModelSpec("\(path): holds weights only (no model_config attribute); name the architecture with --model")
            }
            spec = try KerasModelConfig.spec(fromJSON: Data(config.utf8), source: path)
            weights = url
            scratch = nil
        }
    }

    deinit { if let scratch { try? FileManager.default.removeItem(at: scratch) } }

    /// The file's weights as Lumen tensors for `model`, built from `spec`.
    public func tensors(for model: Model) throws -> [String: SafeTensors.Entry] {
        try KerasWeights.tensors(from: weights, for: model)
    }
}
