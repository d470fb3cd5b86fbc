/// The two shapes of Lumen's window, pooling and BatchNorm kernels: one element per
/// work-item (GPU-style), or one row or plane per work-item walking its elements in order
/// (CPU-style, work-groups of one, where PoCL runs loops well).
public enum KernelVariant: Sendable {
    case elementwise, rows

    /// The variant written for the device's kind.
    static func `default`(for device: Device) -> KernelVariant { device.info.kind == .cpu ? .rows : .elementwise }
}
