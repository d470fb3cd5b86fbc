import Foundation

/// Lumen's own SGEMM: the twin of `Kernels/gemm.cl`. Same contract as `Gemm.multiply`,
/// strided-batched, with a batch sum and a row bias folded in; a transposed B is first
/// copied out transposed.
public enum LumenGemm {
    /// How a kernel splits C, and which kernel: `gemm_tile` for CPU-like devices (one
    /// work-item per rows × columns block in registers, broadcast A, rows of B as vectors),
    /// `gemm_nt_dot` for C = A · Bᵀ only (vector dot products along k, no transposed copy
    /// of B), and `gemm_local` for GPU-like devices (a 32 × 32 block per work-group of
    /// 8 × 8, tiles of A and B in local memory).
    public enum Tile: String, CaseIterable, Sendable {
        case rows8cols32 = "8x32"
        case rows4cols64 = "4x64"
        case dot4x4 = "dot4x4"
        case local32 = "local32"

        /// The block of C one work-item (one work-group for `local32`) computes: rows × columns.
        var block: (rows: Int, columns: Int) {
            switch self {
            case .rows8cols32: return (8, 32)
            case .rows4cols64: return (4, 64)
            case .dot4x4: return (4, 4)
            case .local32: return (32, 32)
            }
        }

        var kernelName: String {
            switch self {
            case .rows8cols32, .rows4cols64: return "gemm_tile"
            case .dot4x4: return "gemm_nt_dot"
            case .local32: return "gemm_local"
            }
        }

        /// Build options: `gemm_tile` is built once per tile shape.
        var defines: String {
            kernelName == "gemm_tile" ? "-DTM=\(block.rows) -DNV=\(block.columns / 16)" : ""
        }

        /// Work-group size: one work-item on CPU-like devices, 8 × 8 for `gemm_local`.
        var group: [Int] { self == .local32 ? [8, 8, 1] : [1, 1, 1] }

        /// Whether the tile computes this transpose combination.
        func supports(transposeA: Bool, transposeB: Bool) -> Bool { self != .dot4x4 || (!transposeA && transposeB) }

        /// Whether the tile is written for this kind of device (the chooser times only
        /// those) and the device runs its work-group size.
        func suits(_ device: Device) -> Bool {
            let limit = self == .local32 ? ((try? device.kernel("gemm", kernelName).maxWorkGroupSize) ?? 0) : 1
            return suits(cpu: device.info.kind == .cpu, workGroupLimit: limit)
        }

        /// Register tiles on CPUs; the local-memory tile on other devices whose limit for
        /// `gemm_local` admits its 8 × 8 work-group.
        func suits(cpu: Bool, workGroupLimit: Int) -> Bool {
            guard (self == .local32) != cpu else { return false }
            return workGroupLimit >= group.reduce(1, *)
        }
    }

