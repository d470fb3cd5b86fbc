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

/// Matrix multiply through CLBlast, row-major.
///
/// The first GEMM on each device runs `GemmSelfCheck` first and refuses the device if
/// CLBlast gets a small product wrong.
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
        let device = c.tensor.device
        try GemmSelfCheck.require(on: device)
        guard m > 0, n > 0 else { return }
        let key = GemmChooser.Key(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, batch: 1)
        let backend = try GemmChooser.forced ?? GemmChooser.choice(for: key, on: device)
            ?? GemmChooser.decide(key, on: device, outputFloats: c.tensor.count) { backend, scratch in
                try run(backend, transposeA, transposeB, m, n, k, alpha, a, 0, b, 0, 0,
                        MatrixOperand(scratch, offset: c.offset, leadingDimension: c.leadingDimension), 0, 1, temp)
            }
        try run(backend, transposeA, transposeB, m, n, k, alpha, a, 0, b, 0, beta, c, 0, 1, temp)
    }

    /// One call on the chosen backend; batch 1 without strides is a plain GEMM.
    private static func run(_ backend: GemmChooser.Backend, _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
                            _ alpha: Float, _ a: MatrixOperand, _ strideA: Int, _ b: MatrixOperand, _ strideB: Int,
                            _ beta: Float, _ c: MatrixOperand, _ strideC: Int, _ batch: Int, _ temp: Tensor?) throws {
        switch backend {
        case .lumen:
            try LumenGemm.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                   a, strideA: strideA, b, strideB: strideB, beta: beta, into: c, strideC: strideC, batch: batch)
        case .clblast where batch == 1:
            try multiplyUnchecked(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                  a, b, beta: beta, into: c, temp: temp)
        case .clblast:
            try clblastBatched(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                               a, strideA: strideA, b, strideB: strideB, beta: beta, into: c, strideC: strideC, batch: batch)
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

    /// `batch` GEMMs whose operands sit `strideA`, `strideB` and `strideC` floats apart.
    ///
    ///     op(A_i): [m, k]   op(B_i): [k, n]   C_i: [m, n]   for i in 0..<batch
    public static func multiplyBatched(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: MatrixOperand, strideA: Int, _ b: MatrixOperand, strideB: Int,
        beta: Float = 0, into c: MatrixOperand, strideC: Int, batch: Int
    ) throws {
        guard m > 0, n > 0, batch > 0 else { return }
        let device = c.tensor.device
        try GemmSelfCheck.require(on: device)
        let key = GemmChooser.Key(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, batch: batch)
        let backend = try GemmChooser.forced ?? GemmChooser.choice(for: key, on: device)
            ?? GemmChooser.decide(key, on: device, outputFloats: c.tensor.count) { backend, scratch in
                try run(backend, transposeA, transposeB, m, n, k, alpha, a, strideA, b, strideB, 0,
                        MatrixOperand(scratch, offset: c.offset, leadingDimension: c.leadingDimension), strideC, batch, nil)
            }
        try run(backend, transposeA, transposeB, m, n, k, alpha, a, strideA, b, strideB, beta, c, strideC, batch, nil)
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
        let c = try Tensor(uninitializedOn: a.device, shape: [a.shape[0], b.shape[1]])
        if a.shape[1] == 0 {
            try Elementwise.fill(c, with: 0)
        } else {
            try multiply(m: a.shape[0], n: b.shape[1], k: a.shape[1], MatrixOperand(a), MatrixOperand(b), into: MatrixOperand(c))
        }
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
