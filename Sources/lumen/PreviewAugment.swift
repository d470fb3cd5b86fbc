import ArgumentParser
import Foundation
import Lumen

struct PreviewAugment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview-augment",
        abstract: "Write a grid of augmented samples: each row an image, then its augmented draws.")

    @Option(help: "A folder with one subfolder per class.") var data: String
    @Option(help: "Where to write the PNG grid.") var out: String
    @Option(help: "A YAML or JSON file with an `augmentation:` section.") var config: String?
    @Option(help: "Rows (images) in the grid.") var rows: Int = 4
    @Option(help: "Augmented draws per image.") var variants: Int = 5
    @Option(help: "Seed of the random draws.") var seed: UInt64 = 0
    @OptionGroup var image: ImageOptions
    @OptionGroup var augmentationOptions: AugmentationOptions

    func validate() throws {
        if rows < 1 || rows > 64 { throw ValidationError("--rows must be between 1 and 64, got \(rows)") }
        if variants < 1 || variants > 32 { throw ValidationError("--variants must be between 1 and 32, got \(variants)") }
    }

    func run() throws {
        try reportingErrors {
            let base = try config.map { try ConfigFile.decode(DataConfig.self, from: URL(fileURLWithPath: $0)).augmentation } ?? nil
            let augmentation = try augmentationOptions.augmentation(base: base)
            let folder = try ImageFolder(root: URL(fileURLWithPath: data))
            for line in folder.warnings { warn(line) }
            let size = image.inputSize ?? 150
            var options = LoaderOptions(height: size, width: size, channels: image.color == .grayscale ? 1 : 3)
            options.interpolation = image.interpolation
            options.seed = seed
            let grid = try AugmentationPreview.grid(folder: folder, augmentation: augmentation, options: options,
                                                    rows: rows, variants: variants)
            try AtomicFile.write(try grid.pngData(), to: URL(fileURLWithPath: out))
            print("wrote \(out): \(min(rows, folder.samples.count)) images × \(variants) augmented draws")
        }
    }
}
