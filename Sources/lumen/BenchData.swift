import ArgumentParser
import Foundation
import Lumen

struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data",
        abstract: "Measure the input pipeline: decode, resize, augment and batch a folder, in images/s.")

    @Option(help: "A folder with one subfolder per class.") var data: String
    @Option(help: "Thread counts to measure, comma-separated.") var threads: String = "1,2"
    @Option(help: "Images per batch.") var batchSize: Int = 32
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var image: ImageOptions
    @OptionGroup var augmentationOptions: AugmentationOptions

    func run() throws {
        try reportingErrors {
            let counts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { fail("--threads takes positive counts like 1,2, got '\(threads)'") }
            let folder = try ImageFolder(root: URL(fileURLWithPath: data))
            let size = image.inputSize ?? 150
            var options = LoaderOptions(height: size, width: size, channels: image.color == .grayscale ? 1 : 3)
            options.interpolation = image.interpolation
            options.batchSize = batchSize
            let augmentation = try augmentationOptions.augmentation(base: nil)
            options.augmentation = augmentation.isIdentity ? nil : augmentation
            var results: [DataBenchmark.Result] = []
            for count in counts { results.append(try DataBenchmark.run(folder: folder, options: options, threads: count)) }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(results), as: UTF8.self))
            } else {
                for r in results {
                    print(String(format: "threads %d: %d images in %.2f s, %.1f images/s", r.threads, r.images, r.seconds, r.imagesPerSecond))
                }
            }
        }
    }
}
