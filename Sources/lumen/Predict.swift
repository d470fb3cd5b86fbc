import ArgumentParser
import Foundation
import Lumen

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Class probabilities for an image or every image in a folder.",
        discussion: "Images are resized to the model's input and preprocessed as the checkpoint records (1/255 by default).")

    @Option(help: "A checkpoint written by `lumen init` or `lumen train`.") var model: String
    @Option(help: "For a head trained on features: the base checkpoint they came from.") var base: String?
    @Option(help: "An image file, or a folder searched recursively.") var input: String
    @Flag(help: "Print JSON: file, predicted, probabilities.") var json = false
    @Flag(help: "Print CSV: file, predicted, then one column per class.") var csv = false
    @Option(help: "Images per batch.") var batchSize: Int = 32
    @Option(help: "Test-time augmentation: average the original and N augmented draws per image.") var tta: Int = 0
    @Option(help: "Seed for the augmentation draws.") var seed: UInt64 = 0
    @OptionGroup var deviceOption: DeviceOption
    @OptionGroup var augmentationOptions: AugmentationOptions

    func validate() throws {
        if json && csv { throw ValidationError("choose one of --json and --csv") }
        if batchSize <= 0 { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
    }

    func run() throws {
        try reportingErrors {
            let device = try deviceOption.open()
            let checkpoint = try Checkpoint(contentsOf: URL(fileURLWithPath: model), joinedTo: base, device: device)
            let files = try ImageFiles.list(URL(fileURLWithPath: input))
            guard !files.isEmpty else { fail("\(input): no image files (png, jpg, jpeg, bmp, ppm, tif, tiff) found") }
            let predictor = try Predictor(checkpoint: checkpoint, device: device)
            let augmentation = try augmentationOptions.testAugmentation(base: nil, seed: seed, tta: tta, requireTTA: true)
            let results = try predictor.predict(files, batchSize: batchSize, augmentation: augmentation, skipped: { error in
                FileHandle.standardError.write(Data("lumen: warning: skipped \(error)\n".utf8))
            }, progress: BatchProgressLine(onStandardError: true).show)
            guard !results.isEmpty else { fail("\(input): none of the \(files.count) image files could be read") }
            let classes = predictor.classes
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(results), as: UTF8.self))
            } else if csv {
                print((["file", "predicted"] + classes).map(csvField).joined(separator: ","))
                for r in results {
                    print(([r.file, r.predicted] + r.ordered.map { String(format: "%.6f", $0) }).map(csvField).joined(separator: ","))
                }
            } else {
                let width = max(4, results.map(\.file.count).max() ?? 0)
                print("file".padding(toLength: width, withPad: " ", startingAt: 0) + "  predicted  " +
                      classes.joined(separator: "  "))
                for r in results {
                    let cells = zip(classes, r.ordered).map { name, p in
                        String(format: "%.4f", p).padding(toLength: max(name.count, 6), withPad: " ", startingAt: 0)
                    }
                    print(r.file.padding(toLength: width, withPad: " ", startingAt: 0) + "  " +
                          r.predicted.padding(toLength: 9, withPad: " ", startingAt: 0) + "  " + cells.joined(separator: "  "))
                }
            }
        }
    }

    private func csvField(_ text: String) -> String {
        text.contains(where: { ",\"\n".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
