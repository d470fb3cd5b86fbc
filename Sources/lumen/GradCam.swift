import ArgumentParser
import Foundation
import Lumen

struct GradCam: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcam",
        abstract: "Write Grad-CAM heatmaps overlaid on images: where the model looked for a class.")

    @Option(help: "A checkpoint.") var model: String
    @Option(help: "An image, or a folder searched recursively.") var input: String
    @Option(help: "Folder for <name>-gradcam.png files, in the input folder's subfolders (<name>.<ext>-gradcam.png where two images of a folder share a name).") var out: String
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
            let targets = GradCam.heatmapURLs(for: files, input: URL(fileURLWithPath: input),
                                              out: URL(fileURLWithPath: out, isDirectory: true))
            let shape = network.spec.inputShape
            var explained = 0
            // Over several files each line says how far along the folder it is, with an ETA
            // at the rate of the images after the first (first-use compiling left out).
            let clock = PassClock(device: device)
            var first: BatchProgress?
            for (index, file) in files.enumerated() {
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
                let target = targets[index]
                try AtomicFile.write(try cam.overlay(on: original).pngData(), to: target)
                let name = network.outputCount == 1 ? checkpoint.classes[safe: 1] ?? "class 1" : checkpoint.classes[safe: cam.classIndex] ?? "\(cam.classIndex)"
                explained += 1
                let progress = clock.progress(done: index + 1, total: files.count, batchesRun: explained)
                if first == nil { first = progress }
                let position = files.count > 1
                    ? "  (\(index + 1)/\(files.count), ETA \(ProgressReporter.clock(progress.eta(since: first))))" : ""
                print("\(target.path): \(name), layer \(cam.layerName)\(position)")
                fflush(stdout)
            }
            guard explained > 0 else { fail("\(input): none of the \(files.count) image files could be read") }
        }
    }
}

extension GradCam {
    /// Where each file's heatmap goes: its folder under `input` mirrored under `out`, named
    /// <name>-gradcam.png, or <name>.<ext>-gradcam.png where two files of a folder share a
    /// name (x.jpg and x.png), so that no heatmap overwrites another.
    static func heatmapURLs(for files: [URL], input: URL, out: URL) -> [URL] {
        let root = input.standardizedFileURL.path
        let relative = files.map { file -> String in
            let path = file.standardizedFileURL.path
            return path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : file.lastPathComponent
        }
        let stems = relative.map { ($0 as NSString).deletingPathExtension }
        let shared = Set(Dictionary(grouping: stems, by: { $0 }).filter { $0.value.count > 1 }.keys)
        return zip(relative, stems).map { path, stem in out.appendingPathComponent((shared.contains(stem) ? path : stem) + "-gradcam.png") }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
