import Foundation

/// Debian's CLBlast 1.5.3 is known to give wrong SGEMM results on some devices. Before
/// the first GEMM on a device, Lumen multiplies small matrices on both of CLBlast's paths
/// (the direct kernel for small sizes, the indirect one above `XGEMM_MIN_INDIRECT_SIZE`)
/// and compares with a host product. When CLBlast fails, Lumen checks its own GEMM the
/// same way and, if that passes, serves every GEMM on the device with it; a device where
/// both fail is refused for the process. The device's `GemmPlanner` runs it once and keeps
/// the outcome.
enum GemmSelfCheck {
    /// Checks CLBlast, then (if it fails) every kernel of Lumen's own that would serve the
    /// device in its place: the register tiles on CPUs, the local-memory tile on GPUs.
    /// `failClblast` makes CLBlast's check fail on purpose, to exercise the fallback.
    /// With `forced` one of Lumen's kernels, CLBlast is neither built nor checked: only
    /// that kernel is (what a GPU simulator run wants: CLBlast takes minutes there).
    static func run(on device: Device, failClblast: Bool, forced: GemmBackend? = nil) throws -> GemmPlanner.CheckOutcome {
        if let forced, forced != .clblast {
            let error = try worstError(on: device, backend: forced)
            return error <= 1e-4 ? .clblastSkipped : .failed(maxError: error)
        }
        let clblast = failClblast ? Float.infinity : try worstError(on: device, backend: .clblast)
        if clblast <= 1e-4 { return .passed }
        let serving = GemmBackend.allCases.filter { $0.tile?.suits(device) ?? false }
        guard !serving.isEmpty else {
            let limit = (try? device.kernel("gemm", GemmKernels.Tile.local32.kernelName).maxWorkGroupSize) ?? 0
            throw LumenError.noGemmForDevice(device: device.info.name, reason: String(
                format: "CLBlast failed its check (max error %g) and none of Lumen's GEMM kernels fits it (its work-group limit is %d, the local-memory tile needs 64)",
                clblast, limit))
        }
        let lumen = try serving.map { try worstError(on: device, backend: $0) }.max() ?? .infinity
        return lumen <= 1e-4 ? .clblastFailed(maxError: clblast) : .failed(maxError: max(clblast, lumen))
    }

    /// CLBlast's largest error with `tuning` handed to it on `device` (for the rest of the
    /// process: use on a device that has run no GEMM yet).
    static func worstError(on device: Device, tuning: ClblastTuning) throws -> Float {
        try tuning.apply(on: device)
        return try worstError(on: device, backend: .clblast)
    }

    /// The largest error relative to the host product on `backend`.
    static func worstError(on device: Device, backend: GemmBackend) throws -> Float {
        var worst: Float = 0
        // (m, n, k, transposeA, transposeB): for CLBlast a direct-path product and one above
        // 576^3 (its indirect path); Lumen's kernels have one path, and a product of a few
        // blocks with ragged edges covers it (small enough for a GPU simulator).
        let products = backend == .clblast ? [(13, 9, 21, false, true), (640, 640, 640, true, false)]
                                           : [(13, 9, 21, false, true), (70, 45, 33, true, false)]
        for (m, n, k, ta, tb) in products where backend.supports(transposeA: ta, transposeB: tb) {
            worst = max(worst, try relativeError(on: device, backend: backend, m: m, n: n, k: k, transposeA: ta, transposeB: tb))
        }
        return worst
    }

    private static func relativeError(on device: Device, backend: GemmBackend, m: Int, n: Int, k: Int,
                                      transposeA: Bool, transposeB: Bool) throws -> Float {
        var generator = SplitMix64(seed: UInt64(m * 31 + k))
        let aValues = (0..<(m * k)).map { _ in generator.nextFloat(in: -1..<1) }
        let bValues = (0..<(k * n)).map { _ in generator.nextFloat(in: -1..<1) }
        let a = try Tensor(on: device, shape: [m * k], values: aValues)
        let b = try Tensor(on: device, shape: [k * n], values: bValues)
        let c = try Tensor(uninitializedOn: device, shape: [m * n])
        try Gemm.Call(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: MatrixOperand(a),
                      strideA: 0, b: MatrixOperand(b), strideB: 0, c: MatrixOperand(c), strideC: 0, batch: 1)
            .run(on: backend, beta: 0)
        let result = try c.toArray()
        // Compare a spread of entries (all of them when small) with a host dot product.
        let stride = max(1, (m * n) / 257)
        var worst: Float = 0
        for index in Swift.stride(from: 0, to: m * n, by: stride) {
            let row = index / n, column = index % n
            var expected: Double = 0, magnitude: Double = 0
            for p in 0..<k {
                let av = Double(transposeA ? aValues[p * m + row] : aValues[row * k + p])
                let bv = Double(transposeB ? bValues[column * k + p] : bValues[p * n + column])
                expected += av * bv
                magnitude += abs(av * bv)
            }
            let error = Float(abs(Double(result[index]) - expected) / max(magnitude, 1))
            if !(error <= worst) { worst = error.isNaN ? .infinity : error }
        }
        return worst
    }
}
