import Foundation

/// Lumen's own SGEMM: the twin of `Kernels/gemm.cl`. Same contract as `Gemm.multiply`,
/// strided-batched, with a batch sum and a row bias folded in; a transposed B is first
/// copied out transposed.
public enum GemmKernels {
    /// How a kernel splits C, and which kernel: `gemm_tile` for CPU-like devices (one
    /// work-item per rows × columns block in registers, broadcast A, rows of B as vectors;
    /// `4x64-panels` and `8x32-panels` read B from panels of their width copied out first;
    /// each also `-columns-first`, its work-items walking C's column blocks before its rows),
    /// `gemm_nt_dot` for C = A · Bᵀ only (vector dot products along k, no transposed copy
    /// of B), and `gemm_local` for GPU-like devices (a 32 × 32 block per work-group of
    /// 8 × 8, tiles of A and B in local memory).
    public enum Tile: String, CaseIterable, Sendable {
        case rows8cols32 = "8x32"
        case rows4cols64 = "4x64"
        case rows4cols64Panels = "4x64-panels"
        case rows8cols32Panels = "8x32-panels"
        case rows8cols32ColumnsFirst = "8x32-columns-first"
        case rows4cols64ColumnsFirst = "4x64-columns-first"
        case rows4cols64PanelsColumnsFirst = "4x64-panels-columns-first"
        case rows8cols32PanelsColumnsFirst = "8x32-panels-columns-first"
        case dot4x4 = "dot4x4"
        case local32 = "local32"

        /// The block of C one work-item (one work-group for `local32`) computes: rows × columns.
        var block: (rows: Int, columns: Int) {
            switch self {
            case .rows8cols32, .rows8cols32Panels, .rows8cols32ColumnsFirst, .rows8cols32PanelsColumnsFirst: return (8, 32)
            case .rows4cols64, .rows4cols64Panels, .rows4cols64ColumnsFirst, .rows4cols64PanelsColumnsFirst: return (4, 64)
            case .dot4x4: return (4, 4)
            case .local32: return (32, 32)
            }
        }

        var kernelName: String {
            switch self {
            case .dot4x4: return "gemm_nt_dot"
            case .local32: return "gemm_local"
            default: return "gemm_tile"
            }
        }

        /// Build options: `gemm_tile` is built once per tile shape, B layout and order.
        var defines: String {
            guard kernelName == "gemm_tile" else { return "" }
            return "-DTM=\(block.rows) -DNV=\(block.columns / 16)" + (readsPanels ? " -DPACKED_B" : "")
                + (walksColumnsFirst ? " -DCOLUMNS_FIRST" : "")
        }

        /// Whether consecutive work-items take C's column blocks along one row block (that
        /// block's rows of A stay in cache while B passes), not its row blocks along one
        /// column block (B's columns stay while A passes). Which is faster depends on the
        /// shape; the planner times both.
        var walksColumnsFirst: Bool {
            [.rows8cols32ColumnsFirst, .rows4cols64ColumnsFirst, .rows4cols64PanelsColumnsFirst,
             .rows8cols32PanelsColumnsFirst].contains(self)
        }

        /// Whether B is first copied into panels of `block.columns` columns (`pack_panels`,
        /// which also transposes a transposed B): aligned, contiguous vector loads in the
        /// kernel for one pass over B.
        var readsPanels: Bool {
            [.rows4cols64Panels, .rows8cols32Panels, .rows4cols64PanelsColumnsFirst, .rows8cols32PanelsColumnsFirst].contains(self)
        }

        /// Work-group size: one work-item on CPU-like devices, 8 × 8 for `gemm_local`.
        var group: [Int] { self == .local32 ? [8, 8, 1] : [1, 1, 1] }

        /// Whether the tile computes this transpose combination.
        func supports(transposeA: Bool, transposeB: Bool) -> Bool { self != .dot4x4 || (!transposeA && transposeB) }

