// Lumen's own SGEMM, written the CPU way: no local memory, work-groups of one, and each
// work-item holding a TM × (16·NV) block of C in float16 accumulators, which PoCL turns
// into wide vector code. The host builds this file once per tile shape with -DTM=…
// -DNV=… (8×32 and 4×64, each with and without panels) and times them against CLBlast
// per shape.
// Work-item dimension 0 walks the rows of C: PoCL runs consecutive work-groups on one
// thread, so a column panel of B stays in cache while every row block passes over it.
// Built with -DCOLUMNS_FIRST, consecutive work-items walk C's columns instead (a row
// block of A stays in cache); the host launches the same grid either way.
// Row-major; B is read untransposed (the host packs a transposed B first). Built with
// -DPACKED_B, gemm_tile reads B from panels pack_panels wrote: each TN-column strip of B
// as one contiguous [k, TN] block, zero past column n, so every vector load is aligned
// and a work-item streams one block instead of TN-float pieces ldb apart.
// Host twin: Sources/Lumen/Ops/GemmKernels.swift.

#ifndef TM
#define TM 8
#endif
#ifndef NV
#define NV 2
#endif
#define TN (16 * NV)

// Where row p of B's strip starting at column j begins (j a multiple of TN when packed).
#ifdef PACKED_B
#define B_AT(j, p) ((size_t)((j) / TN) * k * TN + (size_t)(p) * TN)
#else
#define B_AT(j, p) ((size_t)(p) * ldb + (j))
#endif

// Cell (i, j) of C: row i of the batch entry that column j falls in (see n_block below).
#define C_AT(i, j) (c + (size_t)((j) / n_block) * c_stride + (size_t)(i) * ldc + (j) % n_block)

// Stores one cell of C: value (alpha · the product + the bias) plus beta · the cell's old
// value unless beta is 0 (then C is never read), through ReLU capped at cap when relu.
inline void store_cell(__global float *out, const float value, const float beta, const bool relu, const float cap) {
    const float result = beta != 0.0f ? fma(beta, *out, value) : value;
    *out = relu ? fmin(fmax(result, 0.0f), cap) : result;
}

// One step p of the k loop: B's row p of the tile's strip times A's column p, added to
// the accumulators; A_AT(r) reads op(A)[ti + r, p].
#define TILE_STEP(A_AT) { \
    float16 row[NV]; \
    _Pragma("unroll") for (int v = 0; v < NV; v++) row[v] = vload16(v, b + B_AT(tj, p)); \
    _Pragma("unroll") for (int r = 0; r < TM; r++) { \
        const float av = A_AT; \
        _Pragma("unroll") for (int v = 0; v < NV; v++) acc[r][v] = fma((float16)av, row[v], acc[r][v]); \
    } \
}

