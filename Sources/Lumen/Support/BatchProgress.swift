import Foundation

/// How far a pass over a folder's batches has got (feature extraction), for the CLI to
/// show with an ETA.
public struct BatchProgress: Sendable, Equatable {
    /// Batches done of `total`, counting those an earlier, interrupted run kept.
    public var done: Int, total: Int
    /// Batches computed by this process (fewer than `done` after a resume).
    public var batchesRun: Int
    /// Wall-clock seconds since this process began the pass, and of those the seconds
    /// spent compiling kernels and timing GEMMs (first use).
    public var elapsed: Double, firstUse: Double

    public init(done: Int, total: Int, batchesRun: Int, elapsed: Double, firstUse: Double) {
        (self.done, self.total, self.batchesRun, self.elapsed, self.firstUse) = (done, total, batchesRun, elapsed, firstUse)
    }

    /// Seconds left at the rate of the batches this process computed, first-use work left out.
    public var eta: Double {
        batchesRun > 0 ? max(elapsed - firstUse, 0) / Double(batchesRun) * Double(max(total - done, 0)) : 0
    }
}
