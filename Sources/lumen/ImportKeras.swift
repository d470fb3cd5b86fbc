import ArgumentParser
import Foundation
import Lumen

struct ImportKeras: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-keras",
        abstract: "Turn a Keras .h5 weights file (legacy or Keras 3 .weights.h5) into a Lumen checkpoint.")

    @Argument(help: "The Keras weights: save_weights output, a full-model .h5, or a Keras 3 .weights.h5.") var weights: String
    @Option(help: "The architecture the weights belong to: a built-in or a model spec.") var model: String
    @Option(help: "Number of classes, or their names separated by commas (default: the file's output count).") var classes: String?
    @Option(help: "Where to write the checkpoint.") var out: String
    @Option(help: "Square input size (default: the architecture's).") var inputSize: Int?
    @Option(help: "Input channels (default: the architecture's).") var channels: Int?
    @Option(help: "rescale (x/255) or tf (x/127.5 - 1); default: the architecture's.") var preprocessing: String?
    @OptionGroup var deviceOption: DeviceOption

    func run() throws {
        try reportingErrors {
            let reference = try ModelReference(model)
            let device = try deviceOption.open()
            let url = URL(fileURLWithPath: weights)
            let classList: ClassList
            if let classes {
                classList = try ClassList(classes)
            } else {
                // The layout does not depend on the class count: read it from the file.
                let probe = try Model(spec: try reference.spec(classes: 2, inputSize: inputSize, channels: channels), device: device)
                let count: Int
                do {
                    count = try KerasWeights.outputCount(in: url, for: probe)
                } catch let error as KerasWeights.ImportError {
                    fail(error.description)
                }
                classList = try ClassList(String(max(count, 2)))
            }
            var spec = try reference.spec(classes: classList.outputCount, inputSize: inputSize, channels: channels)
            if case .builtin = reference {} else { spec = try spec.prefixingLayerNames("") }
            let network = try Model(spec: spec, device: device)
            let tensors: [String: SafeTensors.Entry]
            do {
                tensors = try KerasWeights.tensors(from: url, for: network)
            } catch let error as KerasWeights.ImportError {
                fail(error.description)
            }
            try Checkpoint.load(tensors, into: network, source: "Keras file \(weights)")
            var chosen: Preprocessing = .rescale
            if case .builtin(let builtin) = reference { chosen = builtin.defaultPreprocessing }
            if preprocessing == "tf" { chosen = .tf } else if preprocessing == "rescale" { chosen = .rescale }
            try Checkpoint(model: network, classes: classList.names, preprocessing: chosen).write(to: URL(fileURLWithPath: out))
            print("wrote \(out): \(spec.name) with \(tensors.count) tensors from \(weights)")
        }
    }
}