// C[i, j] = alpha · Σ_s Σ_p op(A_s)[i, p] · B_s[p, j] + bias[i] + beta · C[i, j]
//   op(A): [m, k] (A stored [m, k], or [k, m] when trans_a)   B: [k, n]   C: [m, n]
//   Batch z (work-item dimension 2) adds z·stride to each operand's offset. With
//   sum_over > 1, a work-item also sums the products of operand sets z·sum_over + s,
//   s < sum_over (A and B advance by their strides, C by its own only per z): the
//   gradient of a weight shared across a batch in one launch.
//   n_block < n (packed B only): the batch entries of a GEMM whose A they share, side by
//   side as one of n columns: C's column j is column j % n_block of the entry j / n_block,
//   c_stride further on (pack_panels placed B's columns alike), so no entry rounds its
//   columns up to whole tiles. Otherwise n_block = n.
//   epilogue: bit 0 adds bias[i] (bias: [m]) to every row, bit 1 applies ReLU to the
//   result (a convolution's fused activation), bit 2 with it caps it at 6 (ReLU6).
//   beta == 0 never reads C.
__kernel void gemm_tile(__global const float *A, const int a_off, const int lda, const int a_stride, const int trans_a,
                        __global const float *B, const int b_off, const int ldb, const int b_stride,
                        __global float *C, const int c_off, const int ldc, const int c_stride,
                        const int m, const int n, const int n_block, const int k, const int sum_over,
                        const float alpha, const float beta, __global const float *bias, const int epilogue) {
#ifdef COLUMNS_FIRST
    // Work-item (x, y) takes the block numbered x + y·X counting along C's rows of blocks,
    // so consecutive work-items share a row block of A and walk B's columns.
    const size_t block = get_global_id(0) + get_global_id(1) * get_global_size(0);
    const int i0 = (int)(block / get_global_size(1)) * TM;
    const int j0 = (int)(block % get_global_size(1)) * TN;
#else
    const int i0 = get_global_id(0) * TM;
    const int j0 = get_global_id(1) * TN;
#endif
    const bool has_bias = epilogue & 1, relu = epilogue & 2;
    const float cap = epilogue & 4 ? 6.0f : INFINITY;
    const int z = get_global_id(2);
    if (i0 >= m || j0 >= n) return;
    __global float *c = C + c_off + (size_t)z * c_stride;
    // A tile crossing the bottom or right edge is shifted back inside the matrix, so
    // it still runs the vector code, and stores only the cells no other tile owns.
    // Packed panels are whole: a tile on the right edge stays and stores up to n.
    const int ti = i0 + TM <= m ? i0 : m - TM;
#ifdef PACKED_B
    const int tj = j0;
#else
    const int tj = j0 + TN <= n ? j0 : n - TN;
#endif
    if (ti >= 0 && tj >= 0) {
        float16 acc[TM][NV];
        #pragma unroll
        for (int r = 0; r < TM; r++) {
            #pragma unroll
            for (int v = 0; v < NV; v++) acc[r][v] = 0;
        }
        for (int s = 0; s < sum_over; s++) {
            const size_t set = (size_t)z * sum_over + s;
            __global const float *a = A + a_off + set * a_stride;
            __global const float *b = B + b_off + set * b_stride;
            // The k loop twice, once per layout of A, so neither tests trans_a per step.
            if (trans_a) {
                __global const float *column = a + ti;
                for (int p = 0; p < k; p++, column += lda) TILE_STEP(column[r])
            } else {
                __global const float *rows = a + (size_t)ti * lda;
                for (int p = 0; p < k; p++) TILE_STEP(rows[(size_t)r * lda + p])
            }
        }
        if (ti == i0 && tj == j0 && j0 + TN <= n) {
            #pragma unroll
            for (int r = 0; r < TM; r++) {
                const float16 shift = has_bias ? (float16)bias[i0 + r] : (float16)0.0f;
                #pragma unroll
                for (int v = 0; v < NV; v++) {
                    const int j = j0 + 16 * v;
                    float16 value = fma((float16)alpha, acc[r][v], shift);
                    if (j % n_block + 16 <= n_block) {
                        __global float *out = C_AT(i0 + r, j);
                        if (beta != 0.0f) value = fma((float16)beta, vload16(0, out), value);
                        if (relu) value = fmin(fmax(value, 0.0f), cap);
                        vstore16(value, 0, out);
                        continue;
                    }
                    // 16 columns across two batch entries: cell by cell.
                    float values[16];
                    vstore16(value, 0, values);
                    for (int q = 0; q < 16; q++) store_cell(C_AT(i0 + r, j + q), values[q], beta, relu, cap);
                }
            }
        } else {
            for (int r = i0 - ti; r < TM; r++) {
                const float shift = has_bias ? bias[ti + r] : 0.0f;
                for (int v = 0; v < NV; v++) {
                    float values[16];
                    vstore16(acc[r][v], 0, values);
                    for (int q = max(j0 - tj - 16 * v, 0); q < min(16, n - tj - 16 * v); q++) {
                        store_cell(C_AT(ti + r, tj + 16 * v + q), fma(alpha, values[q], shift), beta, relu, cap);
                    }
                }
            }
        }
        return;
    }
    // C smaller than one tile: plain loops.
    const int rows = min(TM, m - i0), cols = min(TN, n - j0);
    for (int r = 0; r < rows; r++) {
        for (int q = 0; q < cols; q++) {
            float total = 0.0f;
            for (int s = 0; s < sum_over; s++) {
                const size_t set = (size_t)z * sum_over + s;
                __global const float *a = A + a_off + set * a_stride;
                __global const float *b = B + b_off + set * b_stride;
                for (int p = 0; p < k; p++) {
                    const float av = trans_a ? a[(size_t)p * lda + i0 + r] : a[(size_t)(i0 + r) * lda + p];
                    total = fma(av, b[B_AT(j0, p) + q], total);
                }
            }
            store_cell(C_AT(i0 + r, j0 + q), fma(alpha, total, has_bias ? bias[i0 + r] : 0.0f), beta, relu, cap);
        }
    }
}

