import CLShim
import Foundation

/// Freed device buffers kept for reuse, by exact size, as PyTorch's caching allocator
/// does: a training step allocates the same sizes every time, and a fresh buffer costs
/// page faults on first touch (PoCL) or a driver allocation (GPUs). Kernels run on one
/// in-order queue, so a buffer handed out again is written only after every kernel
/// enqueued on its earlier life. Holds at most `limit` bytes: room for a newly freed
/// buffer is made by freeing the longest-kept ones, so sizes that stop recurring go first.
final class MemoryPool: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [(bytes: Int, memory: OpaquePointer)] = []  // oldest first
    private var pooledBytes = 0
    let limit: Int

    init(limit: Int) { self.limit = limit }

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

    /// The most recently kept buffer of exactly `bytes`, or nil.
    func take(_ bytes: Int) -> OpaquePointer? {
        lock.lock()
        defer { lock.unlock() }
        guard let index = kept.lastIndex(where: { $0.bytes == bytes }) else { return nil }
        pooledBytes -= bytes
        return kept.remove(at: index).memory
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
