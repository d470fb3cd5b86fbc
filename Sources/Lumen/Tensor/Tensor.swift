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
        storage.viewed = true
        return Tensor(viewing: storage, device: device, shape: newShape)
    }

    /// Whether no other tensor views this one's memory: writing it then changes no tensor
    /// but this one (and what holds this one).
    var hasItsOwnBuffer: Bool { !storage.viewed }

    /// Frees the device buffer now, for this tensor and every view of it. Any later use throws.
    public func release() { storage.release() }

    /// How many times its buffer was used (`DeviceBuffer.uses`): unchanged means the
    /// contents are as they were.
    var uses: Int { storage.uses }

    /// The buffer, or an error when the tensor was released.
    func liveMemory() throws -> OpaquePointer { try storage.liveMemory(what: "a released \(shape) tensor") }

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
        try storage.fill(value, count: count)
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
        _ = try liveMemory()
        try values.withUnsafeBytes { try storage.write($0) }
    }

    /// The contents, row-major. Waits for queued work on the tensor to finish.
    public func toArray() throws -> [Float] {
        _ = try liveMemory()
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { try storage.read(into: $0) }
        return values
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor\(shape) on \(device.info.name)" }
}

extension KernelArgument {
    /// A tensor's buffer as a kernel argument.
    static func tensor(_ tensor: Tensor) -> KernelArgument { .buffer(tensor.storage) }
}
