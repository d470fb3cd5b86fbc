/// Direct convolution at stride 1 (`direct_forward_rows` and `direct_filter_gradient_rows`
/// in `Kernels/conv.cl`): no column matrix and no transforms, the input read in place (or
/// once padded) at every tap. On small maps with few channels, such as fashion-cnn's
/// second layer (32 to 64 channels on 13 × 13), im2col writes nine copies of the input
/// that the GEMM then reads once, and Winograd's transforms of 3 × 3 tiles cost as much
/// as the products they save; these passes read the input where it is.
/// `ConvolutionPlan` and `ConvOps.FilterGradientPlan` time them beside the others.
extension ConvOps {
    /// Whether the direct kernels can run this window: CPU-style kernels, stride 1, a
    /// window wider than one cell (a pointwise one is a GEMM on x already).
    static func directApplies(_ g: WindowGeometry, variant: KernelVariant?, on device: Device) -> Bool {
        (variant ?? KernelVariant.default(for: device)) == .rows && g.stride == 1 && !g.isPointwise
            && g.batch > 0 && g.outputPlane > 0 && g.padTop >= 0 && g.padLeft >= 0
    }

    /// The forward pass with `bias` added and `activation` (linear, ReLU or ReLU6) applied
    /// as outputs are stored.   x: [N, C, H, W]  weight: [O, C, KH, KW]  bias: [O]  ->  y: [N, O, OH, OW]
    static func directForward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: WindowGeometry,
                              activation: ActivationKind) throws -> Tensor {
        let outChannels = weight.shape[0]
        let y = try Tensor(uninitializedOn: x.device, shape: [g.batch, outChannels, g.outHeight, g.outWidth])
        guard y.count > 0 else { return y }
        let (planes, height, pitch) = try paddedPlanes(x, g)
        // Work-items: runs of 32 outputs counted in the padded pitch, blocks of 8 channels, images.
        let span = (g.outHeight - 1) * pitch + g.outWidth
        let epilogue = try GemmKernels.epilogue(rowBias: bias, activation)
        let (blocks, taps) = ((outChannels + 7) / 8, g.channels * g.kernelHeight * g.kernelWidth)
        let packed = try Tensor(uninitializedOn: x.device, shape: [blocks, taps, 8])
        try x.device.launch("conv", "direct_pack_filters", global: [taps, blocks], local: [1, 1],
                            [.tensor(weight), .tensor(packed), .size(outChannels), .size(taps)])
        try x.device.launch("conv", "direct_forward_rows", global: [(span + 31) / 32, blocks, g.batch],
                            local: [1, 1, 1],
                            [.tensor(planes), .tensor(packed), .tensor(y), .size(g.batch), .size(g.channels), .size(height),
                             .size(pitch), .size(outChannels), .size(g.outHeight), .size(g.outWidth), .size(g.kernelHeight),
                             .size(g.kernelWidth), .tensor(bias ?? weight), .int(epilogue)])
        return y
    }

    /// The weight gradient summed over the batch: each group of images' sums
    /// (`directImagesPerGroup` unless `imagesPerGroup` is given), then the groups' sum.
    ///                          dy: [N, O, OH, OW]  x: [N, C, H, W]  ->  dweight: [O, C, KH, KW]
    static func directFilterGradient(_ dy: Tensor, x: Tensor, weightShape: [Int], _ g: WindowGeometry,
                                     imagesPerGroup: Int? = nil) throws -> Tensor {
        let outChannels = weightShape[0]
        let (planes, height, pitch) = try paddedPlanes(x, g)
        // dy in the planes' row pitch, zero past each row's OW outputs.
        let gradient = try Tensor(uninitializedOn: dy.device, shape: [g.batch, outChannels, g.outHeight, pitch])
        try pad(dy, planes: g.batch * outChannels, height: g.outHeight, width: g.outWidth, margins: (0, 0),
                into: gradient, rows: g.outHeight, pitch: pitch)
        let group = max(1, imagesPerGroup ?? directImagesPerGroup(g, outChannels: outChannels, height: height, pitch: pitch))
        let groups = (g.batch + group - 1) / group
        let partial = try Tensor(uninitializedOn: dy.device, shape: [groups, weightShape.reduce(1, *)])
        try dy.device.launch("conv", "direct_filter_gradient_rows", defines: g.kernelWidth == 3 ? "" : "-DDIRECT_KW=\(g.kernelWidth)",
                             global: [g.channels * g.kernelHeight, (outChannels + 3) / 4, groups], local: [1, 1, 1],
                             [.tensor(planes), .tensor(gradient), .tensor(partial), .size(g.batch), .size(g.channels),
                              .size(height), .size(pitch), .size(outChannels), .size(g.outHeight), .size(g.outWidth),
                              .size(g.kernelHeight), .size(group)])
        return try (groups == 1 ? partial : Reduce.sum(partial, axis: 0)).reshaped(weightShape)
    }

    /// Images a weight-gradient work-item sums: as many as keep a group's planes of x and
    /// dy (padded) within 128 Ki floats (half a megabyte, a core's L2 on the CPUs measured),
    /// at least one.
    static func directImagesPerGroup(_ g: WindowGeometry, outChannels: Int, height: Int, pitch: Int) -> Int {
        let perImage = (g.channels * height + outChannels * g.outHeight) * pitch
        return max(1, min(g.batch, (1 << 17) / max(1, perImage)))
    }

    /// The planes the direct kernels read: OH + KH − 1 rows of OW + KW − 1 cells, the
    /// margins zero; x itself when it has that shape already (no margins).
    private static func paddedPlanes(_ x: Tensor, _ g: WindowGeometry) throws -> (planes: Tensor, height: Int, pitch: Int) {
        let (height, pitch) = (g.outHeight + g.kernelHeight - 1, g.outWidth + g.kernelWidth - 1)
        guard g.padTop != 0 || g.padLeft != 0 || height != g.height || pitch != g.width else { return (x, height, pitch) }
        let planes = try Tensor(uninitializedOn: x.device, shape: [g.batch, g.channels, height, pitch])
        try pad(x, planes: g.batch * g.channels, height: g.height, width: g.width, margins: (g.padTop, g.padLeft),
                into: planes, rows: height, pitch: pitch)
        return (planes, height, pitch)
    }

    /// Each of `planes` height × width planes of `x` copied into `rows` rows of `pitch`
    /// cells of `target`, `margins` (top, left) in, zero around.
    private static func pad(_ x: Tensor, planes: Int, height: Int, width: Int, margins: (top: Int, left: Int),
                            into target: Tensor, rows: Int, pitch: Int) throws {
        try x.device.launch("conv", "direct_pad_planes", global: [planes], local: [1],
                            [.tensor(x), .tensor(target), .size(planes), .size(height), .size(width),
                             .size(rows), .size(pitch), .size(margins.top), .size(margins.left)])
    }
}
