/// Moving blocks of tensors: the twin of `Kernels/layout.cl`. Concatenation along the
/// channel axis and its backward; zero padding and cropping of the spatial axes; the two
/// leading axes of a block swapped (convolutions over small planes, `ConvOps`).
public enum Layout {
    /// The inputs side by side along axis 1 (channels, or features of flat tensors).
    ///
    ///     xs: [N, C_i, …]  ->  [N, Σ C_i, …]   (the trailing dimensions equal)
    public static func concatenate(_ xs: [Tensor]) throws -> Tensor {
        guard let first = xs.first else { throw LumenError.shapeMismatch("concatenate needs at least one tensor") }
        let trailing = Array(first.shape.dropFirst(2))
        for x in xs where x.shape.count != first.shape.count || x.shape[0] != first.shape[0] || Array(x.shape.dropFirst(2)) != trailing {
            throw LumenError.shapeMismatch("concatenate needs equal shapes but for axis 1, got \(xs.map(\.shape))")
        }
        let total = xs.reduce(0) { $0 + $1.shape[1] }
        let plane = trailing.reduce(1, *)
        let y = try Tensor(uninitializedOn: first.device, shape: [first.shape[0], total] + trailing)
        var offset = 0
        for x in xs {
            try slab("put_slab", x, y, batch: first.shape[0], inner: x.shape[1] * plane, whole: total * plane, offset: offset * plane)
            offset += x.shape[1]
        }
        return y
    }

    /// The inverse of `concatenate`: `y` cut along axis 1 into parts of `sizes` channels.
    public static func split(_ y: Tensor, sizes: [Int]) throws -> [Tensor] {
        guard y.shape.count >= 2, sizes.reduce(0, +) == y.shape[1] else {
            throw LumenError.shapeMismatch("split of \(y.shape) into \(sizes) along axis 1")
        }
        let trailing = Array(y.shape.dropFirst(2)), plane = trailing.reduce(1, *)
        var offset = 0
        return try sizes.map { size in
            let x = try Tensor(uninitializedOn: y.device, shape: [y.shape[0], size] + trailing)
            try slab("take_slab", y, x, batch: y.shape[0], inner: size * plane, whole: y.shape[1] * plane, offset: offset * plane)
            offset += size
            return x
        }
    }

    /// Runs `put_slab` or `take_slab`: one float per work-item on GPU-style kernels; on
    /// CPU-style ones runs of 16K floats per work-item, 16 at a time (`…_rows`).
    private static func slab(_ kernel: String, _ source: Tensor, _ target: Tensor, batch: Int, inner: Int, whole: Int, offset: Int,
                             variant: KernelVariant? = nil) throws {
        guard batch * inner > 0 else { return }
        let arguments: [KernelArgument] = [.tensor(source), .tensor(target), .size(batch), .size(inner), .size(whole), .size(offset)]
        switch variant ?? KernelVariant.default(for: source.device) {
        case .elementwise:
            try source.device.launch("layout", kernel, global: [inner, batch], arguments)
        case .rows:
            let run = 16 << 10
            try source.device.launch("layout", kernel + "_rows", global: [(inner + run - 1) / run, batch], local: [1, 1],
                                     arguments + [.size(run)])
        }
    }

    /// y[b, a, r] = x[a, b, r]: the two leading axes of a block swapped, runs of `r`
    /// floats moved whole (CPU-style kernel; any OpenCL device runs it).
    ///
    ///     x: [a, b, r] from xOffset  ->  y: [b, a, r] at yOffset
    public static func swapLeadingAxes(_ x: Tensor, from xOffset: Int = 0, a: Int, b: Int, r: Int,
                                       into y: Tensor, at yOffset: Int = 0) throws {
        guard a * b * r > 0 else { return }
        guard xOffset + a * b * r <= x.count, yOffset + a * b * r <= y.count else {
            throw LumenError.shapeMismatch("swapping the leading axes of [\(a), \(b), \(r)] needs more floats than \(x.shape) and \(y.shape) hold")
        }
        try x.device.launch("layout", "swap_leading_rows", global: [a, b], local: [1, 1],
                            [.tensor(x), .size(xOffset), .tensor(y), .size(yOffset), .size(a), .size(b), .size(r)])
    }

    /// The window of `x` whose top-left corner is at (dy, dx), `height` × `width`, zeros
    /// where it leaves `x`: padding takes negative offsets, cropping positive ones.
    ///
    ///     x: [N, C, H, W]  ->  [N, C, height, width]
    public static func window(_ x: Tensor, dy: Int, dx: Int, height: Int, width: Int) throws -> Tensor {
        guard x.shape.count == 4 else { throw LumenError.shapeMismatch("padding and cropping need [N, C, H, W], got \(x.shape)") }
        let planes = x.shape[0] * x.shape[1]
        let y = try Tensor(uninitializedOn: x.device, shape: [x.shape[0], x.shape[1], height, width])
        guard y.count > 0 else { return y }
        try x.device.launch("layout", "shift_window", global: [width, height, planes],
                            [.tensor(x), .tensor(y), .size(planes), .size(x.shape[2]), .size(x.shape[3]),
                             .size(height), .size(width), .size(dy), .size(dx)])
        return y
    }
}
