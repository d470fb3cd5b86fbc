// Lumen's own SGEMM, written the CPU way: no local memory, work-groups of one, and each
// work-item holding an 8×16 block of C in eight float16 accumulators, which PoCL turns
// into wide vector code. Row-major; B is read untransposed (the host transposes a
// transposed B first). Used where it measures faster than CLBlast.
// Host twin: Sources/Lumen/Ops/LumenGemm.swift.

#define TM 8
#define TN 16

// C[i, j] = alpha * Σ_p op(A)[i, p] · B[p, j] + beta * C[i, j]
//   op(A): [m, k] (A stored [m, k], or [k, m] when trans_a)   B: [k, n]   C: [m, n]
//   batch z adds z·stride to each operand's offset. beta == 0 never reads C.
__kernel void gemm_tile(__global const float *A, const int a_off, const int lda, const int a_stride, const int trans_a,
                        __global const float *B, const int b_off, const int ldb, const int b_stride,
                        __global float *C, const int c_off, const int ldc, const int c_stride,
                        const int m, const int n, const int k, const float alpha, const float beta) {
    const int j0 = get_global_id(0) * TN;
    const int i0 = get_global_id(1) * TM;
    const int z = get_global_id(2);
    if (i0 >= m || j0 >= n) return;
    __global const float *a = A + a_off + (size_t)z * a_stride;
    __global const float *b = B + b_off + (size_t)z * b_stride;
    __global float *c = C + c_off + (size_t)z * c_stride;
    if (i0 + TM <= m && j0 + TN <= n) {
        float16 acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0, acc4 = 0, acc5 = 0, acc6 = 0, acc7 = 0;
        for (int p = 0; p < k; p++) {
            const float16 row = vload16(0, b + (size_t)p * ldb + j0);
            float8 col;
            if (trans_a) {
                col = vload8(0, a + (size_t)p * lda + i0);
            } else {
                __global const float *ap = a + (size_t)i0 * lda + p;
                col = (float8)(ap[0], ap[lda], ap[2 * lda], ap[3 * lda], ap[4 * lda], ap[5 * lda], ap[6 * lda], ap[7 * lda]);
            }
            acc0 = fma((float16)col.s0, row, acc0);
            acc1 = fma((float16)col.s1, row, acc1);
            acc2 = fma((float16)col.s2, row, acc2);
            acc3 = fma((float16)col.s3, row, acc3);
            acc4 = fma((float16)col.s4, row, acc4);
            acc5 = fma((float16)col.s5, row, acc5);
            acc6 = fma((float16)col.s6, row, acc6);
            acc7 = fma((float16)col.s7, row, acc7);
        }
        float16 acc[TM] = {acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7};
        for (int r = 0; r < TM; r++) {
            __global float *out = c + (size_t)(i0 + r) * ldc + j0;
            float16 value = alpha * acc[r];
            if (beta != 0.0f) value = fma((float16)beta, vload16(0, out), value);
            vstore16(value, 0, out);
        }
        return;
    }
    // A partial tile at the right or bottom edge: plain loops.
    const int rows = min(TM, m - i0), cols = min(TN, n - j0);
    for (int r = 0; r < rows; r++) {
        for (int q = 0; q < cols; q++) {
            float total = 0.0f;
            for (int p = 0; p < k; p++) {
                const float av = trans_a ? a[(size_t)p * lda + i0 + r] : a[(size_t)(i0 + r) * lda + p];
                total = fma(av, b[(size_t)p * ldb + j0 + q], total);
            }
            __global float *out = c + (size_t)(i0 + r) * ldc + j0 + q;
            *out = beta != 0.0f ? alpha * total + beta * *out : alpha * total;
        }
    }
}

// dst[z, c, r] = src[off + z·stride + r·ld + c]: a strided matrix transposed into a
// packed buffer.   src: [rows, cols] with leading dimension ld   dst: [batch, cols, rows]
__kernel void transpose_strided(__global const float *src, const int off, const int ld, const int stride,
                                __global float *dst, const int rows, const int cols) {
    const int col = get_global_id(0);
    const int row = get_global_id(1);
    const int z = get_global_id(2);
    if (col >= cols || row >= rows) return;
    dst[((size_t)z * cols + col) * rows + row] = src[off + (size_t)z * stride + (size_t)row * ld + col];
}
