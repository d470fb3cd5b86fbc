import ArgumentParser
import Foundation
import Lumen

struct ExtractFeatures: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract-features",
        abstract: "Run a frozen base over an image folder once and cache its outputs (bottleneck features).",
        discussion: "Works in chunks; run the same command again after an interruption and it continues.")

    @Option(help: "Base: a checkpoint or architecture, optionally :LAYER (default: the last layer with a [C, H, W] output larger than 1×1).")
    var base: String
    @Option(help: "A folder with one subfolder per class.") var data: String
    @Option(help: "Where to write the features (.safetensors).") var out: String
    @Option(help: "Images per batch.") var batchSize: Int = 32
    @Option(help: "Batches per saved chunk.") var chunkBatches: Int = 16
    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        if batchSize <= 0 || chunkBatches <= 0 { throw ValidationError("--batch-size and --chunk-batches must be positive") }
    }

    func run() throws {
        try reportingErrors {
            var reference = base, layer: String?
            if let colon = base.lastIndex(of: ":"), !FileManager.default.fileExists(atPath: base) {
                reference = String(base[..<colon])
                layer = String(base[base.index(after: colon)...])
            }
            let device = try deviceOption.open()
            let model: Model
            var preprocessing = Preprocessing.rescale
            if case .checkpoint(let url) = try ModelReference(reference) {
                let checkpoint = try Checkpoint(contentsOf: url)
                model = try checkpoint.makeModel(on: device)
                preprocessing = checkpoint.preprocessing
            } else {
                model = try Model(spec: try ModelReference(reference).spec(classes: 2, inputSize: nil, channels: nil), device: device)
                warn("\(reference) is an architecture, not a checkpoint: its weights are freshly initialised")
            }
            // The features keep the data's own classes: the head may learn other ones than the base did.
            let folder = try ImageFolder(root: URL(fileURLWithPath: data))
            for line in folder.warnings { warn(line) }
            let progress = BatchProgressLine(onStandardError: false)
            let result = try FeatureExtractor.run(base: model, layer: layer, folder: folder, preprocessing: preprocessing,
                                                  batchSize: batchSize, chunkBatches: chunkBatches, out: URL(fileURLWithPath: out),
                                                  badFile: { warn("skipped \($0)") }, progress: progress.show)
            print("wrote \(out): \(result.labels.count) feature maps \(result.sampleShape) from \(result.base.name)")
            printKernelProfile(device, "first-use GEMM timing included")
        }
    }
}

struct Combine: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join a base and a head trained on its features into one checkpoint.")

    @Option(help: "The base checkpoint the features came from.") var base: String
    @Option(help: "The head checkpoint from `lumen train --features`.") var head: String
    @Option(help: "Where to write the combined checkpoint.") var out: String
    @OptionGroup var deviceOption: DeviceOption

    func run() throws {
        try reportingErrors {
            let device = try deviceOption.open()
            let combined = try TransferComposition.combine(base: try Checkpoint(contentsOf: URL(fileURLWithPath: base)),
                                                           head: try Checkpoint(contentsOf: URL(fileURLWithPath: head)), device: device)
            try combined.write(to: URL(fileURLWithPath: out))
            print("wrote \(out): \(combined.spec.name), \(combined.spec.layers.count) layers")
        }
    }
}
