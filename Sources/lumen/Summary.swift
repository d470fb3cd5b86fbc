import ArgumentParser
import Foundation
import Lumen

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a Keras-style summary of a model: layers, output shapes, parameters.")

    @Option(help: "Architecture name, checkpoint (.safetensors) or model spec file.") var model: String
    @Option(help: "Number of classes for a built-in architecture.") var classes: Int = 2
    @Option(help: "Square input size for a built-in architecture.") var inputSize: Int?
    @Option(help: "Input channels for a built-in architecture.") var channels: Int?
    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        if classes < 1 { throw ValidationError("--classes must be at least 1, got \(classes)") }
    }

    func run() throws {
        try reportingErrors {
            let spec = try ModelReference(model).spec(classes: classes, inputSize: inputSize, channels: channels)
            let device = try Device.open(deviceOption.selector)
            print(try Sequential(spec: spec, device: device).summary())
        }
    }
}
