/// The two shapes of Lumen's window, pooling and BatchNorm kernels: one element per
/// work-item (GPU-style), or one row or plane per work-item walking its elements in order
/// (CPU-style, work-groups of one, where PoCL runs loops well).
public enum KernelVariant: Sendable {
    case elementwise, rows

    /// The variant of the device's kernel family (`Device.kernelStyle`).
    static func `default`(for device: Device) -> KernelVariant { device.kernelStyle == .cpu ? .rows : .elementwise }

    /// Rows per work-item for the CPU-style row kernels: enough rows of `width` cells for
    /// about `cellsPerWorkItem` cells, so small planes are not one short work-item per row.
    static func rowsPerWorkItem(rows: Int, width: Int) -> Int {
        max(1, min(rows, cellsPerWorkItem / max(1, width)))
    }

    static let cellsPerWorkItem = 512
}
