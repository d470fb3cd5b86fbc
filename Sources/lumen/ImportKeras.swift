import ArgumentParser
import Foundation
import Lumen

struct ImportKeras: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-keras",
        abstract: "Turn a Keras model file (.h5 or .keras, architecture and weights) or a weights file into a Lumen checkpoint.",
        discussion: """
            Without --model the architecture is read from the file: a Keras 2/3 full-model .h5 or a Keras 3 .keras archive, \
            Sequential or functional. With --model the file's weights (a legacy save_weights or keras-applications .h5, a \
            Keras 3 .weights.h5, or a full-model file) load into that architecture.
            """)

    @Argument(help: "The Keras file: a full-model .h5 or .keras, save_weights output, or a Keras 3 .weights.h5.") var weights: String
    @Option(help: "The architecture the weights belong to: a built-in or a model spec (default: the file's own).") var model: String?
    @Option(help: "Number of classes, or their names separated by commas (default: the file's output count).") var classes: String?
    @Option(help: "Where to write the checkpoint.") var out: String
    @Option(help: "Square input size (default: the architecture's).") var inputSize: Int?
    @Option(help: "MobileNet's width multiplier: 0.25, 0.5, 0.75 or 1.0 (same as --model mobilenet:ALPHA).") var alpha: Float?
    @Option(help: "Input channels (default: the architecture's).") var channels: Int?
    @Option(help: "rescale (x/255), tf (x/127.5 - 1) or none (pixels as they are); default: the architecture's, and for a model file none when it starts with a Rescaling layer, else rescale.") var preprocessing: String?
    @OptionGroup var deviceOption: DeviceOption

    func run() throws {
        try reportingErrors {
            let device = try deviceOption.open()
            let url = URL(fileURLWithPath: weights)
            guard let model else {
                try importWithArchitecture(url, device: device)
                return
            }
            let reference = try ModelReference(model, alpha: alpha)
            let classList: ClassList
            if let classes {
                classList = try ClassList(classes)
            } else {
                // The layout does not depend on the class count: read it from the file.
                let probe = try Model(spec: try reference.spec(classes: 2, inputSize: inputSize, channels: channels), device: device)
                let count: Int
                do {
                    let present = try KerasWeights.tensors(from: url, for: probe, allowingMissing: true)
                    if let head = probe.classifier, head.parameters.contains(where: { present[$0.name] == nil }) {
                        fail("\(weights) has no weights for the output layer '\(head.name)' (a base without its top): give --classes for the new head")
                    }
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
                tensors = try KerasWeights.tensors(from: url, for: network, allowingMissing: true)
            } catch let error as KerasWeights.ImportError {
                fail(error.description)
            }
            // A base without its top (keras-applications' *_notop.h5) leaves the head freshly initialised.
            let fresh = Set(network.parameters.map(\.name)).subtracting(tensors.keys)
            let freshLayers = network.layers.filter { layer in layer.parameters.contains { fresh.contains($0.name) } }.map(\.name)
            if !freshLayers.isEmpty { print("not in \(weights), freshly initialised: \(freshLayers.joined(separator: ", "))") }
            try Checkpoint.load(tensors, into: network, source: "Keras file \(weights)", keeping: fresh)
            var chosen: Preprocessing = .rescale
            if case .builtin(let builtin, _) = reference { chosen = builtin.defaultPreprocessing }
            try write(network, classes: classList, preprocessing: chosen, tensorCount: tensors.count)
        }
    }

    /// The file's own architecture and weights.
    private func importWithArchitecture(_ url: URL, device: Device) throws {
        if inputSize != nil || channels != nil { fail("--input-size and --channels need --model; a Keras model file fixes its input") }
        let file = try KerasModelFile(contentsOf: url)
        let network = try Model(spec: file.spec, device: device)
        let tensors: [String: SafeTensors.Entry]
        do {
            tensors = try file.tensors(for: network)
        } catch let error as KerasWeights.ImportError {
            fail(error.description)
        }
        try Checkpoint.load(tensors, into: network, source: "Keras file \(weights)")
        let classList = try ClassList(classes ?? String(max(network.outputCount, 2)))
        // One sigmoid output stands for two classes.
        guard classList.outputCount == network.outputCount || network.outputCount == 1 && classList.outputCount == 2 else {
            fail("--classes gives \(classList.outputCount) outputs but the model in \(weights) has \(network.outputCount)")
        }
        // A model that rescales its own input (Keras 3's Rescaling first) takes pixels as they are.
        let ownScaling = network.layers.first is Rescaling
        try write(network, classes: classList, preprocessing: ownScaling ? .raw : .rescale, tensorCount: tensors.count)
    }

    private func write(_ network: Model, classes: ClassList, preprocessing defaultPreprocessing: Preprocessing, tensorCount: Int) throws {
        var chosen = defaultPreprocessing
        switch preprocessing {
        case nil: break
        case "tf": chosen = .tf
        case "rescale": chosen = .rescale
        case "none": chosen = .raw
        case let other?: fail("--preprocessing '\(other)': use rescale, tf or none")
        }
        try Checkpoint(model: network, classes: classes.names, preprocessing: chosen).write(to: URL(fileURLWithPath: out))
        print("wrote \(out): \(network.spec.name) (\(network.layers.count) layers) with \(tensorCount) tensors from \(weights); preprocessing x·\(chosen.scale) + \(chosen.offset)")
    }
}
