import CLShim
import Foundation

/// Freed device buffers kept for reuse, as PyTorch's caching allocator does: a training
/// step allocates the same sizes every time, and a fresh buffer costs page faults on
/// first touch (PoCL) or a driver allocation (GPUs). A request takes a kept buffer of its
/// exact size, else, from `lendingFloor` bytes up, the smallest kept one up to twice its
/// size (so the first pass of a network, whose large sizes mostly differ, reuses what
/// earlier layers freed; small buffers cost few page faults and stay exact). Kernels run on one
/// in-order queue, so a buffer handed out again is written only after every kernel
/// enqueued on its earlier life. Holds at most `limit` bytes: room for a newly freed
/// buffer is made by freeing the longest-kept ones, so sizes that stop recurring go first.
final class MemoryPool: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [(bytes: Int, memory: OpaquePointer)] = []  // oldest first
    private var pooledBytes = 0
    let limit: Int
    let lendingFloor: Int

    init(limit: Int, lendingFloor: Int = 1 << 20) {
        self.limit = limit
        self.lendingFloor = lendingFloor
    }

    /// The limit for a device with `deviceMemory` bytes: half of it, at most 8 GiB. A pass
    /// frees and re-allocates the same sizes in the same order, so a pool smaller than the
    /// buffers of one pass evicts each size just before it recurs and nearly every
    /// allocation misses (Xception's feature extraction at batch 32 on PoCL, whose device
    /// reports 8.7 GiB on a 24 GiB machine: at a quarter, every batch allocated its large
    /// buffers afresh and paid their page faults; at a half, only the first batch does).
    /// An allocation that fails drains the pool and tries again.
    static func limit(deviceMemory: UInt64) -> Int { Int(min(deviceMemory / 2, 8 << 30)) }

    deinit { drain() }

    /// Bytes held for reuse now.
    var heldBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return pooledBytes
    }

    /// The most recently kept buffer of exactly `bytes`, else (from `lendingFloor` up) the
    /// smallest kept one of at most twice that, with its size (what it is given back as);
    /// nil when neither is kept.
    func take(_ bytes: Int) -> (memory: OpaquePointer, bytes: Int)? {
        lock.lock()
        defer { lock.unlock() }
        func smallestLarger() -> Int? {
            guard bytes >= lendingFloor else { return nil }
            return kept.indices.filter { kept[$0].bytes > bytes && kept[$0].bytes <= 2 * bytes }
                .min { kept[$0].bytes < kept[$1].bytes }
        }
        guard let index = kept.lastIndex(where: { $0.bytes == bytes }) ?? smallestLarger() else { return nil }
        let taken = kept.remove(at: index)
        pooledBytes -= taken.bytes
        return (taken.memory, taken.bytes)
    }

    func give(_ memory: OpaquePointer, bytes: Int) {
        guard bytes <= limit else {
            lm_buffer_free(memory)
            return
        }
        lock.lock()
        var evicted: [OpaquePointer] = []
        while pooledBytes + bytes > limit, !kept.isEmpty {
            let oldest = kept.removeFirst()
            pooledBytes -= oldest.bytes
            evicted.append(oldest.memory)
        }
        kept.append((bytes, memory))
        pooledBytes += bytes
        lock.unlock()
        for old in evicted { lm_buffer_free(old) }
    }

    /// Frees every pooled buffer; returns the bytes freed.
    @discardableResult
    func drain() -> Int {
        lock.lock()
        let buffers = kept.map(\.memory)
        let bytes = pooledBytes
        kept = []
        pooledBytes = 0
        lock.unlock()
        for memory in buffers { lm_buffer_free(memory) }
        return bytes
    }
}