// A 16 × 16 block transposed in registers: rows[r].s[c] becomes rows[c].s[r]. Four
// rounds, d = 8, 4, 2, 1; each swaps, inside every 2d × 2d block, the d × d block above
// the diagonal with the one below it: row i (bit d clear) takes lanes l - d of row i + d
// into its lanes l with bit d set, and gives its lanes l + d to row i + d's lanes l with
// bit d clear. Lane by lane, which PoCL turns into two-source permutes (it lowers
// shuffle2, and whole-half swizzles, through memory).
#define SWAP_BLOCKS(t, b, upper, lower) { const float16 kept = (float16)upper; b = (float16)lower; t = kept; }
#define TRANSPOSE_ROUND8(t, b) \
    SWAP_BLOCKS(t, b, (t.s0, t.s1, t.s2, t.s3, t.s4, t.s5, t.s6, t.s7, b.s0, b.s1, b.s2, b.s3, b.s4, b.s5, b.s6, b.s7), \
                      (t.s8, t.s9, t.sa, t.sb, t.sc, t.sd, t.se, t.sf, b.s8, b.s9, b.sa, b.sb, b.sc, b.sd, b.se, b.sf))
#define TRANSPOSE_ROUND4(t, b) \
    SWAP_BLOCKS(t, b, (t.s0, t.s1, t.s2, t.s3, b.s0, b.s1, b.s2, b.s3, t.s8, t.s9, t.sa, t.sb, b.s8, b.s9, b.sa, b.sb), \
                      (t.s4, t.s5, t.s6, t.s7, b.s4, b.s5, b.s6, b.s7, t.sc, t.sd, t.se, t.sf, b.sc, b.sd, b.se, b.sf))
#define TRANSPOSE_ROUND2(t, b) \
    SWAP_BLOCKS(t, b, (t.s0, t.s1, b.s0, b.s1, t.s4, t.s5, b.s4, b.s5, t.s8, t.s9, b.s8, b.s9, t.sc, t.sd, b.sc, b.sd), \
                      (t.s2, t.s3, b.s2, b.s3, t.s6, t.s7, b.s6, b.s7, t.sa, t.sb, b.sa, b.sb, t.se, t.sf, b.se, b.sf))
#define TRANSPOSE_ROUND1(t, b) \
    SWAP_BLOCKS(t, b, (t.s0, b.s0, t.s2, b.s2, t.s4, b.s4, t.s6, b.s6, t.s8, b.s8, t.sa, b.sa, t.sc, b.sc, t.se, b.se), \
                      (t.s1, b.s1, t.s3, b.s3, t.s5, b.s5, t.s7, b.s7, t.s9, b.s9, t.sb, b.sb, t.sd, b.sd, t.sf, b.sf))

inline void transpose16(float16 *rows) {
    #pragma unroll
    for (int i = 0; i < 8; i++) TRANSPOSE_ROUND8(rows[i], rows[i + 8])
    #pragma unroll
    for (int i = 0; i < 16; i += 8) {
        #pragma unroll
        for (int j = i; j < i + 4; j++) TRANSPOSE_ROUND4(rows[j], rows[j + 4])
    }
    #pragma unroll
    for (int i = 0; i < 16; i += 4) {
        #pragma unroll
        for (int j = i; j < i + 2; j++) TRANSPOSE_ROUND2(rows[j], rows[j + 2])
    }
    #pragma unroll
    for (int i = 0; i < 16; i += 2) TRANSPOSE_ROUND1(rows[i], rows[i + 1])
}

// A 16 × 16 block copied transposed: 16 rows from `from` (rows from_step apart) become
// 16 rows at `to` (to_step apart), moved as vectors.
inline void move_block16(__global const float *from, const int from_step, __global float *to, const int to_step) {
    float16 block[16];
    #pragma unroll
    for (int r = 0; r < 16; r++) block[r] = vload16(0, from + (size_t)r * from_step);
    transpose16(block);
    #pragma unroll
    for (int r = 0; r < 16; r++) vstore16(block[r], 0, to + (size_t)r * to_step);
}

