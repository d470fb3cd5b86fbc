import CLShim

/// The processes training one model together, one device each: MPI's world when the
/// job was started by `mpirun` (or Slurm's `srun`), otherwise this process alone. The
/// collectives run on the host, over buffers the caller stages.
public final class ProcessGroup: @unchecked Sendable {
    /// This process's rank, the number of processes, and its rank among those on its node.
    public let rank: Int, size: Int, localRank: Int
    private let usesMPI: Bool

    private init(rank: Int, size: Int, localRank: Int, usesMPI: Bool) {
        (self.rank, self.size, self.localRank, self.usesMPI) = (rank, size, localRank, usesMPI)
    }

    /// This process alone: every collective is the identity.
    public static func single() -> ProcessGroup { ProcessGroup(rank: 0, size: 1, localRank: 0, usesMPI: false) }

    /// Starts MPI and joins its world. Call once, from the thread that trains.
    public static func mpi() throws -> ProcessGroup {
        var rank: Int32 = 0, size: Int32 = 1, local: Int32 = 0
        try check(lm_mpi_init(&rank, &size, &local), "starting MPI")
        return ProcessGroup(rank: Int(rank), size: Int(size), localRank: Int(local), usesMPI: true)
    }

    /// Whether this process writes files and prints progress: rank 0.
    public var isMain: Bool { rank == 0 }

    /// Element-wise sums over every process, in place.
    public func sum(_ values: inout [Float]) throws {
        guard usesMPI, size > 1, !values.isEmpty else { return }
        let count = values.count
        try values.withUnsafeMutableBufferPointer { try ProcessGroup.check(lm_mpi_sum_f32($0.baseAddress, count), "summing \(count) floats") }
    }

    public func sum(_ values: inout [Double]) throws {
        guard usesMPI, size > 1, !values.isEmpty else { return }
        let count = values.count
        try values.withUnsafeMutableBufferPointer { try ProcessGroup.check(lm_mpi_sum_f64($0.baseAddress, count), "summing \(count) doubles") }
    }

    /// The largest of every process's flag: any process saying yes.
    public func any(_ flag: Bool) throws -> Bool {
        guard usesMPI, size > 1 else { return flag }
        var value: Int32 = flag ? 1 : 0
        try ProcessGroup.check(lm_mpi_max_i32(&value, 1), "agreeing on a stop")
        return value != 0
    }

    /// Rank `root`'s values on every process, in place.
    public func broadcast(_ values: inout [Float], from root: Int = 0) throws {
        guard usesMPI, size > 1, !values.isEmpty else { return }
        let count = values.count
        try values.withUnsafeMutableBufferPointer {
            try ProcessGroup.check(lm_mpi_broadcast_f32($0.baseAddress, count, Int32(root)), "broadcasting \(count) floats")
        }
    }

    /// Ends MPI cleanly (every process must call it).
    public func finish() {
        if usesMPI, lm_mpi_active() != 0 { _ = lm_mpi_finalize() }
    }

    /// Stops every process of the job at once: for a failure one rank cannot recover from.
    public func abortAll(code: Int32 = 1) {
        if usesMPI, lm_mpi_active() != 0 { lm_mpi_abort(code) }
    }

    private static func check(_ status: Int32, _ what: String) throws {
        guard status == 0 else { throw LumenError.distributed("MPI failed \(what) (MPI error class \(status))") }
    }
}
