import Foundation

/// Debian's CLBlast 1.5.3 is known to give wrong SGEMM results on some devices. Before
/// the first GEMM on a device, Lumen multiplies small matrices on both of CLBlast's paths
/// (the direct kernel for small sizes, the indirect one above `XGEMM_MIN_INDIRECT_SIZE`)
/// and compares with a host product. A device that fails is refused for the process.
public enum GemmSelfCheck {
    enum Outcome {
        case passed
        case failed(maxError: Float)
    }

    private static let lock = NSLock()

    /// Throws `LumenError.gemmSelfCheckFailed` when CLBlast is wrong on `device`.
    /// Runs the check once per device and process.
    public static func require(on device: Device) throws {
        lock.lock()
        defer { lock.unlock() }
        if device.gemmSelfCheck == nil {
            let started = Date()
            device.gemmSelfCheck = try run(on: device)
            let seconds = Date().timeIntervalSince(started)
            if seconds > 2 {
                Device.buildObserver?(String(format: "compiled and checked CLBlast's GEMM kernels on %@ in %.0f s (first use; cached afterwards)", device.info.name, seconds))
            }
        }
        if case .failed(let maxError) = device.gemmSelfCheck! {
            throw LumenError.gemmSelfCheckFailed(device: device.info.name, maxError: maxError)
        }
    }

    /// Multiplies on the device and returns the largest error relative to the host product.
    static func run(on device: Device) throws -> Outcome {
        var worst: Float = 0
        // (m, n, k, transposeA, transposeB): a direct-path product and one above 576^3.
        for (m, n, k, ta, tb) in [(13, 9, 21, false, true), (640, 640, 640, true, false)] {
            worst = max(worst, try relativeError(on: device, m: m, n: n, k: k, transposeA: ta, transposeB: tb))
        }
        return worst <= 1e-4 ? .passed : .failed(maxError: worst)
    }

    private static func relativeError(on device: Device, m: Int, n: Int, k: Int,
                                      transposeA: Bool, transposeB: Bool) throws -> Float {
        var generator = SplitMix64(seed: UInt64(m * 31 + k))
        let aValues = (0..<(m * k)).map { _ in generator.nextFloat(in: -1..<1) }
        let bValues = (0..<(k * n)).map { _ in generator.nextFloat(in: -1..<1) }
        let a = try Tensor(on: device, shape: [m * k], values: aValues)
        let b = try Tensor(on: device, shape: [k * n], values: bValues)
        let c = try Tensor(uninitializedOn: device, shape: [m * n])
        try Gemm.multiplyUnchecked(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                                   MatrixOperand(a), MatrixOperand(b), beta: 0, into: MatrixOperand(c), temp: nil)
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
