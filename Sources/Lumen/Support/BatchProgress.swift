import Foundation

/// How far a pass over a folder's batches (or images) has got — feature extraction,
/// evaluation, prediction, Grad-CAM — for the CLI to show with an ETA.
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
    public var eta: Double { eta(since: nil) }

    /// Seconds left at the rate of the batches run since `earlier` (a report of this same
    /// pass, such as its first, whose start-up — the loader's first decodes, buffers made
    /// afresh — then stays out of the rate), or of all batches run while none have run
    /// since it; first-use work left out either way.
    public func eta(since earlier: BatchProgress?) -> Double {
        var (seconds, batches) = (elapsed - firstUse, batchesRun)
        if let earlier, batchesRun > earlier.batchesRun {
            (seconds, batches) = (seconds - (earlier.elapsed - earlier.firstUse), batchesRun - earlier.batchesRun)
        }
        return batches > 0 ? max(seconds, 0) / Double(batches) * Double(max(total - done, 0)) : 0
    }
}

/// The clock of one pass over batches on a device: each report counts the wall-clock
/// time and the first-use work since the pass began.
public struct PassClock {
    private let device: Device
    private let started = Date()
    private let firstUseBefore: Double

    public init(device: Device) {
        self.device = device
        firstUseBefore = device.firstUseSeconds
    }

    public func progress(done: Int, total: Int, batchesRun: Int) -> BatchProgress {
        BatchProgress(done: done, total: total, batchesRun: batchesRun, elapsed: Date().timeIntervalSince(started),
                      firstUse: device.firstUseSeconds - firstUseBefore)
    }
}
