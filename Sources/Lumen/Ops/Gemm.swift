import CLShim

/// One GEMM operand: a tensor read as a row-major matrix starting `offset` floats in,
/// with `leadingDimension` floats between rows.
public struct MatrixOperand {
    public let tensor: Tensor
    public let offset: Int
    public let leadingDimension: Int?

    public init(_ tensor: Tensor, offset: Int = 0, leadingDimension: Int? = nil) {
        self.tensor = tensor
        self.offset = offset
        self.leadingDimension = leadingDimension
    }
}

/// Matrix multiply, row-major, on whichever implementation the device's `GemmPlanner`
/// picks for the shape: CLBlast, or one of Lumen's kernels (`GemmKernels`).
///
/// The first GEMM on each device runs `GemmSelfCheck` first: if CLBlast gets a small
/// product wrong there, Lumen's own GEMM serves every call on the device.
public enum Gemm {
    /// C = alpha * op(A) * op(B) + beta * C.
    ///
    ///     op(A): [m, k]   op(B): [k, n]   C: [m, n]
    ///
    /// `temp`, when given, is the scratch buffer CLBlast would otherwise allocate; size it
    /// with `temporaryFloats`. With beta 0, C need not be initialised.
    public static func multiply(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: MatrixOperand, _ b: MatrixOperand, beta: Float = 0, into c: MatrixOperand,
        temp: Tensor? = nil
    ) throws {
        guard m > 0, n > 0 else { return }
        let shape = GemmShape(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, batch: 1)
        let call = Call(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                        a: a, strideA: 0, b: b, strideB: 0, c: c, strideC: 0, batch: 1, temp: temp)
        try call.run(on: chosenBackend(shape, call), beta: beta)
    }

    /// The device planner's backend for `shape`, timing `call` into scratch output when
    /// the shape is new.
    private static func chosenBackend(_ shape: GemmShape, _ call: Call) throws -> GemmBackend {
        let device = call.c.tensor.device
        var scratch: Tensor?
        return try GemmPlanner.of(device).backend(for: shape) { backend in
            let output = try scratch ?? Tensor(uninitializedOn: device, shape: [max(call.c.tensor.count, 1)])
            scratch = output
            var trial = call
            trial.c = MatrixOperand(output, offset: call.c.offset, leadingDimension: call.c.leadingDimension)
            try trial.run(on: backend, beta: 0)
        }
    }

    /// One GEMM call's operands, runnable on any backend.
    struct Call {
        let transposeA: Bool, transposeB: Bool
        let m: Int, n: Int, k: Int, alpha: Float
        let a: MatrixOperand, strideA: Int, b: MatrixOperand, strideB: Int
        var c: MatrixOperand
        let strideC: Int, batch: Int
        var sumOver = 1
        var rowBias: Tensor? = nil
        var activation = ActivationKind.linear
        var temp: Tensor? = nil

        init(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: MatrixOperand, strideA: Int,
             b: MatrixOperand, strideB: Int, c: MatrixOperand, strideC: Int, batch: Int, sumOver: Int = 1,
             rowBias: Tensor? = nil, activation: ActivationKind = .linear, temp: Tensor? = nil) {
            (self.transposeA, self.transposeB, self.m, self.n, self.k, self.alpha) = (transposeA, transposeB, m, n, k, alpha)
            (self.a, self.strideA, self.b, self.strideB, self.c, self.strideC) = (a, strideA, b, strideB, c, strideC)
            (self.batch, self.sumOver, self.rowBias, self.activation, self.temp) = (batch, sumOver, rowBias, activation, temp)
        }

        /// Runs on `backend`. CLBlast sums over sets by accumulating into C, and adds the
        /// row bias and the activation with a separate kernel (C must then be a dense [batch, m, n]).
        func run(on backend: GemmBackend, beta: Float) throws {
            if let tile = backend.tile {
                try GemmKernels.multiply(tile: tile, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                       alpha: alpha, a, strideA: strideA, b, strideB: strideB, beta: beta, into: c,
                                       strideC: strideC, batch: batch, sumOver: sumOver, rowBias: rowBias, activation: activation)
                return
            }
            for s in 0..<sumOver {
                let a = MatrixOperand(self.a.tensor, offset: self.a.offset + s * strideA, leadingDimension: self.a.leadingDimension)
                let b = MatrixOperand(self.b.tensor, offset: self.b.offset + s * strideB, leadingDimension: self.b.leadingDimension)
                let beta = s == 0 ? beta : 1
                if batch == 1 {
                    try multiplyUnchecked(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                          a, b, beta: beta, into: c, temp: temp)
                } else {
                    // With a sum, set z·sumOver + s: A and B step sumOver strides per batch entry.
                    try clblastBatched(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                       a, strideA: strideA * sumOver, b, strideB: strideB * sumOver, beta: beta,
                                       into: c, strideC: strideC, batch: batch)
                }
            }
            let epilogue = try GemmKernels.epilogue(rowBias: rowBias, activation)
            guard epilogue != 0 else { return }
            guard (c.leadingDimension ?? n) == n, strideC == m * n || batch == 1 else {
                throw LumenError.shapeMismatch("a GEMM row bias or activation through CLBlast needs a dense [batch, m, n] C")
            }
            try c.tensor.device.launch("gemm", "gemm_epilogue", global: [batch * m * n],
                                       [.tensor(c.tensor), .size(c.offset), .tensor(rowBias ?? c.tensor),
                                        .int(epilogue), .size(m), .size(n), .size(batch * m * n)])
        }
    }

