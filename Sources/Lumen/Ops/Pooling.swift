/// Pooling: the twin of `Kernels/pool.cl`.
public enum Pooling {
    /// Max pooling.                                 x: [N, C, H, W]  ->  y, argmax: [N, C, OH, OW]
    public static func maxForward(_ x: Tensor, _ g: WindowGeometry,
                                  variant: KernelVariant? = nil) throws -> (y: Tensor, argmax: Tensor) {
        let argmax = try Tensor(uninitializedOn: x.device, shape: [g.batch, g.channels, g.outHeight, g.outWidth])
        return (try maxForward(x, g, argmax: argmax, variant: variant), argmax)
    }

    /// Max pooling for inference: the maxima only.  x: [N, C, H, W]  ->  [N, C, OH, OW]
    public static func maxForwardWithoutArgmax(_ x: Tensor, _ g: WindowGeometry, variant: KernelVariant? = nil) throws -> Tensor {
        try maxForward(x, g, argmax: nil, variant: variant)
    }

    private static func maxForward(_ x: Tensor, _ g: WindowGeometry, argmax: Tensor?, variant: KernelVariant?) throws -> Tensor {
        let y = try Tensor(uninitializedOn: x.device, shape: [g.batch, g.channels, g.outHeight, g.outWidth])
        guard y.count > 0 else { return y }
        // Without an argmax the kernels take y as a stand-in they do not write.
        let arguments: [KernelArgument] = [.tensor(x), .tensor(y), .tensor(argmax ?? y), .size(g.batch * g.channels)]
            + windowArguments(g) + [.int(argmax == nil ? 0 : 1)]
        switch variant ?? KernelVariant.default(for: x.device) {
        case .elementwise:
            try x.device.launch("pool", "maxpool_forward", global: [g.outputPlane, g.batch * g.channels], arguments)
        case .rows:
            try x.device.launch("pool", "maxpool_forward_planes", global: [g.batch * g.channels], local: [1], arguments)
        }
        return y
    }

    /// dy: [N, C, OH, OW]  ->  dx: [N, C, H, W]. With `reluInput` (the forward input, a
    /// ReLU's output), dx is also that ReLU's backward: 0 where the input is not positive.
    public static func maxBackward(_ dy: Tensor, argmax: Tensor, _ g: WindowGeometry, reluInput: Tensor? = nil,
                                   variant: KernelVariant? = nil) throws -> Tensor {
        let dx = try Tensor(uninitializedOn: dy.device, shape: [g.batch, g.channels, g.height, g.width])
        guard dx.count > 0 else { return dx }
        let mask: [KernelArgument] = [.tensor(reluInput ?? dy), .int(reluInput == nil ? 0 : 1)]
        switch variant ?? KernelVariant.default(for: dy.device) {
        case .elementwise:
            try dy.device.launch("pool", "maxpool_backward", global: [g.inputPlane, g.batch * g.channels],
                                 [.tensor(dy), .tensor(argmax), .tensor(dx)] + mask + [.size(g.batch * g.channels)]
                                    + windowArguments(g))
        case .rows:
            try dy.device.launch("pool", "maxpool_backward_planes", global: [g.batch * g.channels],
                                 [.tensor(dy), .tensor(argmax), .tensor(dx)] + mask + [.size(g.batch * g.channels),
                                  .size(g.height), .size(g.width), .size(g.outHeight), .size(g.outWidth),
                                  .int(g.kernelHeight == 2 && g.kernelWidth == 2 && g.stride == 2 && g.padTop == 0 && g.padLeft == 0 ? 1 : 0)])
        }
        return dx
    }

    /// Average pooling over cells inside the image. x: [N, C, H, W]  ->  [N, C, OH, OW]
    /// CPU-style: a block of output rows per work-item; GPU-style: one output per work-item.
    public static func averageForward(_ x: Tensor, _ g: WindowGeometry, variant: KernelVariant? = nil) throws -> Tensor {
        let y = try Tensor(uninitializedOn: x.device, shape: [g.batch, g.channels, g.outHeight, g.outWidth])
        guard y.count > 0 else { return y }
        let arguments: [KernelArgument] = [.tensor(x), .tensor(y), .size(g.batch * g.channels)]
        if try launchFlat("avgpool_forward_flat", g, variant: variant, arguments, on: x.device) { return y }
        try launchByCellsOrRows("avgpool_forward", rows: g.outHeight, width: g.outWidth, g, variant: variant,
                                arguments + windowArguments(g), on: x.device)
        return y
    }

    /// dy: [N, C, OH, OW]  ->  dx: [N, C, H, W]
    /// CPU-style: a block of input-gradient rows per work-item; GPU-style: one element per work-item.
    /// With `adding` (a gradient the input already has, [N, C, H, W]) the kernels add dx
    /// into it and return it, sparing a separate sum.
    public static func averageBackward(_ dy: Tensor, _ g: WindowGeometry, variant: KernelVariant? = nil,
                                       adding soFar: Tensor? = nil) throws -> Tensor {
        let shape = [g.batch, g.channels, g.height, g.width]
        let sum = soFar.flatMap { $0.shape == shape ? $0 : nil }
        let dx = try sum ?? Tensor(uninitializedOn: dy.device, shape: shape)
        guard dx.count > 0 else { return dx }
        let arguments: [KernelArgument] = [.tensor(dy), .tensor(dx), .size(g.batch * g.channels), .int(sum == nil ? 0 : 1)]
        if try launchFlat("avgpool_backward_flat", g, variant: variant, arguments, on: dy.device) { return dx }
        try launchByCellsOrRows("avgpool_backward", rows: g.height, width: g.width, g, variant: variant,
                                arguments + windowArguments(g), on: dy.device)
        return dx
    }