    /// C_z = alpha · Σ_s op(A_zs) · op(B_zs) + rowBias + beta · C_z for z in 0..<batch,
    /// s in 0..<sumOver, where operand set zs = z·sumOver + s steps A and B by their strides;
    /// with `relu`, C_z = max(that, 0).
    ///     op(A): [m, k]   op(B): [k, n]   C: [m, n]   rowBias: [m]
    public static func multiply(tile: Tile = .rows8cols32, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                alpha: Float, _ a: MatrixOperand, strideA: Int, _ b: MatrixOperand, strideB: Int,
                                beta: Float, into c: MatrixOperand, strideC: Int, batch: Int, sumOver: Int = 1,
                                rowBias: Tensor? = nil, relu: Bool = false) throws {
        guard m > 0, n > 0, batch > 0 else { return }
        let device = c.tensor.device
        let sets = batch * max(sumOver, 1)
        let lda = a.leadingDimension ?? (transposeA ? m : k)
        // The kernel trusts its arguments: check every operand fits its buffer first.
        func fits(_ name: String, _ operand: MatrixOperand, rows: Int, cols: Int, ld: Int, stride: Int, count: Int) throws {
            let needed = operand.offset + (count - 1) * stride + (rows - 1) * ld + cols
            guard rows == 0 || cols == 0 || (ld >= cols && needed <= operand.tensor.count) else {
                throw LumenError.shapeMismatch("GEMM operand \(name) needs \(needed) floats (\(rows)x\(cols), leading dimension \(ld)) but its buffer holds \(operand.tensor.count)")
            }
        }
        try fits("A", a, rows: transposeA ? k : m, cols: transposeA ? m : k, ld: lda, stride: strideA, count: sets)
        try fits("B", b, rows: transposeB ? n : k, cols: transposeB ? k : n, ld: b.leadingDimension ?? (transposeB ? k : n),
                 stride: strideB, count: sets)
        try fits("C", c, rows: m, cols: n, ld: c.leadingDimension ?? n, stride: strideC, count: batch)
        if let rowBias, rowBias.count < m {
            throw LumenError.shapeMismatch("GEMM row bias needs \(m) floats but holds \(rowBias.count)")
        }
        guard tile.supports(transposeA: transposeA, transposeB: transposeB) else {
            throw LumenError.shapeMismatch("Lumen's \(tile.rawValue) GEMM computes A·Bᵀ only")
        }
        var bTensor = b.tensor, bOffset = b.offset, ldb = b.leadingDimension ?? (transposeB ? k : n), bStride = strideB
        if transposeB && tile != .dot4x4 {
            // B is stored [n, k]; pack Bᵀ as [sets, k, n].
            let packed = try Tensor(uninitializedOn: device, shape: [sets, k, n])
            if packed.count > 0 {
                try device.launch("gemm", "transpose_strided", global: [(k + 15) / 16, (n + 15) / 16, sets], local: tile.group,
                                  [.tensor(b.tensor), .size(b.offset), .size(ldb), .size(strideB), .tensor(packed), .size(n), .size(k)])
            }
            (bTensor, bOffset, ldb, bStride) = (packed, 0, n, k * n)
        }
        // gemm_nt_dot takes no trans_a; the arguments are otherwise the same.
        let transposeFlag: [KernelArgument] = tile == .dot4x4 ? [] : [.int(transposeA ? 1 : 0)]
        let (rows, columns) = tile.block
        let group = tile.group
        try device.launch("gemm", tile.kernelName, defines: tile.defines,
                          global: [(m + rows - 1) / rows * group[0], (n + columns - 1) / columns * group[1], batch], local: group,
                          [.tensor(a.tensor), .size(a.offset), .size(lda), .size(strideA)] + transposeFlag + [
                              .tensor(bTensor), .size(bOffset), .size(ldb), .size(bStride),
                              .tensor(c.tensor), .size(c.offset), .size(c.leadingDimension ?? n), .size(strideC),
                              .size(m), .size(n), .size(k), .size(max(sumOver, 1)), .float(alpha), .float(beta),
                              .tensor(rowBias ?? c.tensor), .int((rowBias == nil ? 0 : 1) | (relu ? 2 : 0)),
                          ])
    }
}

/// Which SGEMM serves each shape on each device: CLBlast or one of Lumen's own tiles.
/// With `LUMEN_GEMM=auto` (the default) the first call of a shape times every candidate
/// and keeps the fastest, remembering it in the cache folder (in a file named by the
/// device and by `gemm.cl`'s source, so a changed kernel is timed afresh) so the next
/// run starts with the choice; `LUMEN_GEMM=clblast`, `lumen` (8×32), `lumen-8x32`,
/// `lumen-4x64`, `lumen-dot4x4` or `lumen-local32` forces one.
enum GemmChooser {
    enum Backend: String, Codable, CaseIterable {
        case clblast
        case lumen8x32 = "lumen-8x32"
        case lumen4x64 = "lumen-4x64"
        case lumenDot = "lumen-dot4x4"
        case lumenLocal = "lumen-local32"

        /// Lumen's tile for this backend; nil for CLBlast.
        var tile: LumenGemm.Tile? {
            switch self {
            case .clblast: return nil
            case .lumen8x32: return .rows8cols32
            case .lumen4x64: return .rows4cols64
            case .lumenDot: return .dot4x4
            case .lumenLocal: return .local32
            }
        }

        func supports(transposeA: Bool, transposeB: Bool) -> Bool {
            tile?.supports(transposeA: transposeA, transposeB: transposeB) ?? true
        }
    }

    struct Key: Hashable, Codable {
        let transposeA: Bool, transposeB: Bool
        let m: Int, n: Int, k: Int, batch: Int
        var sumOver = 1
        var text: String {
            "\(transposeA ? "T" : "N")\(transposeB ? "T" : "N") \(m)x\(n)x\(k) x\(batch)" + (sumOver > 1 ? " sum\(sumOver)" : "")
        }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var choices: [String: [String: String]] = [:]  // device → what → choice

    /// `LUMEN_GEMM`, read once: every GEMM call asks. An unknown value is an error at the
    /// first GEMM, listing the valid ones.
    static let forcedSetting = Result { try parseForced(ProcessInfo.processInfo.environment["LUMEN_GEMM"]) }
    static var forced: Backend? { try? forcedSetting.get() }

    /// Every value `LUMEN_GEMM` takes.
    static let settings = ["auto", "lumen"] + Backend.allCases.map(\.rawValue)

