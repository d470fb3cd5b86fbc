import ArgumentParser
import Foundation
import Lumen

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a Keras-style summary of a model: layers, output shapes, parameters.")

    @Option(help: "Architecture name, checkpoint (.safetensors) or model spec file.") var model: String
    @Option(help: "Number of classes for a built-in architecture.") var classes: Int = 2
    @Option(help: "Square input size for a built-in architecture.") var inputSize: Int?
    @Option(help: "MobileNet's width multiplier: 0.25, 0.5, 0.75 or 1.0 (same as --model mobilenet:ALPHA).") var alpha: Float?
    @Option(help: "Input channels for a built-in architecture.") var channels: Int?
    @Option(help: "Show the model with only its last N layers trainable.") var trainableLast: Int?
    @Option(help: "Show the model with the layers up to this one frozen.") var freezeUntil: String?
    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        if classes < 1 { throw ValidationError("--classes must be at least 1, got \(classes)") }
    }

    func run() throws {
        try reportingErrors {
            let spec = try ModelReference(model, alpha: alpha).spec(classes: classes, inputSize: inputSize, channels: channels)
            let device = try deviceOption.open()
            let network = try Model(spec: spec, device: device)
            if let trainableLast { try network.setTrainable(last: trainableLast) }
            if let freezeUntil { try network.freeze(until: freezeUntil) }
            print(network.summary())
        }
    }
}