        /// Whether the tile belongs to the device's kernel family (the planner times only
        /// those) and the device runs its work-group size.
        func suits(_ device: Device) -> Bool {
            let limit = self == .local32 ? ((try? device.kernel("gemm", kernelName).maxWorkGroupSize) ?? 0) : 1
            // The device must also take the group's extent in each dimension.
            let extents = zip(group, device.info.maxWorkItemSizes).allSatisfy { $0 <= $1 }
            return extents && suits(cpu: device.kernelStyle == .cpu, workGroupLimit: limit)
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
    /// then `activation` (linear, ReLU or ReLU6) applied as C is stored.
    ///     op(A): [m, k]   op(B): [k, n]   C: [m, n]   rowBias: [m]
    public static func multiply(tile: Tile = .rows8cols32, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                alpha: Float, _ a: MatrixOperand, strideA: Int, _ b: MatrixOperand, strideB: Int,
                                beta: Float, into c: MatrixOperand, strideC: Int, batch: Int, sumOver: Int = 1,
                                rowBias: Tensor? = nil, activation: ActivationKind = .linear) throws {
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
        if transposeB && tile != .dot4x4 && !tile.readsPanels {
            // B is stored [n, k]; pack Bᵀ as [sets, k, n].
            let packed = try Tensor(uninitializedOn: device, shape: [sets, k, n])
            try transpose(b.tensor, offset: b.offset, ld: ldb, stride: strideB, rows: n, cols: k, sets: sets, into: packed,
                          staged: tile == .local32)
            (bTensor, bOffset, ldb, bStride) = (packed, 0, n, k * n)
        }
        // A batch sharing one A over panels runs as one GEMM over its entries' columns side
        // by side, so only the last entry's last panel is partly empty (InceptionV3's 17 × 17
        // maps: 289 columns per image, 320 computed each when apart).
        let merged = tile.readsPanels && batch > 1 && strideA == 0 && sumOver <= 1
        let (launchBatch, totalColumns) = merged ? (1, batch * n) : (batch, n)
        if tile.readsPanels {
            let width = tile.block.columns, panels = (totalColumns + width - 1) / width
            let packed = try packPanels(bTensor, offset: bOffset, ld: ldb, stride: bStride, transposed: transposeB,
                                        rows: k, cols: totalColumns, blockColumns: n, sets: merged ? 1 : sets, width: width)
            (bTensor, bOffset, ldb, bStride) = (packed, 0, width, panels * k * width)
        }
        // gemm_nt_dot takes no trans_a, and only gemm_tile takes n_block (columns per batch
        // entry); the arguments are otherwise the same.
        let transposeFlag: [KernelArgument] = tile == .dot4x4 ? [] : [.int(transposeA ? 1 : 0)]
        let blockColumns: [KernelArgument] = tile.kernelName == "gemm_tile" ? [.size(n)] : []
        let (rows, columns) = tile.block
        let group = tile.group
        try device.launch("gemm", tile.kernelName, defines: tile.defines,
                          global: [(m + rows - 1) / rows * group[0], (totalColumns + columns - 1) / columns * group[1], launchBatch],
                          local: group,
                          [.tensor(a.tensor), .size(a.offset), .size(lda), .size(strideA)] + transposeFlag + [
                              .tensor(bTensor), .size(bOffset), .size(ldb), .size(bStride),
                              .tensor(c.tensor), .size(c.offset), .size(c.leadingDimension ?? n), .size(strideC),
                              .size(m), .size(totalColumns)] + blockColumns + [
                              .size(k), .size(max(sumOver, 1)), .float(alpha), .float(beta),
                              // Without a bias the kernel is handed A, which holds at least m
                              // written floats: a compiler that hoists the unused bias load
                              // still reads memory that is inside a buffer and initialised
                              // (C is neither when beta is 0).
                              .tensor(rowBias ?? a.tensor), .int(try epilogue(rowBias: rowBias, activation)),
                          ])
    }

    /// The `epilogue` argument of the GEMM kernels: bit 0 adds the row bias, the
    /// activation's bits (`ActivationKind.epilogueBits`) apply it.
    static func epilogue(rowBias: Tensor?, _ activation: ActivationKind) throws -> Int32 {
        guard let bits = activation.epilogueBits else {
            throw LumenError.shapeMismatch("a GEMM applies linear, ReLU or ReLU6 as it stores, not \(activation.rawValue)")
        }
        return (rowBias == nil ? 0 : 1) | bits
    }

    /// op(src_z)'s strips of `width` columns (a multiple of 16) as contiguous [rows, width]
    /// panels, zero past column `cols`: [sets, ⌈cols / width⌉, rows, width]. src_z starts at
    /// offset + z·stride with rows ld apart; `transposed` reads it stored [cols, rows]. With
    /// `blockColumns` under `cols` (one set), the columns come from matrices side by side:
    /// column c is column c % blockColumns of the matrix stride · (c / blockColumns) further on.
    static func packPanels(_ src: Tensor, offset: Int, ld: Int, stride: Int, transposed: Bool, rows: Int, cols: Int,
                           blockColumns: Int? = nil, sets: Int, width: Int) throws -> Tensor {
        let panels = (cols + width - 1) / width
        let packed = try Tensor(uninitializedOn: src.device, shape: [max(sets * panels * rows * width, 1)])
        guard rows > 0 else { return packed }
        try src.device.launch("gemm", "pack_panels", global: [panels, (rows + 15) / 16, sets], local: [1, 1, 1],
                              [.tensor(src), .size(offset), .size(ld), .size(stride), .int(transposed ? 1 : 0),
                               .tensor(packed), .size(rows), .size(cols), .size(blockColumns ?? cols), .size(width)])
        return packed
    }

    /// dst[z, c, r] = src[offset + z·stride + r·ld + c] for z < sets, r < rows, c < cols:
    /// strided matrices copied out transposed, [sets, cols, rows]. With `staged` (GPU-like
    /// devices whose limits take a 16 × 16 group) blocks move through local memory; else
    /// a block per work-item moves in registers.
    static func transpose(_ src: Tensor, offset: Int, ld: Int, stride: Int, rows: Int, cols: Int, sets: Int,
                          into dst: Tensor, staged: Bool) throws {
        guard rows > 0, cols > 0, sets > 0 else { return }
        let device = src.device
        let arguments: [KernelArgument] = [.tensor(src), .size(offset), .size(ld), .size(stride), .tensor(dst), .size(rows), .size(cols)]
        if staged, device.info.maxWorkItemSizes.prefix(2).allSatisfy({ $0 >= 16 }),
           try device.kernel("gemm", "transpose_local").maxWorkGroupSize >= 256 {
            try device.launch("gemm", "transpose_local", global: [cols, rows, sets], local: [16, 16, 1], arguments)
        } else {
            try device.launch("gemm", "transpose_strided", global: [(cols + 15) / 16, (rows + 15) / 16, sets], local: [1, 1, 1],
                              arguments)
        }
    }
}
