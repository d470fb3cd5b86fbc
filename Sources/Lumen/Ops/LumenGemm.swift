import Foundation

/// Lumen's own SGEMM: the twin of `Kernels/gemm.cl`. Same contract as `Gemm.multiply`,
/// strided-batched; a transposed B is first copied out transposed.
public enum LumenGemm {
    /// C_z = alpha · op(A_z) · op(B_z) + beta · C_z for z in 0..<batch.
    ///     op(A): [m, k]   op(B): [k, n]   C: [m, n]
    public static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                _ a: MatrixOperand, strideA: Int, _ b: MatrixOperand, strideB: Int, beta: Float,
                                into c: MatrixOperand, strideC: Int, batch: Int) throws {
        guard m > 0, n > 0, batch > 0 else { return }
        let device = c.tensor.device
        let lda = a.leadingDimension ?? (transposeA ? m : k)
        // The kernel trusts its arguments: check every operand fits its buffer first.
        func fits(_ name: String, _ operand: MatrixOperand, rows: Int, cols: Int, ld: Int, stride: Int) throws {
            let needed = operand.offset + (batch - 1) * stride + (rows - 1) * ld + cols
            guard rows == 0 || cols == 0 || (ld >= cols && needed <= operand.tensor.count) else {
                throw LumenError.shapeMismatch("GEMM operand \(name) needs \(needed) floats (\(rows)x\(cols), leading dimension \(ld)) but its buffer holds \(operand.tensor.count)")
            }
        }
        try fits("A", a, rows: transposeA ? k : m, cols: transposeA ? m : k, ld: lda, stride: strideA)
        try fits("B", b, rows: transposeB ? n : k, cols: transposeB ? k : n, ld: b.leadingDimension ?? (transposeB ? k : n), stride: strideB)
        try fits("C", c, rows: m, cols: n, ld: c.leadingDimension ?? n, stride: strideC)
        var bTensor = b.tensor, bOffset = b.offset, ldb = b.leadingDimension ?? (transposeB ? k : n), bStride = strideB
        if transposeB {
            // B is stored [n, k]; pack Bᵀ as [batch, k, n].
            let packed = try Tensor(uninitializedOn: device, shape: [batch, k, n])
            if packed.count > 0 {
                try device.launch("gemm", "transpose_strided", global: [k, n, batch],
                                  [.tensor(b.tensor), .size(b.offset), .size(ldb), .size(strideB), .tensor(packed), .size(n), .size(k)])
            }
            (bTensor, bOffset, ldb, bStride) = (packed, 0, n, k * n)
        }
        try device.launch("gemm", "gemm_tile", global: [(n + 15) / 16, (m + 7) / 8, batch], local: [1, 1, 1], [
            .tensor(a.tensor), .size(a.offset), .size(lda), .size(strideA), .int(transposeA ? 1 : 0),
            .tensor(bTensor), .size(bOffset), .size(ldb), .size(bStride),
            .tensor(c.tensor), .size(c.offset), .size(c.leadingDimension ?? n), .size(strideC),
            .size(m), .size(n), .size(k), .float(alpha), .float(beta),
        ])
    }
}

/// Which SGEMM serves each shape on each device: CLBlast or Lumen's own kernel. With
/// `LUMEN_GEMM=auto` (the default) the first call of a shape times both and keeps the
/// faster, remembering it in the cache folder so the next run starts with the choice;
/// `LUMEN_GEMM=clblast` or `lumen` forces one.
enum GemmChooser {
    enum Backend: String, Codable { case clblast, lumen }

    struct Key: Hashable, Codable {
        let transposeA: Bool, transposeB: Bool
        let m: Int, n: Int, k: Int, batch: Int
        var text: String { "\(transposeA ? "T" : "N")\(transposeB ? "T" : "N") \(m)x\(n)x\(k) x\(batch)" }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var choices: [String: [String: Backend]] = [:]  // device → shape → backend

    /// `LUMEN_GEMM`, read once: every GEMM call asks.
    static let forced: Backend? = {
        switch ProcessInfo.processInfo.environment["LUMEN_GEMM"]?.lowercased() {
        case "clblast": return .clblast
        case "lumen": return .lumen
        default: return nil
        }
    }()

    nonisolated(unsafe) private static var fileURLs: [Int: URL] = [:]  // device index → choices file

    /// The device's choices file, named by a hash of platform, device and driver;
    /// computed once per device, as every GEMM call looks its shape up.
    static func fileURL(for device: Device) -> URL {
        lock.lock()
        defer { lock.unlock() }
        return unlockedFileURL(for: device)
    }

    private static func unlockedFileURL(for device: Device) -> URL {
        if let url = fileURLs[device.info.index] { return url }
        let key = [device.info.platform, device.info.name, device.info.driverVersion].joined(separator: "\u{0}")
        let url = ProgramCache.defaultDirectory().appendingPathComponent("gemm-choices-\(StableHash.hex128(key)).json")
        fileURLs[device.info.index] = url
        return url
    }

    /// The remembered choice, or nil when the shape has not been timed on this device.
    static func choice(for key: Key, on device: Device) -> Backend? {
        lock.lock()
        defer { lock.unlock() }
        let url = unlockedFileURL(for: device)
        let deviceKey = url.lastPathComponent
        if choices[deviceKey] == nil {
            choices[deviceKey] = (try? JSONDecoder().decode([String: Backend].self, from: Data(contentsOf: url))) ?? [:]
        }
        return choices[deviceKey]?[key.text]
    }

    static func remember(_ backend: Backend, for key: Key, on device: Device) {
        lock.lock()
        let url = unlockedFileURL(for: device)
        let deviceKey = url.lastPathComponent
        choices[deviceKey, default: [:]][key.text] = backend
        let snapshot = choices[deviceKey] ?? [:]
        lock.unlock()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let data = try? encoder.encode(snapshot) { try? AtomicFile.write(data, to: url) }
    }

    /// Times `run` on both backends (a warm-up call, then a timed one) into scratch
    /// output, and remembers the faster.
    static func decide(_ key: Key, on device: Device, outputFloats: Int,
                       run: (Backend, Tensor) throws -> Void) throws -> Backend {
        let scratch = try Tensor(uninitializedOn: device, shape: [max(outputFloats, 1)])
        var best: (Backend, Double)?
        for backend in [Backend.clblast, .lumen] {
            try run(backend, scratch)
            try device.synchronize()
            let start = Date()
            try run(backend, scratch)
            try device.synchronize()
            let seconds = Date().timeIntervalSince(start)
            if best == nil || seconds < best!.1 { best = (backend, seconds) }
        }
        remember(best!.0, for: key, on: device)
        return best!.0
    }
}
