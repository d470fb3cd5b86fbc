/// Work-group shapes for the GPU-style reductions (BatchNorm sums, the depthwise filter
/// gradient, long-row sums, global max pooling): one work-group per sum, its work-items
/// adding strided parts, then a tree in local memory.
enum ReductionGroups {
    /// One work-group for each of `count` sums: the largest power of two that the
    /// kernel's limit (CL_KERNEL_WORK_GROUP_SIZE), the device's first extent
    /// (CL_DEVICE_MAX_WORK_ITEM_SIZES) and the kernels' local arrays (256) allow.
    static func onePer(_ count: Int, kernel: String, program: String, on device: Device) throws -> (global: [Int], local: [Int]) {
        let limit = min(256, try device.kernel(program, kernel).maxWorkGroupSize, max(1, device.info.maxWorkItemSizes.first ?? 256))
        var size = 1
        while size * 2 <= limit { size *= 2 }
        return ([count * size], [size])
    }
}
