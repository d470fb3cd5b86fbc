import CLShim
import Foundation

/// The ranks training one model together, one device each: MPI's world when the job
/// was started by `mpirun` (or Slurm's `srun`); threads of this process, one per device
/// (`--device gpu:0,gpu:1`); or this process alone. The collectives run on the host, over
/// buffers the caller stages.
public final class ProcessGroup: @unchecked Sendable {
    /// This rank, the number of ranks, and its rank among those on its node.
    public let rank: Int, size: Int, localRank: Int
    private let usesMPI: Bool
    /// Shared by the ranks that are threads of this process.
    private let threads: ThreadCollective?

    private init(rank: Int, size: Int, localRank: Int, usesMPI: Bool, threads: ThreadCollective? = nil) {
        (self.rank, self.size, self.localRank, self.usesMPI, self.threads) = (rank, size, localRank, usesMPI, threads)
    }

    /// This process alone: every collective is the identity.
    public static func single() -> ProcessGroup { ProcessGroup(rank: 0, size: 1, localRank: 0, usesMPI: false) }

    /// `count` ranks that are threads of this process, one per device; each thread uses
    /// its own member.
    public static func threads(_ count: Int) -> [ProcessGroup] {
        let shared = ThreadCollective(count: count)
        return (0..<count).map { ProcessGroup(rank: $0, size: count, localRank: $0, usesMPI: false, threads: shared) }
    }

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
        if let threads { values = try threads.elementwise(rank, values.map(Double.init), +).map(Float.init); return }
        guard usesMPI, size > 1, !values.isEmpty else { return }
        let count = values.count
        try values.withUnsafeMutableBufferPointer { try ProcessGroup.check(lm_mpi_sum_f32($0.baseAddress, count), "summing \(count) floats") }
    }

    public func sum(_ values: inout [Double]) throws {
        if let threads { values = try threads.elementwise(rank, values, +); return }
        guard usesMPI, size > 1, !values.isEmpty else { return }
        let count = values.count
        try values.withUnsafeMutableBufferPointer { try ProcessGroup.check(lm_mpi_sum_f64($0.baseAddress, count), "summing \(count) doubles") }
    }

    /// The largest of every process's flag: any process saying yes.
    public func any(_ flag: Bool) throws -> Bool {
        if let threads { return try threads.elementwise(rank, [flag ? 1 : 0], max)[0] != 0 }
        guard usesMPI, size > 1 else { return flag }
        var value: Int32 = flag ? 1 : 0
        try ProcessGroup.check(lm_mpi_max_i32(&value, 1), "agreeing on a stop")
        return value != 0
    }

    /// Rank `root`'s values on every process, in place.
    public func broadcast(_ values: inout [Float], from root: Int = 0) throws {
        if let threads {
            values = try threads.combine(rank, rank == root ? values.map(Double.init) : [], { $0.isEmpty ? $1 : $0 }).map(Float.init)
            return
        }
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

/// Collectives between threads of one process: each rank deposits its values, the last
/// to arrive combines them in rank order (so every rank gets the same result, whatever
/// the arrival order), and all leave with the result before the next round begins. Every
/// rank must make the same calls in the same order: a round whose non-empty deposits
/// differ in length (ranks out of step) fails on every rank, naming the lengths.
final class ThreadCollective: @unchecked Sendable {
    private let count: Int
    private let condition = NSCondition()
    private var deposits: [[Double]?]
    private var result: [Double] = []
    private var failure: String?
    private var arrived = 0, leaving = 0, round = 0

    init(count: Int) {
        self.count = count
        deposits = [[Double]?](repeating: nil, count: count)
    }

    /// Every rank's `values` combined element-wise with `operation`, in rank order.
    func elementwise(_ rank: Int, _ values: [Double], _ operation: @escaping (Double, Double) -> Double) throws -> [Double] {
        try combine(rank, values) { a, b in
            if a.isEmpty { return b }
            if b.isEmpty { return a }
            return zip(a, b).map(operation)
        }
    }

    /// Every rank's `values` folded with `fold` in rank order; every rank gets the result.
    func combine(_ rank: Int, _ values: [Double], _ fold: ([Double], [Double]) -> [Double]) throws -> [Double] {
        condition.lock()
        defer { condition.unlock() }
        while leaving > 0 { condition.wait() }  // the previous round is still being read
        let myRound = round
        deposits[rank] = values
        arrived += 1
        if arrived == count {
            let lengths = deposits.map { $0?.count ?? 0 }
            failure = Set(lengths.filter { $0 > 0 }).count > 1
                ? "ranks out of step: one collective got \(lengths.map(String.init).joined(separator: ", ")) values from ranks 0–\(count - 1)"
                : nil
            result = failure == nil ? deposits.dropFirst().reduce(deposits[0] ?? []) { fold($0, $1 ?? []) } : []
            deposits = [[Double]?](repeating: nil, count: count)
            arrived = 0
            leaving = count
            round += 1
            condition.broadcast()
        } else {
            while round == myRound { condition.wait() }
        }
        let mine = result, failed = failure
        leaving -= 1
        if leaving == 0 { condition.broadcast() }
        if let failed { throw LumenError.distributed(failed) }
        return mine
    }
}