// B's strips of `width` columns as contiguous [rows, width] panels, for gemm_tile built
// with PACKED_B: dst[z, q, r, c] = op(src_z)[r, q·width + c], 0 where q·width + c ≥ cols;
// src_z starts at off + z·stride, rows ld apart, and op transposes it when trans (B
// stored [cols, rows]). With block_cols < cols (one set), op(src)'s columns come from
// matrices side by side: column c is column c % block_cols of the matrix stride·(c /
// block_cols) further on (gemm_tile's n_block); otherwise block_cols = cols. One
// work-item per panel and 16 rows, 16 columns at a time as vectors where they lie in one
// matrix (width a multiple of 16).
//   op(src_z): [rows, cols]   dst: [batch, ⌈cols / width⌉, rows, width]
#define SOURCE_AT(r, col) (in + (size_t)((col) / block_cols) * stride \
                           + (trans ? (size_t)((col) % block_cols) * ld + (r) : (size_t)(r) * ld + (col) % block_cols))
__kernel void pack_panels(__global const float *src, const int off, const int ld, const int stride, const int trans,
                          __global float *dst, const int rows, const int cols, const int block_cols, const int width) {
    const int q = get_global_id(0);
    const int r0 = get_global_id(1) * 16;
    const int z = get_global_id(2);
    const int panels = (cols + width - 1) / width;
    if (q >= panels || r0 >= rows) return;
    const int c0 = q * width;
    __global const float *in = src + off + (size_t)z * stride;
    __global float *out = dst + ((size_t)z * panels + q) * rows * width;
    if (trans && r0 + 16 <= rows) {
        // 16 × 16 blocks: 16 columns of op(src) are 16 rows of src, read as vectors and
        // transposed in registers; a block past column cols or across two matrices goes
        // cell by cell.
        for (int b0 = 0; b0 < width; b0 += 16) {
            const int col0 = c0 + b0;
            if (col0 + 16 <= cols && col0 % block_cols + 16 <= block_cols) {
                move_block16(SOURCE_AT(r0, col0), ld, out + (size_t)r0 * width + b0, width);
                continue;
            }
            for (int r = r0; r < r0 + 16; r++) {
                for (int c = 0; c < 16; c++)
                    out[(size_t)r * width + b0 + c] = col0 + c >= cols ? 0.0f : *SOURCE_AT(r, col0 + c);
            }
        }
        return;
    }
    for (int r = r0; r < min(r0 + 16, rows); r++) {
        __global float *row = out + (size_t)r * width;
        for (int b0 = 0; b0 < width; b0 += 16) {
            const int col0 = c0 + b0;
            if (!trans && col0 + 16 <= cols && col0 % block_cols + 16 <= block_cols) {
                vstore16(vload16(0, SOURCE_AT(r, col0)), 0, row + b0);
                continue;
            }
            for (int c = 0; c < 16; c++) row[b0 + c] = col0 + c >= cols ? 0.0f : *SOURCE_AT(r, col0 + c);
        }
    }
}

// dst[z, c, r] = src[off + z·stride + r·ld + c]: a strided matrix transposed into a
// packed buffer, one 16 × 16 block per work-item (moved as vectors, transposed in
// registers, where whole).
//   src: [rows, cols] with leading dimension ld   dst: [batch, cols, rows]
__kernel void transpose_strided(__global const float *src, const int off, const int ld, const int stride,
                                __global float *dst, const int rows, const int cols) {
    const int c0 = get_global_id(0) * 16;
    const int r0 = get_global_id(1) * 16;
    const int z = get_global_id(2);
    if (c0 >= cols || r0 >= rows) return;
    __global const float *in = src + off + (size_t)z * stride;
    __global float *out = dst + (size_t)z * cols * rows;
    const int nr = min(16, rows - r0), nc = min(16, cols - c0);
    if (nr == 16 && nc == 16) {
        move_block16(in + (size_t)r0 * ld + c0, ld, out + (size_t)c0 * rows + r0, rows);
        return;
    }
    for (int c = 0; c < nc; c++) {
        for (int r = 0; r < nr; r++) out[(size_t)(c0 + c) * rows + r0 + r] = in[(size_t)(r0 + r) * ld + c0 + c];
    }
}

