import ArgumentParser
import Foundation
import Lumen

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a checkpoint on a labelled image folder: loss, accuracy, confusion matrix, classification report.")

    @Option(help: "A checkpoint from `lumen train`.") var model: String
    @Option(help: "A folder with one subfolder per class.") var data: String
    @Option(help: "For two classes: predict class 1 when its probability is at least this.") var threshold: Double?
    @Option(help: "Decimals in the classification report.") var digits: Int = 2
    @Option(help: "Write predictions.csv and metrics.json here.") var out: String?
    @Option(help: "Images per batch.") var batchSize: Int = 32
    @Flag(help: "Print everything as JSON.") var json = false
    @Option(help: "A YAML or JSON config whose augmentation: section perturbs the test images (flags override it).")
    var config: String?
    @Option(help: "Seed for the augmentation draws.") var seed: UInt64 = 0
    @Option(help: "Test-time augmentation: average the original and N augmented draws per image.") var tta: Int = 0
    @OptionGroup var deviceOption: DeviceOption
    @OptionGroup var augmentationOptions: AugmentationOptions

    func validate() throws {
        if let threshold, !(0...1).contains(threshold) { throw ValidationError("--threshold must be between 0 and 1, got \(threshold)") }
        if digits < 0 || digits > 10 { throw ValidationError("--digits must be between 0 and 10, got \(digits)") }
        if batchSize <= 0 { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        if tta < 0 { throw ValidationError("--tta must not be negative, got \(tta)") }
    }

    func run() throws {
        try reportingErrors {
            let checkpoint = try Checkpoint(contentsOf: URL(fileURLWithPath: model))
            let device = try deviceOption.open()
            let network = try checkpoint.makeModel(on: device)
            let folder = try ImageFolder(root: URL(fileURLWithPath: data), classes: checkpoint.classes)
            for line in folder.warnings { warn(line) }
            let base = try config.map { try ConfigFile.decode(DataConfig.self, from: URL(fileURLWithPath: $0)).augmentation }
            let augmentation = try augmentationOptions.testAugmentation(base: base ?? nil, seed: seed, tta: tta)
            let result = try Evaluation.run(model: network, classes: checkpoint.classes, preprocessing: checkpoint.preprocessing,
                                            folder: folder, threshold: threshold, batchSize: batchSize,
                                            augmentation: augmentation, badFile: { warn("skipped \($0)") },
                                            progress: BatchProgressLine(onStandardError: true).show)
            if let out {
                try EvaluationFiles.write(result, checkpoint: checkpoint, checkpointURL: URL(fileURLWithPath: model), model: network,
                                          to: URL(fileURLWithPath: out, isDirectory: true))
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
                return
            }
            if let augmentation = result.augmentation { print("evaluated on \(augmentation.summary)") }
            print(String(format: "loss %.4f  accuracy %.4f  (%d images)", result.loss, result.accuracy, result.items.count))
            print("\nConfusion matrix (rows: true, columns: predicted)\n" + result.confusion.table())
            print("\nNormalised by row\n" + result.confusion.table(normalized: true))
            print("\n" + result.report.text(digits: digits), terminator: "")
            if let binary = result.binary {
                print(String(format: "\nsensitivity (%@) %.4f  specificity (%@) %.4f  ROC AUC %@", result.classes[1], binary.sensitivity,
                             result.classes[0], binary.specificity, binary.rocAUC.map { String(format: "%.4f", $0) } ?? "n/a"))
            }
            if let out { print("\nwrote predictions.csv, metrics.json, the charts and report.html to \(out)") }
        }
    }
}
