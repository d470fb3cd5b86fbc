/// Direct convolution at stride 1 (`direct_forward_rows` in `Kernels/conv.cl`): no column
/// matrix and no transforms, the input read in place (or once padded) at every tap. On
/// small maps with few channels, such as fashion-cnn's second layer (32 to 64 channels on
/// 13 × 13), im2col writes nine copies of the input that the GEMM then reads once, and
/// Winograd's transforms of 3 × 3 tiles are as costly as the products they save; this
/// pass reads the input where it is. `ConvolutionPlan` times it beside them.
extension ConvOps {
    /// Whether the direct kernel can run this window: CPU-style kernels, stride 1, a
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
        // The padded planes the kernel reads: OH + KH − 1 rows of OW + KW − 1 cells.
        let (height, pitch) = (g.outHeight + g.kernelHeight - 1, g.outWidth + g.kernelWidth - 1)
        var planes = x
        if g.padTop != 0 || g.padLeft != 0 || height != g.height || pitch != g.width {
            planes = try Tensor(uninitializedOn: x.device, shape: [g.batch, g.channels, height, pitch])
            try x.device.launch("conv", "direct_pad_planes", global: [g.batch * g.channels], local: [1],
                                [.tensor(x), .tensor(planes), .size(g.batch * g.channels), .size(g.height), .size(g.width),
                                 .size(height), .size(pitch), .size(g.padTop), .size(g.padLeft)])
        }
        // Work-items: runs of 32 outputs counted in the padded pitch, blocks of 8 channels, images.
        let span = (g.outHeight - 1) * pitch + g.outWidth
        let epilogue = try GemmKernels.epilogue(rowBias: bias, activation)
        try x.device.launch("conv", "direct_forward_rows", global: [(span + 31) / 32, (outChannels + 7) / 8, g.batch],
                            local: [1, 1, 1],
                            [.tensor(planes), .tensor(weight), .tensor(y), .size(g.batch), .size(g.channels), .size(height),
                             .size(pitch), .size(outChannels), .size(g.outHeight), .size(g.outWidth), .size(g.kernelHeight),
                             .size(g.kernelWidth), .tensor(bias ?? weight), .int(epilogue)])
        return y
    }
}
