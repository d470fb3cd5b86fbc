/// How a convolution's forward pass or input gradient runs: im2col + GEMM, or Winograd
/// F(2×2, 3×3) or F(4×4, 3×3) (`Winograd`). Winograd is a candidate on CPU-style kernels
/// for 3 × 3 windows at stride 1 with at least 8 channels in and out (fewer leave its
/// GEMMs too short to pay for the transforms); the device's `GemmPlanner` times the three
/// once per shape and remembers the fastest. With a forced GEMM backend nothing is
/// timed: im2col.
enum ConvolutionPlan: String, CaseIterable, PlannedDecision {
    case im2col
    case winograd
    case winograd4x4

    /// The Winograd tile the plan runs, nil for im2col.
    var winogradTile: Winograd.Tile? {
        switch self {
        case .im2col: return nil
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
        guard winogradApplies(g, outChannels: outChannels, variant: variant, on: device) else { return .im2col }
        let planner = GemmPlanner.of(device)
        guard planner.settings.forced == nil else { return .im2col }
        return try planner.decision(for: Shape(pass: pass, g: g, outChannels: outChannels), among: allCases, run: run)
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
            "conv \(pass.rawValue) 3x3 \(g.channels)x\(g.height)x\(g.width) pad \(g.padTop),\(g.padLeft) "
                + "-> \(outChannels)x\(g.outHeight)x\(g.outWidth) x\(g.batch)"
        }
    }

    var storedName: String { rawValue }
    init?(storedName: String) { self.init(rawValue: storedName) }
}
