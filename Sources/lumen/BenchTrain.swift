import ArgumentParser
import Foundation
import Lumen

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-train",
        abstract: "Measure training throughput (images/s) on synthetic data, after warm-up.")

    @Option(help: "xray-cnn, fashion-cnn or a model spec.") var model: String = "xray-cnn"
    @Option(help: "Images per step.") var batchSize: Int = 16
    @Option(help: "Timed steps.") var steps: Int = 10
    @Option(help: "Classes.") var classes: Int = 2
    @Option(help: "Square input size (default: the architecture's).") var inputSize: Int?
    @Flag(help: "Print JSON with images_per_second.") var json = false
    @OptionGroup var deviceOption: DeviceOption

    func validate() throws {
        if batchSize <= 0 || steps <= 0 { throw ValidationError("--batch-size and --steps must be positive") }
    }

    func run() throws {
        let start = Date()
        try reportingErrors {
            let spec = try ModelReference(model).spec(classes: classes, inputSize: inputSize, channels: nil)
            let device = try deviceOption.open()
            let result = try TrainingBenchmark.run(spec: spec, device: device, batchSize: batchSize, steps: steps, since: start)
            printKernelProfile(device, "warm-up included")
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print(String(format: "%@ on %@: batch %d, %d steps in %.2f s: %.1f images/s; first step done %.2f s after start",
                             result.model, result.device, result.batchSize, result.steps, result.seconds, result.imagesPerSecond,
                             result.secondsToFirstStep))
            }
        }
    }
}
