import Foundation

/// Data-parallel training over a `ProcessGroup`, as Horovod and DDP do it: every process
/// holds the same weights, trains on its share of each global batch, and adds its
/// gradients to the others' in one allreduce per step (one buffer for every tensor),
/// staged through host memory; so every process takes the same optimizer step.
public final class DataParallel: @unchecked Sendable {
    public let group: ProcessGroup
    /// BatchNorm statistics over the global batch (`--sync-batchnorm`), not each share's.
    public let synchronizesBatchNorm: Bool
    /// Seconds spent staging and summing gradients so far (the training thread's).
    public private(set) var allreduceSeconds = 0.0

    public init(group: ProcessGroup, synchronizesBatchNorm: Bool) {
        self.group = group
        self.synchronizesBatchNorm = synchronizesBatchNorm
    }

    /// How a batch from a sharded loader sits in its global batch, for the layers.
    public func share(of batch: Batch) -> ReplicaShare {
        let group = self.group
        return ReplicaShare(sampleOffset: batch.sampleOffset, sum: synchronizesBatchNorm ? { @Sendable values in
            var values = values
            try group.sum(&values)
            return values
        } : nil)
    }

    /// Rank 0's weights and statistics on every process.
    public func broadcastParameters(of model: Model) throws {
        guard group.size > 1 else { return }
        let parameters = model.parameters
        var values = try parameters.flatMap { try $0.value.toArray() }
        try group.broadcast(&values)
        try write(values, into: parameters.map(\.value))
    }

    /// Every trainable parameter's gradient summed over the processes (each process's
    /// loss gradient was scaled by its share of the global batch, so the sum is the
    /// global batch's gradient).
    public func sumGradients(of model: Model) throws {
        guard group.size > 1 else { return }
        let started = Date()
        defer { allreduceSeconds += Date().timeIntervalSince(started) }
        let parameters = model.parameters.filter { $0.trainable && $0.gradient != nil }
        var values = try parameters.flatMap { try $0.gradient!.toArray() }
        try group.sum(&values)
        try write(values, into: parameters.map { $0.gradient! })
    }

    /// Running statistics averaged over the processes, so they stay identical when each
    /// share normalised with its own batch statistics.
    public func averageRunningStatistics(of model: Model) throws {
        guard group.size > 1, !synchronizesBatchNorm else { return }
        let statistics = model.parameters.filter(\.isStatistic).map(\.value)
        guard !statistics.isEmpty else { return }
        var values = try statistics.flatMap { try $0.toArray() }
        try group.sum(&values)
        try write(values.map { $0 / Float(group.size) }, into: statistics)
    }

    /// An epoch's sums over every process; the scores AUC needs are gathered in rank order.
    func combined(_ metrics: EpochMetrics) throws -> EpochMetrics {
        guard group.size > 1 else { return metrics }
        var sums = [metrics.lossSum, Double(metrics.samples), Double(metrics.correct), Double(metrics.counted)]
        try group.sum(&sums)
        var result = metrics
        (result.lossSum, result.samples, result.correct, result.counted) = (sums[0], Int(sums[1]), Int(sums[2]), Int(sums[3]))
        var lengths = [Double](repeating: 0, count: group.size)
        lengths[group.rank] = Double(metrics.scores.count)
        try group.sum(&lengths)
        result.scores = []
        result.labels = []
        for rank in 0..<group.size where lengths[rank] > 0 {
            var scores = rank == group.rank ? metrics.scores : [Float](repeating: 0, count: Int(lengths[rank]))
            var labels = rank == group.rank ? metrics.labels.map(Float.init) : [Float](repeating: 0, count: Int(lengths[rank]))
            try group.broadcast(&scores, from: rank)
            try group.broadcast(&labels, from: rank)
            result.scores += scores
            result.labels += labels.map { Int($0) }
        }
        return result
    }

    private func write(_ values: [Float], into tensors: [Tensor]) throws {
        var start = 0
        for tensor in tensors {
            try tensor.write(Array(values[start..<start + tensor.count]))
            start += tensor.count
        }
    }
}
