/// Plain-Swift twins of the device kernels, written for clarity, not speed.
enum HostReference {
    /// C = alpha * op(A) * op(B) + beta * C, row-major with offsets and leading dimensions.
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: [Float], aOffset: Int, lda: Int, b: [Float], bOffset: Int, ldb: Int,
                     beta: Float, c: inout [Float], cOffset: Int, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var total: Double = 0
                for p in 0..<k {
                    let av = transposeA ? a[aOffset + p * lda + i] : a[aOffset + i * lda + p]
                    let bv = transposeB ? b[bOffset + j * ldb + p] : b[bOffset + p * ldb + j]
                    total += Double(av) * Double(bv)
                }
                let index = cOffset + i * ldc + j
                c[index] = alpha * Float(total) + (beta == 0 ? 0 : beta * c[index])
            }
        }
    }

    /// Sum over `axis`, which is removed.
    static func sum(_ x: [Float], shape: [Int], axis: Int) -> [Float] {
        let outer = shape[..<axis].reduce(1, *)
        let length = shape[axis]
        let inner = shape[(axis + 1)...].reduce(1, *)
        var y = [Float](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var total: Float = 0
                for l in 0..<length { total += x[(o * length + l) * inner + i] }
                y[o * inner + i] = total
            }
        }
        return y
    }

    /// Swaps the last two dimensions of a [batch, rows, cols] array.
    static func transpose(_ x: [Float], batch: Int, rows: Int, cols: Int) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        for b in 0..<batch {
            for r in 0..<rows {
                for c in 0..<cols { y[(b * cols + c) * rows + r] = x[(b * rows + r) * cols + c] }
            }
        }
        return y
    }
}