// As transpose_strided, the GPU way: a 16 × 16 work-group moves one 16 × 16 block
// through local memory, each work-item reading one float along a row of src and
// writing one along a row of dst, so both sides are read and written in runs.
// Launched over [cols, rows, batch] rounded up to 16s, work-groups of 16 × 16 × 1.
__kernel void transpose_local(__global const float *src, const int off, const int ld, const int stride,
                              __global float *dst, const int rows, const int cols) {
    __local float tile[16][17];   // a column of padding: the column reads hit 17 banks
    const int lc = get_local_id(0), lr = get_local_id(1);
    const int c0 = get_group_id(0) * 16, r0 = get_group_id(1) * 16;
    const int z = get_global_id(2);
    __global const float *in = src + off + (size_t)z * stride;
    __global float *out = dst + (size_t)z * cols * rows;
    if (r0 + lr < rows && c0 + lc < cols) tile[lr][lc] = in[(size_t)(r0 + lr) * ld + c0 + lc];
    barrier(CLK_LOCAL_MEM_FENCE);
    // Work-item (lc, lr) writes dst[c0 + lr, r0 + lc], read from the tile's column.
    if (c0 + lr < cols && r0 + lc < rows) out[(size_t)(c0 + lr) * rows + r0 + lc] = tile[lc][lr];
}

// C = A · Bᵀ with both operands read along their rows, for a B stored [n, k] that
// gemm_tile would need transposed first (a weight gradient: k is the long pixel axis).
// Each work-item holds a 4 × 4 block of C as sixteen float16 partial dot products over
// 16-float steps of k, and sums each across its lanes at the end.
//   A: [m, k]   B: [n, k]   C: [m, n]; batch, sum_over, alpha, beta and epilogue as gemm_tile.
#define DR 4
__kernel void gemm_nt_dot(__global const float *A, const int a_off, const int lda, const int a_stride,
                          __global const float *B, const int b_off, const int ldb, const int b_stride,
                          __global float *C, const int c_off, const int ldc, const int c_stride,
                          const int m, const int n, const int k, const int sum_over, const float alpha, const float beta,
                          __global const float *bias, const int epilogue) {
    const int i0 = get_global_id(0) * DR;
    const bool has_bias = epilogue & 1, relu = epilogue & 2;
    const float cap = epilogue & 4 ? 6.0f : INFINITY;
    const int j0 = get_global_id(1) * DR;
    const int z = get_global_id(2);
    if (i0 >= m || j0 >= n) return;
    float16 acc[DR][DR];
    float tail[DR][DR];
    #pragma unroll
    for (int r = 0; r < DR; r++) {
        #pragma unroll
        for (int q = 0; q < DR; q++) { acc[r][q] = 0; tail[r][q] = 0; }
    }
    const int k16 = k & ~15;
    for (int s = 0; s < sum_over; s++) {
        const size_t set = (size_t)z * sum_over + s;
        // Rows past the edge re-read the last row; their sums are never stored.
        __global const float *a[DR], *b[DR];
        #pragma unroll
        for (int r = 0; r < DR; r++) a[r] = A + a_off + set * a_stride + (size_t)min(i0 + r, m - 1) * lda;
        #pragma unroll
        for (int q = 0; q < DR; q++) b[q] = B + b_off + set * b_stride + (size_t)min(j0 + q, n - 1) * ldb;
        for (int p = 0; p < k16; p += 16) {
            float16 av[DR], bv[DR];
            #pragma unroll
            for (int r = 0; r < DR; r++) av[r] = vload16(0, a[r] + p);
            #pragma unroll
            for (int q = 0; q < DR; q++) bv[q] = vload16(0, b[q] + p);
            #pragma unroll
            for (int r = 0; r < DR; r++) {
                #pragma unroll
                for (int q = 0; q < DR; q++) acc[r][q] = fma(av[r], bv[q], acc[r][q]);
            }
        }
        for (int p = k16; p < k; p++) {
            #pragma unroll
            for (int r = 0; r < DR; r++) {
                #pragma unroll
                for (int q = 0; q < DR; q++) tail[r][q] = fma(a[r][p], b[q][p], tail[r][q]);
            }
        }
    }
    __global float *c = C + c_off + (size_t)z * c_stride;
    for (int r = 0; r < min(DR, m - i0); r++) {
        for (int q = 0; q < min(DR, n - j0); q++) {
            const float8 halves = acc[r][q].lo + acc[r][q].hi;
            const float4 quarter = halves.lo + halves.hi;
            const float total = quarter.s0 + quarter.s1 + quarter.s2 + quarter.s3 + tail[r][q];
            store_cell(c + (size_t)(i0 + r) * ldc + j0 + q, fma(alpha, total, has_bias ? bias[i0 + r] : 0.0f), beta, relu, cap);
        }
    }
}