    static func multiplyUnchecked(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        _ a: MatrixOperand, _ b: MatrixOperand, beta: Float, into c: MatrixOperand, temp: Tensor?
    ) throws {
        guard m > 0, n > 0 else { return }
        let (lda, ldb, ldc) = leadingDimensions(transposeA, transposeB, m, n, k, a, b, c)
        let device = c.tensor.device
        let am = try a.tensor.liveMemory(), bm = try b.tensor.liveMemory(), cm = try c.tensor.liveMemory()
        let tm = try temp?.liveMemory()
        try check(
            lm_sgemm(device.handle, transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha,
                     am, a.offset, lda, bm, b.offset, ldb, beta, cm, c.offset, ldc, tm),
            "SGEMM \(m)x\(n)x\(k) on \(device.info.name)")
    }

    /// `batch` GEMMs whose operands sit `strideA`, `strideB` and `strideC` floats apart,
    /// each summing `sumOver` operand pairs (set z·sumOver + s), adding `rowBias` and
    /// applying `activation` (linear, ReLU or ReLU6).
    ///
    ///     op(A_i): [m, k]   op(B_i): [k, n]   C_z: [m, n]   rowBias: [m]
    ///     C_z = alpha · Σ_s op(A_{z·sumOver+s}) · op(B_{z·sumOver+s}) + rowBias + beta · C_z
    public static func multiplyBatched(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: MatrixOperand, strideA: Int, _ b: MatrixOperand, strideB: Int,
        beta: Float = 0, into c: MatrixOperand, strideC: Int, batch: Int, sumOver: Int = 1, rowBias: Tensor? = nil,
        activation: ActivationKind = .linear
    ) throws {
        guard m > 0, n > 0, batch > 0, sumOver > 0 else { return }
        var shape = GemmShape(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, batch: batch)
        shape.sumOver = sumOver
        let call = Call(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                        a: a, strideA: strideA, b: b, strideB: strideB, c: c, strideC: strideC, batch: batch,
                        sumOver: sumOver, rowBias: rowBias, activation: activation)
        try call.run(on: chosenBackend(shape, call), beta: beta)
    }

    static func clblastBatched(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        _ a: MatrixOperand, strideA: Int, _ b: MatrixOperand, strideB: Int,
        beta: Float, into c: MatrixOperand, strideC: Int, batch: Int
    ) throws {
        let device = c.tensor.device
        let (lda, ldb, ldc) = leadingDimensions(transposeA, transposeB, m, n, k, a, b, c)
        let am = try a.tensor.liveMemory(), bm = try b.tensor.liveMemory(), cm = try c.tensor.liveMemory()
        try check(
            lm_sgemm_strided_batched(device.handle, transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha,
                                     am, a.offset, lda, strideA, bm, b.offset, ldb, strideB, beta,
                                     cm, c.offset, ldc, strideC, batch),
            "batched SGEMM \(batch)x(\(m)x\(n)x\(k)) on \(device.info.name)")
    }

    /// Floats of scratch CLBlast wants for the matching `multiply` call.
    public static func temporaryFloats(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        _ a: MatrixOperand, _ b: MatrixOperand, into c: MatrixOperand
    ) throws -> Int {
        let (lda, ldb, ldc) = leadingDimensions(transposeA, transposeB, m, n, k, a, b, c)
        var bytes = 0
        try check(
            lm_sgemm_temp_size(c.tensor.device.handle, transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k,
                               a.offset, lda, b.offset, ldb, c.offset, ldc, &bytes),
            "sizing SGEMM scratch \(m)x\(n)x\(k)")
        return (bytes + 3) / 4
    }

    /// a @ b for 2-D tensors, a new tensor.            a: [m, k]  b: [k, n]  ->  [m, n]
    public static func matmul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape.count == 2, b.shape.count == 2, a.shape[1] == b.shape[0] else {
            throw LumenError.shapeMismatch("matmul of \(a.shape) and \(b.shape)")
        }
        guard a.shape[1] > 0 else { return try Tensor.zeros(on: a.device, shape: [a.shape[0], b.shape[1]]) }
        let c = try Tensor(uninitializedOn: a.device, shape: [a.shape[0], b.shape[1]])
        try multiply(m: a.shape[0], n: b.shape[1], k: a.shape[1], MatrixOperand(a), MatrixOperand(b), into: MatrixOperand(c))
        return c
    }

    private static func leadingDimensions(
        _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
        _ a: MatrixOperand, _ b: MatrixOperand, _ c: MatrixOperand
    ) -> (Int, Int, Int) {
        (a.leadingDimension ?? (transposeA ? m : k),
         b.leadingDimension ?? (transposeB ? k : n),
         c.leadingDimension ?? n)
    }
}
