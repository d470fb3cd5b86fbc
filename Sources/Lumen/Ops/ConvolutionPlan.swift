/// How a convolution's forward pass or input gradient runs: im2col + GEMM, Winograd
/// F(2×2, 3×3) or F(4×4, 3×3) (`Winograd`), directly (`direct`, forward only), or for the
/// input gradient a forward convolution of dy with the filters flipped (`transposed`),
/// itself planned as a forward pass. Winograd is a candidate on CPU-style kernels for
/// 3 × 3 windows at stride 1 with at least 8 channels in and out (fewer leave its GEMMs
/// too short to pay for the transforms); `transposed` on CPU-style kernels for stride-1
/// windows wider than one cell whose margins are narrower than the window; `direct` on
/// CPU-style kernels for stride-1 windows wider than one cell. The device's `GemmPlanner`
/// times the candidates once per shape and remembers the fastest. With a forced GEMM
/// backend nothing is timed: im2col.
enum ConvolutionPlan: String, CaseIterable, PlannedDecision {
    case im2col
    case winograd
    case winograd4x4
    /// dx = dy ⋆ W' with W'[c, o] the filter W[o, c] turned half a circle: the GEMM reads
    /// the O·KH·KW taps of dy and writes dx itself, where im2col's input gradient writes a
    /// C·KH·KW-row column matrix from O-long dot products and col2im folds it.
    case transposed
    /// The forward pass read from the input in place, no column matrix (`ConvOps.directForward`):
    /// CPU-style kernels, stride 1, windows wider than one cell.
    case direct

    /// The Winograd tile the plan runs, nil for im2col, transposed and direct.
    var winogradTile: Winograd.Tile? {
        switch self {
        case .im2col, .transposed, .direct: return nil
        case .winograd: return .two
        case .winograd4x4: return .four
        }
    }

    /// The two passes a plan is chosen for.
    enum Pass: String {
        case forward
        case inputGradient = "input gradient"
    }

    /// The plan for `pass` of a convolution, timing `run` with each candidate when the
    /// shape is new here.
    static func chosen(_ pass: Pass, _ g: WindowGeometry, outChannels: Int, variant: KernelVariant?, on device: Device,
                       run: (ConvolutionPlan) throws -> Void) throws -> ConvolutionPlan {
        var candidates: [ConvolutionPlan] = [.im2col]
        if winogradApplies(g, outChannels: outChannels, variant: variant, on: device) { candidates += [.winograd, .winograd4x4] }
        if pass == .forward && ConvOps.directApplies(g, variant: variant, on: device) { candidates.append(.direct) }
        if pass == .inputGradient && transposedApplies(g, variant: variant, on: device) { candidates.append(.transposed) }
        guard candidates.count > 1 else { return .im2col }
        let planner = GemmPlanner.of(device)
        guard planner.settings.forced == nil else { return .im2col }
        return try planner.decision(for: Shape(pass: pass, g: g, outChannels: outChannels), among: candidates, run: run)
    }

    /// Whether the planner times the input gradient as a forward convolution of dy
    /// (`transposed`): on CPU-style kernels, where `transposedFits`.
    static func transposedApplies(_ g: WindowGeometry, variant: KernelVariant?, on device: Device) -> Bool {
        (variant ?? KernelVariant.default(for: device)) == .rows && transposedFits(g)
    }

    /// Whether a forward convolution of dy can give this input gradient and is worth
    /// timing: stride 1, a window wider than one cell, and margins narrower than the window,
    /// so the flipped window's margins (`transposedGeometry`) are not negative.
    static func transposedFits(_ g: WindowGeometry) -> Bool {
        g.stride == 1 && g.kernelHeight * g.kernelWidth > 1 && g.batch > 0 && g.outputPlane > 0
            && (try? transposedGeometry(g, outChannels: 1)) != nil
    }

    /// The forward convolution of dy whose output is dx: dy's planes with margins
    /// K − 1 − P before and the rest after, so the window's last tap meets the first.
    ///     dy: [N, outChannels, OH, OW]  ->  [N, ·, H, W]
    static func transposedGeometry(_ g: WindowGeometry, outChannels: Int) throws -> WindowGeometry {
        let margins = (top: g.kernelHeight - 1 - g.padTop, bottom: g.height - g.outHeight + g.padTop,
                       left: g.kernelWidth - 1 - g.padLeft, right: g.width - g.outWidth + g.padLeft)
        guard g.stride == 1, [margins.top, margins.bottom, margins.left, margins.right].allSatisfy({ $0 >= 0 }) else {
            throw LumenError.shapeMismatch("no stride-1 forward convolution of dy gives the input gradient of \(g)")
        }
        return try WindowGeometry(input: [g.batch, outChannels, g.outHeight, g.outWidth], kernel: (g.kernelHeight, g.kernelWidth),
                                  stride: 1, padding: .cells(top: margins.top, bottom: margins.bottom, left: margins.left,
                                                             right: margins.right))
    }

    /// Whether Winograd is a candidate for this convolution (its weight gradient too,
    /// `ConvOps.FilterGradientPlan`).
    static func winogradApplies(_ g: WindowGeometry, outChannels: Int, variant: KernelVariant?, on device: Device) -> Bool {
        (variant ?? KernelVariant.default(for: device)) == .rows && Winograd.fits(g) && g.channels >= 8 && outChannels >= 8
            && g.batch > 0 && g.outputPlane > 0
    }

    /// The shape a plan is chosen for: the pass, the batch and both sides of the window.
    struct Shape: PlannedShape {
        let pass: Pass, g: WindowGeometry, outChannels: Int
        var text: String {
            "conv \(pass.rawValue) \(g.kernelHeight)x\(g.kernelWidth) \(g.channels)x\(g.height)x\(g.width) pad \(g.padTop),\(g.padLeft) "
                + "-> \(outChannels)x\(g.outHeight)x\(g.outWidth) x\(g.batch)"
        }
    }

    var storedName: String { rawValue }
    init?(storedName: String) { self.init(rawValue: storedName) }
}
