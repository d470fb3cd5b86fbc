import ArgumentParser
import Foundation
import Lumen

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a freshly initialised checkpoint for an architecture.")

    @Option(help: "Architecture: xray-cnn, fashion-cnn, or a model spec file.") var model: String
    @Option(help: "Number of classes, or their names separated by commas.") var classes: String
    @Option(help: "Where to write the .safetensors checkpoint.") var out: String
    @Option(help: "Square input size in pixels (default: the architecture's).") var inputSize: Int?
    @Option(help: "MobileNet's width multiplier: 0.25, 0.5, 0.75 or 1.0 (same as --model mobilenet:ALPHA).") var alpha: Float?
    @Option(help: "Input channels: 3 for RGB, 1 for grayscale (default: the architecture's).") var channels: Int?
    @Option(help: "Seed for the initial weights.") var seed: UInt64 = 0
    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        if let inputSize, inputSize <= 0 { throw ValidationError("--input-size must be positive, got \(inputSize)") }
        if let channels, ![1, 3].contains(channels) { throw ValidationError("--channels must be 1 or 3, got \(channels)") }
        _ = try ClassList(classes)
    }

    func run() throws {
        try reportingErrors {
            let classList = try ClassList(classes)
            let spec = try ModelReference(model, alpha: alpha).spec(classes: classList.outputCount, inputSize: inputSize, channels: channels)
            let device = try deviceOption.open()
            let network = try Model(spec: spec, device: device, seed: seed)
            var preprocessing = Preprocessing.rescale
            if case .builtin(let builtin, _) = try ModelReference(model, alpha: alpha) { preprocessing = builtin.defaultPreprocessing }
            try Checkpoint(model: network, classes: classList.names, preprocessing: preprocessing).write(to: URL(fileURLWithPath: out))
            print("wrote \(out): \(spec.name), \(Model.groupedCount(network.parameterCounts.total)) parameters, classes \(classList.names.joined(separator: ", "))")
        }
    }
}

/// `--classes 3` or `--classes NORMAL,PNEUMONIA`.
struct ClassList {
    let names: [String]

    init(_ text: String) throws {
        if let count = Int(text) {
            guard count >= 2 else { throw ValidationError("--classes needs at least 2 classes, got \(count)") }
            names = (0..<count).map { "class_\($0)" }
        } else {
            names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard names.count >= 2, !names.contains(where: \.isEmpty), Set(names).count == names.count else {
                throw ValidationError("--classes takes a count or at least 2 distinct comma-separated names, got '\(text)'")
            }
        }
    }

    /// Model outputs: one per class (the xray-cnn keeps 2 sigmoid outputs, as in Keras).
    var outputCount: Int { names.count }
}