    /// The backend a `LUMEN_GEMM` value forces: nil for auto (or unset); `lumen` is 8×32.
    static func parseForced(_ text: String?) throws -> Backend? {
        let value = text?.lowercased() ?? "auto"
        if value == "auto" || value.isEmpty { return nil }
        if value == "lumen" { return .lumen8x32 }
        guard let backend = Backend(rawValue: value) else {
            throw LumenError.invalidSetting(name: "LUMEN_GEMM", value: text ?? "", valid: settings)
        }
        return backend
    }

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
        // The tuned CLBlast parameters in force (applied before any GEMM) change CLBlast's speed.
        let url = ProgramCache.deviceFileURL("gemm-choices", for: device.info,
                                             keyedAlsoBy: [EmbeddedKernels.sources["gemm"] ?? "", device.clblastTuning?.fingerprint ?? ""])
        fileURLs[device.info.index] = url
        return url
    }

    /// The remembered choice, or nil when the shape has not been timed on this device.
    static func choice(for key: Key, on device: Device) -> Backend? {
        choice(for: key.text, on: device).flatMap(Backend.init(rawValue:))
    }

    /// The remembered choice named `text` (a GEMM shape, or another per-shape decision
    /// such as a convolution's weight-gradient plan), or nil. Choices made while CLBlast
    /// is refused on the device are kept apart from those made with it.
    static func choice(for text: String, on device: Device) -> String? {
        lock.lock()
        defer { lock.unlock() }
        let url = unlockedFileURL(for: device)
        let deviceKey = url.lastPathComponent
        if choices[deviceKey] == nil {
            choices[deviceKey] = (try? JSONDecoder().decode([String: String].self, from: Data(contentsOf: url))) ?? [:]
        }
        return choices[deviceKey]?[entryName(text, on: device)]
    }

    @discardableResult
    static func remember(_ backend: Backend, for key: Key, on device: Device) -> Backend {
        Backend(rawValue: remember(backend.rawValue, for: key.text, on: device)) ?? backend
    }

    /// Stores `value` under `text` unless another process stored a choice for it first,
    /// and returns the choice that stands, so every process sharing the cache folder
    /// computes each shape the same way. The file is re-read and merged under a lock: one
    /// process never erases another's entries.
    @discardableResult
    static func remember(_ value: String, for text: String, on device: Device) -> String {
        lock.lock()
        defer { lock.unlock() }
        let url = unlockedFileURL(for: device)
        let deviceKey = url.lastPathComponent
        let name = entryName(text, on: device)
        let merged = try? AtomicFile.update(url) { data -> (data: Data, result: [String: String]) in
            var stored = data.flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
            if stored[name] == nil { stored[name] = value }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            return (try encoder.encode(stored), stored)
        }
        // Unwritable cache folder: remember for this process only.
        choices[deviceKey] = (choices[deviceKey] ?? [:]).merging(merged ?? [name: value]) { _, stored in stored }
        return choices[deviceKey]?[name] ?? value
    }

    /// The entry for `text`: choices timed without CLBlast (it failed its self-check on
    /// the device) are stored under their own names.
    private static func entryName(_ text: String, on device: Device) -> String {
        GemmSelfCheck.clblastUsable(on: device) ? text : "without-clblast " + text
    }

    /// Times `run` on every backend that can compute `key` into scratch output, and
    /// remembers the fastest (or what another process remembered first). CLBlast takes
    /// part only when `includingCLBlast`.
    static func decide(_ key: Key, on device: Device, outputFloats: Int, including includingCLBlast: Bool,
                       run: (Backend, Tensor) throws -> Void) throws -> Backend {
        let scratch = try Tensor(uninitializedOn: device, shape: [max(outputFloats, 1)])
        let candidates = Backend.allCases.filter { backend in
            backend.supports(transposeA: key.transposeA, transposeB: key.transposeB)
                && (backend.tile?.suits(device) ?? includingCLBlast)
        }
        return remember(try fastest(of: candidates, on: device) { try run($0, scratch) }, for: key, on: device)
    }

    /// The candidate whose `run` took least: each is run once to warm up (compiling and
    /// settling its own choices), then once timed, waiting for the device each time.
    static func fastest<Candidate>(of candidates: [Candidate], on device: Device,
                                   run: (Candidate) throws -> Void) throws -> Candidate {
        var best: (candidate: Candidate, seconds: Double)?
        for candidate in candidates {
            try run(candidate)
            try device.synchronize()
            let start = Date()
            try run(candidate)
            try device.synchronize()
            let seconds = Date().timeIntervalSince(start)
            if best == nil || seconds < best!.seconds { best = (candidate, seconds) }
        }
        guard let best else { throw LumenError.shapeMismatch("no candidate to time on \(device.info.name)") }
        return best.candidate
    }
}