    /// On CPU-style kernels, stride-1 pooling that keeps the plane's size (H × W, "same"),
    /// on planes of 16 cells or more with rows under 32 and windows up to 8 wide (the
    /// kernel keeps a factor per window column, `FLAT_MAX_K`): `kernel` walks each plane as
    /// one flat run, 16 cells at a time, instead of rows too short for the row kernels' vectors.
    /// Whether it ran.
    private static func launchFlat(_ kernel: String, _ g: WindowGeometry, variant: KernelVariant?,
                                   _ arguments: [KernelArgument], on device: Device) throws -> Bool {
        guard (variant ?? KernelVariant.default(for: device)) == .rows, g.stride == 1, g.kernelHeight == g.kernelWidth,
              g.outHeight == g.height, g.outWidth == g.width, g.height * g.width >= 16, g.width < 32,
              g.kernelWidth <= 8 else { return false }
        try device.launch("pool", kernel, global: [g.batch * g.channels], local: [1],
                          arguments + [g.height, g.width, g.kernelHeight, g.padTop, g.padLeft].map { .size($0) })
        return true
    }

    /// Runs `kernel` over the rows × width cells of each (n, c) plane on GPU-style kernels,
    /// or its `…_rows` twin over the plane's rows, several per work-item, work-groups of
    /// one, on CPU-style ones.
    private static func launchByCellsOrRows(_ kernel: String, rows: Int, width: Int, _ g: WindowGeometry,
                                            variant: KernelVariant?, _ arguments: [KernelArgument], on device: Device) throws {
        switch variant ?? KernelVariant.default(for: device) {
        case .elementwise: try device.launch("pool", kernel, global: [rows * width, g.batch * g.channels], arguments)
        case .rows:
            let block = KernelVariant.rowsPerWorkItem(rows: rows, width: width)
            try device.launch("pool", kernel + "_rows", global: [(rows + block - 1) / block, g.batch * g.channels], local: [1, 1],
                              arguments + [.size(block)])
        }
    }

    /// Global average.                              x: [N, C, H, W]  ->  [N, C]
    public static func globalAverageForward(_ x: Tensor) throws -> Tensor {
        let plane = x.shape[2] * x.shape[3]
        let sums = try Reduce.sum(x.reshaped([x.shape[0], x.shape[1], plane]), axis: 2)
        try Elementwise.scale(sums, by: 1 / Float(plane), into: sums)
        return sums
    }

    /// dy: [N, C]  ->  dx: [N, C, H, W]
    public static func globalAverageBackward(_ dy: Tensor, inputShape: [Int]) throws -> Tensor {
        let plane = inputShape[2] * inputShape[3]
        return try broadcastPlane(dy, inputShape: inputShape, scale: 1 / Float(plane))
    }

    /// Global max.                                  x: [N, C, H, W]  ->  y, argmax: [N, C]
    public static func globalMaxForward(_ x: Tensor) throws -> (y: Tensor, argmax: Tensor) {
        let planes = x.shape[0] * x.shape[1], plane = x.shape[2] * x.shape[3]
        guard plane > 0 else { throw LumenError.shapeMismatch("global max pooling of an empty plane \(x.shape)") }
        let y = try Tensor(uninitializedOn: x.device, shape: [x.shape[0], x.shape[1]])
        let argmax = try Tensor(uninitializedOn: x.device, shape: y.shape)
        guard planes > 0 else { return (y, argmax) }
        let arguments: [KernelArgument] = [.tensor(x), .tensor(y), .tensor(argmax), .size(planes), .size(plane)]
        if KernelVariant.default(for: x.device) == .elementwise && plane >= 64 {
            // Large planes on GPUs: a work-group per plane rather than one work-item walking it.
            let (global, local) = try ReductionGroups.onePer(planes, kernel: "global_maxpool_forward_group", program: "pool", on: x.device)
            try x.device.launch("pool", "global_maxpool_forward_group", global: global, local: local, arguments)
        } else {
            try x.device.launch("pool", "global_maxpool_forward", global: [planes], arguments)
        }
        return (y, argmax)
    }

    /// dy, argmax: [N, C]  ->  dx: [N, C, H, W]
    public static func globalMaxBackward(_ dy: Tensor, argmax: Tensor, inputShape: [Int]) throws -> Tensor {
        let planes = inputShape[0] * inputShape[1], plane = inputShape[2] * inputShape[3]
        let dx = try Tensor(uninitializedOn: dy.device, shape: inputShape)
        guard dx.count > 0 else { return dx }
        try dy.device.launch("pool", "global_maxpool_backward", global: [plane, planes],
                             [.tensor(dy), .tensor(argmax), .tensor(dx), .size(planes), .size(plane)])
        return dx
    }

    static func broadcastPlane(_ dy: Tensor, inputShape: [Int], scale: Float) throws -> Tensor {
        let planes = inputShape[0] * inputShape[1], plane = inputShape[2] * inputShape[3]
        let dx = try Tensor(uninitializedOn: dy.device, shape: inputShape)
        guard dx.count > 0 else { return dx }
        try dy.device.launch("pool", "broadcast_plane", global: [plane, planes],
                             [.tensor(dy), .tensor(dx), .float(scale), .size(planes), .size(plane)])
        return dx
    }

    /// H, W, K, S, PT, PL, OH, OW: pooling windows are square.
    private static func windowArguments(_ g: WindowGeometry) -> [KernelArgument] {
        [g.height, g.width, g.kernelHeight, g.stride, g.padTop, g.padLeft, g.outHeight, g.outWidth].map { .size($0) }
    }
}
