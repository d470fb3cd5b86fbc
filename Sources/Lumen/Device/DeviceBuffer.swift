import CLShim
import Foundation

/// One device allocation, handed back to its device's `MemoryPool` when the last owner
/// (a tensor and its views) lets it go.
final class DeviceBuffer {
    private(set) var memory: OpaquePointer?
    /// The allocation's size: the request, or more for a larger buffer the pool handed out.
    private let bytes: Int
    /// How many times the buffer was handed to the device or the host (a kernel, a
    /// GEMM, a copy): one whose count has not moved since a moment has not changed.
    private(set) var uses = 0
    /// Whether a second tensor views this buffer (`Tensor.reshaped`): then a tensor
    /// referenced once may still share its memory.
    var viewed = false
    private let pool: MemoryPool
    private let device: Device

    init(device: Device, bytes: Int, purpose: @autoclosure () -> String) throws {
        // Above the device's largest single allocation, say so plainly rather than let
        // the driver answer CL_INVALID_BUFFER_SIZE.
        guard UInt64(bytes) <= device.info.maxAllocationBytes || device.info.maxAllocationBytes == 0 else {
            throw LumenError.deviceMemory(purpose: purpose(), bytes: bytes, limit: device.info.maxAllocationBytes,
                                          device: device.info.name)
        }
        self.pool = device.memoryPool
        self.device = device
        if let reused = pool.take(bytes) {
            (self.memory, self.bytes) = reused
            return
        }
        self.bytes = bytes
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

    /// The allocation, or an error naming `what` was used after `release()`.
    func liveMemory(what: @autoclosure () -> String) throws -> OpaquePointer {
        uses &+= 1
        guard let memory else { throw CLError(status: CL_INVALID_MEM_OBJECT, operation: "using \(what())") }
        return memory
    }

    /// Copies `bytes` from the host to the start of the buffer.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try check(lm_buffer_write(device.handle, try liveMemory(what: "a released buffer"), 0, bytes.count, bytes.baseAddress),
                  "copying \(bytes.count) bytes to \(device.info.name)")
    }

    /// Copies the start of the buffer to `bytes` on the host, once queued work is done.
    func read(into bytes: UnsafeMutableRawBufferPointer) throws {
        try check(lm_buffer_read(device.handle, try liveMemory(what: "a released buffer"), 0, bytes.count, bytes.baseAddress),
                  "copying \(bytes.count) bytes from \(device.info.name)")
    }

    /// Sets the first `count` floats to `value`.
    func fill(_ value: Float, count: Int) throws {
        guard count > 0 else { return }
        try check(lm_buffer_fill_f32(device.handle, try liveMemory(what: "a released buffer"), 0, count, value),
                  "filling \(count) floats on \(device.info.name)")
    }
}