// The GPU way: a work-group of (LT/LW)² work-items computes an LT × LT block of C, each
// work-item an LW × LW sub-block strided across it; LT × LK tiles of A and B are staged
// in local memory between barriers. Same arguments and results as gemm_tile; out-of-range
// tile cells load as 0 and are never stored. Launched with local size (LT/LW, LT/LW).
#define LT 32
#define LK 16
#define LW 4
#define LG (LT / LW)
__kernel void gemm_local(__global const float *A, const int a_off, const int lda, const int a_stride, const int trans_a,
                         __global const float *B, const int b_off, const int ldb, const int b_stride,
                         __global float *C, const int c_off, const int ldc, const int c_stride,
                         const int m, const int n, const int k, const int sum_over, const float alpha, const float beta,
                         __global const float *bias, const int epilogue) {
    __local float a_tile[LK][LT];   // a_tile[p][i]: op(A) transposed, so both tiles read along rows
    __local float b_tile[LK][LT];   // b_tile[p][j]
    const int li = get_local_id(0), lj = get_local_id(1);
    const int i_base = get_group_id(0) * LT, j_base = get_group_id(1) * LT;
    const int z = get_global_id(2);
    const bool has_bias = epilogue & 1, relu = epilogue & 2;
    const float cap = epilogue & 4 ? 6.0f : INFINITY;
    float acc[LW][LW];
    for (int r = 0; r < LW; r++) {
        for (int q = 0; q < LW; q++) acc[r][q] = 0.0f;
    }
    const int flat = lj * LG + li;
    for (int s = 0; s < sum_over; s++) {
        const size_t set = (size_t)z * sum_over + s;
        __global const float *a = A + a_off + set * a_stride;
        __global const float *b = B + b_off + set * b_stride;
        for (int p0 = 0; p0 < k; p0 += LK) {
            // LG² work-items load the LK × LT cells of each tile.
            for (int cell = flat; cell < LK * LT; cell += LG * LG) {
                const int p = cell / LT, x = cell - p * LT;
                const int gi = i_base + x, gj = j_base + x, gp = p0 + p;
                a_tile[p][x] = (gi < m && gp < k) ? (trans_a ? a[(size_t)gp * lda + gi] : a[(size_t)gi * lda + gp]) : 0.0f;
                b_tile[p][x] = (gj < n && gp < k) ? b[(size_t)gp * ldb + gj] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int p = 0; p < LK; p++) {
                float av[LW], bv[LW];
                for (int r = 0; r < LW; r++) av[r] = a_tile[p][li + r * LG];
                for (int q = 0; q < LW; q++) bv[q] = b_tile[p][lj + q * LG];
                for (int r = 0; r < LW; r++) {
                    for (int q = 0; q < LW; q++) acc[r][q] = fma(av[r], bv[q], acc[r][q]);
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    __global float *c = C + c_off + (size_t)z * c_stride;
    for (int r = 0; r < LW; r++) {
        const int i = i_base + li + r * LG;
        if (i >= m) continue;
        for (int q = 0; q < LW; q++) {
            const int j = j_base + lj + q * LG;
            if (j >= n) continue;
            store_cell(c + (size_t)i * ldc + j, fma(alpha, acc[r][q], has_bias ? bias[i] : 0.0f), beta, relu, cap);
        }
    }
}

// The epilogue CLBlast lacks, applied after it: c[z, i, j] += bias[i] when flags & 1,
// then max(c, 0) when flags & 2, capped at 6 when flags & 4 too.   c: [batch, M, N] from c_off   bias: [M]
__kernel void gemm_epilogue(__global float *c, const int c_off, __global const float *bias, const int flags,
                            const int M, const int N, const int total) {
    const int i = get_global_id(0);
    if (i >= total) return;
    c += c_off;
    float value = c[i];
    if (flags & 1) value += bias[(i / N) % M];
    if (flags & 2) value = fmin(fmax(value, 0.0f), flags & 4 ? 6.0f : INFINITY);
    c[i] = value;
}
