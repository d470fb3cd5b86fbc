/// Keras' `steps_per_epoch` (and `validation_steps`) over a batch source: an epoch is
/// `steps` batches taken from the endless sequence of the source's passes, each pass
/// shuffled and augmented as an epoch of its own, so every epoch continues where the
/// last one stopped (as a Keras generator does), and a resumed run keeps its place.
public final class StepsPerEpoch: BatchSource {
    public let source: BatchSource
    public let steps: Int

    public init(_ source: BatchSource, steps: Int) {
        self.source = source
        self.steps = steps
    }

    /// About the samples of `steps` batches.
    public var sampleCount: Int {
        let passBatches = max(source.batchesPerEpoch, 1)
        return Int((Double(source.sampleCount) * Double(steps) / Double(passBatches)).rounded())
    }

    public var batchesPerEpoch: Int { steps }
    public var batchesPerPass: Int { source.batchesPerPass }
    public var imageLoader: BatchLoader? { source.imageLoader }
    public var badFiles: [String] { source.badFiles }
    public var unusableSamples: [Float] { source.unusableSamples }
    public func skip(unusable flags: [Float]) { source.skip(unusable: flags) }

    /// Batches e·steps + skipping … (e + 1)·steps − 1 of the endless sequence.
    public func epoch(_ epoch: Int, skipping: Int) -> BatchStream {
        let passBatches = source.batchesPerEpoch, first = epoch * steps + skipping
        let count = passBatches > 0 ? max(steps - skipping, 0) : 0
        var current: (pass: Int, stream: BatchStream)?
        // The maker runs on one producer thread, in order: it moves from pass to pass.
        return BatchStream(count: count, depth: 1) { [source] index in
            var global = first + index
            while true {
                let pass = global / passBatches
                if current?.pass != pass { current = (pass, source.epoch(pass, skipping: global % passBatches)) }
                // Batch `global` itself, nil when every file of it is bad (a step passed
                // over, which keeps the batches of later steps, and a resume, in place).
                if let position = try current!.stream.nextPosition() { return position }
                // The pass ended early: go on with the next.
                global = (pass + 1) * passBatches
            }
        }
    }
}
