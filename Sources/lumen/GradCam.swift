import ArgumentParser
import Foundation
import Lumen

struct GradCam: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcam",
        abstract: "Write Grad-CAM heatmaps overlaid on images: where the model looked for a class.")

    @Option(help: "A checkpoint.") var model: String
    @Option(help: "An image, or a folder searched recursively.") var input: String
    @Option(help: "Folder for <name>-gradcam.png files.") var out: String
    @Option(help: "Layer to explain, any named layer with an image-shaped output (default: the last one larger than 1×1 before the output, as Keras' example picks).") var layer: String?
    @Option(name: .customLong("class"), help: "Class to explain (default: the predicted class).") var className: String?
    @OptionGroup var deviceOption: DeviceOption

    func run() throws {
        try reportingErrors {
            let checkpoint = try Checkpoint(contentsOf: URL(fileURLWithPath: model))
            let device = try deviceOption.open()
            let network = try checkpoint.makeModel(on: device)
            var classIndex: Int?
            if let className {
                guard let index = checkpoint.classes.firstIndex(of: className) else {
                    fail("--class '\(className)' is not one of the model's classes: \(checkpoint.classes.joined(separator: ", "))")
                }
                classIndex = network.outputCount == 1 ? nil : index
            }
            let files = try ImageFiles.list(URL(fileURLWithPath: input))
            guard !files.isEmpty else { fail("\(input): no image files found") }
            let outURL = URL(fileURLWithPath: out, isDirectory: true)
            let shape = network.spec.inputShape
            var explained = 0
            for file in files {
                let original: Image
                do {
                    original = try ImageDecoder.decode(file, channels: shape[2])
                } catch let error as ImageError {
                    warn("skipped \(error)")
                    continue
                }
                let resized = FloatImage(original.resized(width: shape[1], height: shape[0]))
                let x = try Tensor(on: device, shape: [1, shape[2], shape[0], shape[1]],
                                   values: checkpoint.preprocessing.channelsFirst(resized))
                let cam = try GradCAM(model: network, input: x, layer: layer, classIndex: classIndex)
                let target = outURL.appendingPathComponent(file.deletingPathExtension().lastPathComponent + "-gradcam.png")
                try AtomicFile.write(try cam.overlay(on: original).pngData(), to: target)
                let name = network.outputCount == 1 ? checkpoint.classes[safe: 1] ?? "class 1" : checkpoint.classes[safe: cam.classIndex] ?? "\(cam.classIndex)"
                print("\(target.path): \(name), layer \(cam.layerName)")
                explained += 1
            }
            guard explained > 0 else { fail("\(input): none of the \(files.count) image files could be read") }
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
