import ArgumentParser
import Foundation
import Lumen

struct ExportOnnx: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-onnx",
        abstract: "Write a checkpoint as an ONNX model (opset 13, float32) that any ONNX runtime can run.",
        discussion: """
            The input is [N, C, H, W] float32 after the checkpoint's preprocessing, \
            (pixel * scale + offset - mean) / std, as the file's metadata states; the output, \
            "probabilities", is what `lumen predict` computes: class probabilities, or for a \
            single sigmoid output the probability of the second class.
            """)

    @Option(help: "A checkpoint from `lumen train` or `lumen init`.") var model: String
    @Option(help: "For a head trained on features: the base checkpoint they came from.") var base: String?
    @Option(help: "Where to write the .onnx file.") var out: String
    @Option(help: "A fixed batch size; without it the batch dimension is free.") var batch: Int?
    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        if let batch, batch <= 0 { throw ValidationError("--batch must be positive, got \(batch)") }
    }

    func run() throws {
        try reportingErrors {
            let device = try deviceOption.open()
            let checkpoint = try Checkpoint(contentsOf: URL(fileURLWithPath: model), joinedTo: base, device: device)
            let network = try checkpoint.makeModel(on: device)
            let data = try OnnxExport.data(network, classes: checkpoint.classes, preprocessing: checkpoint.preprocessing,
                                           batch: batch)
            try AtomicFile.write(data, to: URL(fileURLWithPath: out))
            print("wrote \(out): \(checkpoint.spec.name), \(data.count) bytes, input [\(batch.map(String.init) ?? "N"), "
                  + "\(checkpoint.spec.channelsFirstInput.map(String.init).joined(separator: ", "))]")
        }
    }
}
