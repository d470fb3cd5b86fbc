/// Reductions: the twin of `Kernels/reduce.cl`.
public enum Reduce {
    /// The sum over `axis`, which is removed from the shape. Summing the last axis on a
    /// CPU device walks each row with vectors (`.rows`); on a GPU a work-group sums each
    /// row of 64 or more.
    ///
    ///     x: [d0, ..., d(axis), ..., dk]  ->  [d0, ..., dk] without d(axis)
    public static func sum(_ x: Tensor, axis: Int, variant: KernelVariant? = nil) throws -> Tensor {
        guard axis >= 0, axis < x.shape.count else {
            throw LumenError.shapeMismatch("sum over axis \(axis) of a \(x.shape) tensor")
        }
        let outer = x.shape[..<axis].reduce(1, *)
        let length = x.shape[axis]
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        var shape = x.shape
        shape.remove(at: axis)
        let y = try Tensor(uninitializedOn: x.device, shape: shape)
        guard y.count > 0 else { return y }
        let rows = (variant ?? KernelVariant.default(for: x.device)) == .rows
        if inner == 1 && rows {
            try x.device.launch("reduce", "sum_rows", global: [outer], local: [1],
                                [.tensor(x), .tensor(y), .size(outer), .size(length)])
        } else if inner == 1 && length >= 64 {
            // Long rows on GPUs: a work-group per row rather than one work-item walking it.
            let (global, local) = try ReductionGroups.onePer(outer, kernel: "sum_rows_group", program: "reduce", on: x.device)
            try x.device.launch("reduce", "sum_rows_group", global: global, local: local,
                                [.tensor(x), .tensor(y), .size(outer), .size(length)])
        } else {
            try x.device.launch("reduce", "sum_axis", global: [inner, outer],
                                [.tensor(x), .tensor(y), .size(outer), .size(length), .size(inner)])
        }
        return y
    }
}
