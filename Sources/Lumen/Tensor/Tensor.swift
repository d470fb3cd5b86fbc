import CLShim
import Foundation

/// A float32 tensor in device memory, NCHW for images.
///
/// The tensor owns its buffer and releases it when the last reference goes (Swift's
/// reference counting makes that deterministic), or earlier through `release()`.
public final class Tensor {
    /// The device the buffer lives on.
    public let device: Device
    /// Dimensions, outermost first: `[N, C, H, W]` for image batches.
    public let shape: [Int]
    /// Number of elements: the product of `shape`.
    public let count: Int
    /// The device memory, shared by reshaped views of the same tensor.
    let storage: DeviceBuffer

    /// A tensor whose contents are undefined until written. Kernels that fill every
    /// element use it for their output; nothing may read it before that.
    init(uninitializedOn device: Device, shape: [Int]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw LumenError.shapeMismatch("negative dimension in \(shape)")
        }
        let count = shape.reduce(1, *)
        self.device = device
        self.shape = shape
        self.count = count
        self.storage = try DeviceBuffer(device: device, bytes: max(count, 1) * MemoryLayout<Float>.size,
                                        purpose: "a \(shape) tensor")
    }

    private init(viewing storage: DeviceBuffer, device: Device, shape: [Int]) {
        self.device = device
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = storage
    }

    /// The same elements under another shape with as many elements; no copy is made.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard newShape.reduce(1, *) == count, newShape.allSatisfy({ $0 >= 0 }) else {
            throw LumenError.shapeMismatch("cannot view \(shape) as \(newShape)")
        }
        return Tensor(viewing: storage, device: device, shape: newShape)
    }

    /// Frees the device buffer now, for this tensor and every view of it. Any later use throws.
    public func release() { storage.release() }

    /// The buffer, or an error when the tensor was released.
    func liveMemory() throws -> OpaquePointer {
        guard let memory = storage.memory else {
            throw CLError(status: CL_INVALID_MEM_OBJECT, operation: "using a released \(shape) tensor")
        }
        return memory
    }

    /// A tensor holding `values` in row-major order.
    public convenience init(on device: Device, shape: [Int], values: [Float]) throws {
        try self.init(uninitializedOn: device, shape: shape)
        guard values.count == count else {
            throw LumenError.shapeMismatch("\(values.count) values for shape \(shape) (\(count) elements)")
        }
        try write(values)
    }

    /// A tensor with every element set to `value`.
    public convenience init(on device: Device, shape: [Int], repeating value: Float) throws {
        try self.init(uninitializedOn: device, shape: shape)
        try Elementwise.fill(self, with: value)
    }

    /// A tensor of zeros.
    public static func zeros(on device: Device, shape: [Int]) throws -> Tensor {
        try Tensor(on: device, shape: shape, repeating: 0)
    }

    /// Replaces the contents with `values` (row-major, `count` of them).
    public func write(_ values: [Float]) throws {
        guard values.count == count else {
            throw LumenError.shapeMismatch("\(values.count) values for shape \(shape)")
        }
        let memory = try liveMemory()
        try values.withUnsafeBytes { bytes in
            try check(lm_buffer_write(device.handle, memory, 0, bytes.count, bytes.baseAddress),
                      "copying \(bytes.count) bytes to \(device.info.name)")
        }
    }

    /// The contents, row-major. Waits for queued work on the tensor to finish.
    public func toArray() throws -> [Float] {
        let memory = try liveMemory()
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { bytes in
            try check(lm_buffer_read(device.handle, memory, 0, bytes.count, bytes.baseAddress),
                      "copying \(bytes.count) bytes from \(device.info.name)")
        }
        return values
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor\(shape) on \(device.info.name)" }
}

/// One device allocation, handed back to its device's `BufferPool` when the last tensor
/// viewing it goes.
final class DeviceBuffer {
    private(set) var memory: OpaquePointer?
    let bytes: Int
    private let pool: BufferPool

    init(device: Device, bytes: Int, purpose: @autoclosure () -> String) throws {
        // Above the device's largest single allocation, say so plainly rather than let
        // the driver answer CL_INVALID_BUFFER_SIZE.
        guard UInt64(bytes) <= device.info.maxAllocationBytes || device.info.maxAllocationBytes == 0 else {
            throw LumenError.deviceMemory(purpose: purpose(), bytes: bytes, limit: device.info.maxAllocationBytes,
                                          device: device.info.name)
        }
        self.pool = device.bufferPool
        self.bytes = bytes
        if let reused = pool.take(bytes) {
            self.memory = reused
            return
        }
        var memory: OpaquePointer?
        var status = lm_buffer_alloc(device.handle, bytes, &memory)
        func outOfMemory(_ status: Int32) -> Bool {
            status == CL_MEM_OBJECT_ALLOCATION_FAILURE || status == CL_OUT_OF_RESOURCES || status == CL_OUT_OF_HOST_MEMORY
        }
        if outOfMemory(status) && pool.drain() > 0 {
            status = lm_buffer_alloc(device.handle, bytes, &memory)
        }
        if outOfMemory(status) {
            throw LumenError.deviceMemory(purpose: purpose(), bytes: bytes, limit: device.info.globalMemoryBytes,
                                          device: device.info.name)
        }
        try check(status, "allocating \(bytes) bytes for \(purpose()) on \(device.info.name)")
        self.memory = memory
    }

    deinit { release() }

    func release() {
        if let memory { pool.give(memory, bytes: bytes) }
        memory = nil
    }
}

/// Freed device buffers kept for reuse, by exact size, as PyTorch's caching allocator
/// does: a training step allocates the same sizes every time, and a fresh buffer costs
/// page faults on first touch (PoCL) or a driver allocation (GPUs). Kernels run on one
/// in-order queue, so a buffer handed out again is written only after every kernel
/// enqueued on its earlier life. Holds at most `limit` bytes: room for a newly freed
/// buffer is made by freeing the longest-kept ones, so sizes that stop recurring go first.
final class BufferPool: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [(bytes: Int, memory: OpaquePointer)] = []  // oldest first
    private var pooledBytes = 0
    let limit: Int

    init(limit: Int) { self.limit = limit }

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
