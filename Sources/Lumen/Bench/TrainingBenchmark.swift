import Foundation

/// Training throughput on synthetic data: whole training steps (forward, loss, backward,
/// optimizer) on random inputs, timed after warm-up steps, so it measures the device
/// path alone.
public enum TrainingBenchmark {
    public struct Result: Encodable {
        public let model: String
        public let device: String
        public let batchSize: Int
        public let steps: Int
        public let seconds: Double
        public let imagesPerSecond: Double
        public let firstStepSeconds: Double
        /// From `since` (the process start, for the CLI) to the end of the first step.
        public let secondsToFirstStep: Double

        enum CodingKeys: String, CodingKey {
            case model, device, steps, seconds
            case batchSize = "batch_size", imagesPerSecond = "images_per_second", firstStepSeconds = "first_step_seconds"
            case secondsToFirstStep = "seconds_to_first_step"
        }
    }

    public static func run(spec: ModelSpec, device: Device, batchSize: Int, steps: Int, warmup: Int = 2,
                           since processStart: Date = Date()) throws -> Result {
        let model = try Model(spec: spec, device: device, seed: 1)
        let shape = [batchSize] + spec.channelsFirstInput
        var random = SplitMix64(seed: 9)
        let inputs = (0..<shape.reduce(1, *)).map { _ in random.nextFloat(in: 0..<1) }
        let classes = model.outputCount == 1 ? 2 : model.outputCount
        let labels = (0..<batchSize).map { $0 % classes }
        let x = try Tensor(on: device, shape: shape, values: inputs)
        let optimizer = Adam()
        let loss = Loss(model.defaultLoss)
        let first = Date()
        var toFirstStep = 0.0
        for index in 0..<max(1, warmup) {
            try model.trainStep(x, labels: labels, loss: loss, optimizer: optimizer)
            if index == 0 {
                try device.synchronize()
                toFirstStep = Date().timeIntervalSince(processStart)
            }
        }
        try device.synchronize()
        let firstStep = Date().timeIntervalSince(first) / Double(max(1, warmup))
        let start = Date()
        for _ in 0..<steps {
            // A fresh upload per step, as training does.
            let batch = try Tensor(on: device, shape: shape, values: inputs)
            try model.trainStep(batch, labels: labels, loss: loss, optimizer: optimizer)
        }
        try device.synchronize()
        let seconds = Date().timeIntervalSince(start)
        return Result(model: spec.name, device: device.info.name, batchSize: batchSize, steps: steps, seconds: seconds,
                      imagesPerSecond: Double(steps * batchSize) / seconds, firstStepSeconds: firstStep,
                      secondsToFirstStep: toFirstStep)
    }
}
