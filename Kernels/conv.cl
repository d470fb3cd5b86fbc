// Convolution by im2col + GEMM, and the depthwise convolution MobileNet uses.
// Padding is given as (top, left); bottom and right follow from the output size, which
// is how Keras' asymmetric "same" padding at stride 2 is expressed.
// Host twin: Sources/Lumen/Ops/Conv.swift.

// Every window kernel takes the window after the tensor sizes: kernel height and width,
// stride, padding before (top, left), and the output size.
#define WINDOW_ARGS const int KH, const int KW, const int S, const int PT, const int PL, const int OH, const int OW

// cols[n, (c*KH + kh)*KW + kw, oh*OW + ow] = x[n, c, oh*S - PT + kh, ow*S - PL + kw], 0 outside
//   x: [N, C, H, W]   cols: [N, C*KH*KW, OH*OW]
// The input value im2col puts at (sample n, row, pixel p); 0 in the padding.
inline float im2col_value(__global const float *x, const int n, const int row, const int p,
                          const int C, const int H, const int W, const int KH, const int KW,
                          const int S, const int PT, const int PL, const int OW) {
    const int c = row / (KH * KW), kk = row - c * KH * KW;
    const int kh = kk / KW, kw = kk - kh * KW;
    const int oh = p / OW, ow = p - oh * OW;
    const int h = oh * S - PT + kh, w = ow * S - PL + kw;
    return (h >= 0 && h < H && w >= 0 && w < W) ? x[(((size_t)n * C + c) * H + h) * W + w] : 0.0f;
}

__kernel void im2col(__global const float *x, __global float *cols,
                     const int N, const int first, const int C, const int H, const int W,
                     WINDOW_ARGS) {
    x += (size_t)first * C * H * W;        // images first … first + N − 1
    const int p = get_global_id(0);          // oh*OW + ow
    const int nr = get_global_id(1);         // n*C*KH*KW + row
    const int rows = C * KH * KW;
    if (p >= OH * OW || nr >= N * rows) return;
    const int n = nr / rows, row = nr - n * rows;
    cols[(size_t)nr * OH * OW + p] = im2col_value(x, n, row, p, C, H, W, KH, KW, S, PT, PL, OW);
}

// The im2col matrix transposed, pixels by rows: what a weight gradient reads as the B of
// an untransposed GEMM (dW[O, rows] = Σ_n dy_n[O, P] · colsT_n[P, rows]).
//   colsT[n, oh*OW + ow, (c*KH + kh)*KW + kw] = x[n, c, oh*S - PT + kh, ow*S - PL + kw], 0 outside
//   x: [N, C, H, W]   colsT: [N, OH*OW, C*KH*KW]
__kernel void im2col_transposed(__global const float *x, __global float *cols_t,
                                const int N, const int first, const int C, const int H, const int W,
                                WINDOW_ARGS) {
    x += (size_t)first * C * H * W;        // images first … first + N − 1
    const int row = get_global_id(0);        // (c*KH + kh)*KW + kw
    const int np = get_global_id(1);         // n*OH*OW + oh*OW + ow
    const int rows = C * KH * KW;
    if (row >= rows || np >= N * OH * OW) return;
    const int n = np / (OH * OW), p = np - n * OH * OW;
    cols_t[(size_t)np * rows + row] = im2col_value(x, n, row, p, C, H, W, KH, KW, S, PT, PL, OW);
}

// The outputs o in [*lo, *end) whose window of K cells, stepping by S, covers the padded
// position t (= h + PT): 0 <= t − o·S < K, within [0, O). Floor divisions written for
// non-negative numerators.
inline void covering_outputs(const int t, const int K, const int S, const int O, int *lo, int *end) {
    *lo = t - K + 1 <= 0 ? 0 : (t - K + S) / S;
    *end = min(O, t / S + 1);
    if (*end < *lo) *end = *lo;
}

// The adjoint of im2col: each input pixel gathers every column entry it was copied to.
//   cols: [N, C*KH*KW, OH*OW]   dx: [N, C, H, W]
__kernel void col2im(__global const float *cols, __global float *dx,
                     const int N, const int first, const int C, const int H, const int W,
                     WINDOW_ARGS) {
    dx += (size_t)first * C * H * W;        // images first … first + N − 1
    const int hw = get_global_id(0);
    const int nc = get_global_id(1);
    if (hw >= H * W || nc >= N * C) return;
    const int h = hw / W, w = hw - h * W;
    const int n = nc / C, c = nc - n * C;
    __global const float *base = cols + ((size_t)n * C + c) * KH * KW * OH * OW;
    // The outputs whose window covers (h, w): kh = h + PT − oh·S in [0, KH), likewise kw;
    // walked by output row and column, with no division inside the loops.
    int oh_lo, oh_end, ow_lo, ow_end;
    covering_outputs(h + PT, KH, S, OH, &oh_lo, &oh_end);
    covering_outputs(w + PL, KW, S, OW, &ow_lo, &ow_end);
    float total = 0.0f;
    for (int oh = oh_lo; oh < oh_end; oh++) {
        const int kh = h + PT - oh * S;
        for (int ow = ow_lo; ow < ow_end; ow++) {
            const int kw = w + PL - ow * S;
            total += base[((size_t)(kh * KW + kw)) * OH * OW + oh * OW + ow];
        }
    }
    dx[(size_t)nc * H * W + hw] = total;
}

// y[n, c, p] += bias[c]                          y: [N, C, P]   bias: [C]
__kernel void add_channel_bias(__global float *y, __global const float *bias,
                               const int C, const int P, const int total) {
    const int i = get_global_id(0);
    if (i < total) y[i] += bias[(i / P) % C];
}

// Bit 8 of a depthwise forward's epilogue: its input passes through a ReLU as it is read
// (inference, where that ReLU's output has no other reader). Padding stays 0.
inline float input1(const float value, const int epilogue) { return epilogue & 8 ? fmax(value, 0.0f) : value; }
inline float16 input16(const float16 value, const int epilogue) { return epilogue & 8 ? fmax(value, 0.0f) : value; }

// total + Σ in(plane[h, w]) · other[i, j] over i < I, j < J, where h = i·step + top and
// w = j·step + left fall inside the H × W plane, in row-major order of (i, j), in() being
// `input1` under `epilogue`: how the GPU-style depthwise forward walks its window
// (other = the kernel, step 1).
inline float plane_dot(float total, __global const float *plane, const int H, const int W,
                       __global const float *other, const int I, const int J, const int step,
                       const int top, const int left, const int epilogue) {
    for (int i = 0; i < I; i++) {
        const int h = i * step + top;
        if (h < 0 || h >= H) continue;
        for (int j = 0; j < J; j++) {
            const int w = j * step + left;
            if (w < 0 || w >= W) continue;
            total += input1(plane[h * W + w], epilogue) * other[i * J + j];
        }
    }
    return total;
}

// What a forward kernel's epilogue does to a value as it stores it, with the GEMM
// kernels' bits: 1 adds `shift` (the channel's bias, else 0), 2 clamps at 0, 4 with it
// caps at 6 (ReLU6).
inline float finish(const float value, const float shift, const int epilogue) {
    const float shifted = value + shift;
    return epilogue & 2 ? fmin(fmax(shifted, 0.0f), epilogue & 4 ? 6.0f : INFINITY) : shifted;
}

inline float16 finish16(const float16 value, const float shift, const int epilogue) {
    const float16 shifted = value + shift;
    return epilogue & 2 ? fmin(fmax(shifted, 0.0f), epilogue & 4 ? 6.0f : INFINITY) : shifted;
}

// Depthwise: output channel o = c*M + m reads only input channel c; the epilogue adds
// bias[o] and applies the activation (`finish`).
//   x: [N, C, H, W]   weight: [C*M, 1, KH, KW]   y: [N, C*M, OH, OW]   bias: [C*M]
__kernel void depthwise_forward(__global const float *x, __global const float *weight, __global float *y,
                                const int N, const int C, const int H, const int W, const int M,
                                WINDOW_ARGS, __global const float *bias, const int epilogue) {
    const int p = get_global_id(0);
    const int no = get_global_id(1);
    if (p >= OH * OW || no >= N * C * M) return;
    const int n = no / (C * M), o = no - n * C * M, c = o / M;
    const int oh = p / OW, ow = p - oh * OW;
    __global const float *plane = x + ((size_t)n * C + c) * H * W;
    __global const float *k = weight + (size_t)o * KH * KW;
    y[(size_t)no * OH * OW + p] = finish(plane_dot(0.0f, plane, H, W, k, KH, KW, 1, oh * S - PT, ow * S - PL, epilogue),
                                         epilogue & 1 ? bias[o] : 0.0f, epilogue);
}

//   dy: [N, C*M, OH, OW]   weight: [C*M, 1, KH, KW]   dx: [N, C, H, W]
__kernel void depthwise_backward_data(__global const float *dy, __global const float *weight, __global float *dx,
                                      const int N, const int C, const int H, const int W, const int M,
                                      WINDOW_ARGS) {
    const int hw = get_global_id(0);
    const int nc = get_global_id(1);
    if (hw >= H * W || nc >= N * C) return;
    const int h = hw / W, w = hw - h * W;
    const int n = nc / C, c = nc - n * C;
    int oh_lo, oh_end, ow_lo, ow_end;
    covering_outputs(h + PT, KH, S, OH, &oh_lo, &oh_end);
    covering_outputs(w + PL, KW, S, OW, &ow_lo, &ow_end);
    float total = 0.0f;
    for (int m = 0; m < M; m++) {
        const int o = c * M + m;
        __global const float *g = dy + ((size_t)n * C * M + o) * OH * OW;
        __global const float *k = weight + (size_t)o * KH * KW;
        for (int oh = oh_lo; oh < oh_end; oh++) {
            const int kh = h + PT - oh * S;
            for (int ow = ow_lo; ow < ow_end; ow++) {
                total += g[oh * OW + ow] * k[kh * KW + w + PL - ow * S];
            }
        }
    }
    dx[(size_t)nc * H * W + hw] = total;
}

// One work-group per weight (o, kh, kw): its work-items sum strided parts of the N·OH·OW
// products, then a tree in local memory (launched with a power-of-two work-group of at
// most DW_REDUCE_MAX work-items), so no work-item walks a whole batch alone.
//   x: [N, C, H, W]   dy: [N, C*M, OH, OW]   dweight: [C*M, 1, KH, KW]
#define DW_REDUCE_MAX 256
__kernel void depthwise_backward_filter(__global const float *x, __global const float *dy, __global float *dweight,
                                        const int N, const int C, const int H, const int W, const int M,
                                        WINDOW_ARGS) {
    __local float scratch[DW_REDUCE_MAX];
    const int weight = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    const int o = weight / (KH * KW), kk = weight - o * KH * KW;
    const int kh = kk / KW, kw = kk - kh * KW, c = o / M;
    const int count = N * OH * OW;
    float total = 0.0f;
    for (int j = lid; j < count; j += size) {
        const int n = j / (OH * OW), p = j - n * OH * OW;
        const int oh = p / OW, ow = p - oh * OW;
        const int h = oh * S - PT + kh, w = ow * S - PL + kw;
        if (h >= 0 && h < H && w >= 0 && w < W) {
            total += x[(((size_t)n * C + c) * H + h) * W + w] * dy[((size_t)n * C * M + o) * OH * OW + p];
        }
    }
    scratch[lid] = total;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = size / 2; stride > 0; stride >>= 1) {
        if (lid < stride) scratch[lid] += scratch[lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) dweight[weight] = scratch[0];
}

// CPU-style variants: one work-item per (sample, row) or plane walks its outputs in
// order with running indices, no divisions in the inner loops; PoCL runs each as a
// tight loop. Chosen on CPU devices, where they measure several times faster; GPUs keep
// the one-element-per-work-item kernels above.

// The outputs ow in [*first, *end) whose column w = ow·S − PL + kw falls inside a row of
// W cells. Both bounds are floor divisions written for non-negative numerators only:
// OpenCL's `/` truncates toward zero, which for a kernel overhanging a 1–3-cell map would
// count one output too many.
inline void columns_inside(const int W, const int S, const int PL, const int kw, const int OW,
                           int *first, int *end) {
    const int lead = PL - kw;                // ow·S >= lead
    const int last = W - 1 + PL - kw;        // ow·S <= last
    *first = lead <= 0 ? 0 : min(OW, (lead + S - 1) / S);
    *end = last < 0 ? *first : max(*first, min(OW, last / S + 1));
}

// The filters of the input gradient computed as a forward convolution of dy: each
// filter turned half a circle, input and output channels swapped (reversing the KH·KW
// taps reverses both axes).   weight: [O, C, KH·KW]  ->  flipped: [C, O, KH·KW]
__kernel void flip_filters(__global const float *weight, __global float *flipped, const int O, const int C,
                           const int taps) {
    const int i = get_global_id(0);
    if (i >= O * C * taps) return;
    const int t = i % taps, oc = i / taps;
    const int o = oc % O, c = oc / O;
    flipped[i] = weight[((size_t)o * C + c) * taps + taps - 1 - t];
}

// For stride-1 windows whose output plane is the input's size (InceptionV3's 1 × 7 and
// 7 × 1 on 17 × 17), im2col and col2im go over whole planes as flat runs of 16 cells: rows
// that short leave the row loops below mostly cell by cell.

// Whether a window's planes go as flat runs: stride 1, the output the input's size, at
// least 16 cells (one vector) and under 2²² (where cells16 is exact).
inline bool runs_flat(const int S, const int H, const int W, const int OH, const int OW) {
    return S == 1 && OH == H && OW == W && H * W >= 16 && H * W < (1 << 22);
}

// Row and column of cells at … at + 15 of a W-wide plane, exact in floats: the quotient's
// rounding error (under h·2⁻²³) stays below its distance from a whole number (0.5 / W) in
// planes under 2²² cells (`runs_flat`).
inline void cells16(const int at, const int W, float16 *h, float16 *w) {
    const float16 index = (float16)at + (float16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    *h = floor((index + 0.5f) * (1.0f / W));
    *w = index - *h * (float)W;
}

// plane[h + dh, w + dw] for each lane's cell (h, w) (at + l = h·W + w), 0 where that lies
// outside the H × W plane: above, below, or past either end of its row. Cells lo … hi − 1
// around the plane lie in its buffer, so a load may reach into its neighbours (their
// values masked out); only one that would leave them goes cell by cell.
inline float16 shifted16(__global const float *plane, const int at, const float16 h, const float16 w, const int H,
                         const int W, const int dh, const int dw, const long lo, const long hi) {
    const int from = at + dh * W + dw, cells = H * W;
    float16 taps;
    if (from >= lo && from + 16 <= hi) {
        taps = vload16(0, plane + from);
    } else {
        float values[16];
        for (int l = 0; l < 16; l++) values[l] = from + l >= 0 && from + l < cells ? plane[from + l] : 0.0f;
        taps = vload16(0, values);
    }
    const float16 th = h + (float)dh, tw = w + (float)dw;
    return select((float16)0.0f, taps, (th >= 0.0f) & (th < (float)H) & (tw >= 0.0f) & (tw < (float)W));
}

// Runs of `count` consecutive floats in 16-, 8-, 4-, 2- and 1-float pieces, so the short
// rows of small maps (11 or 13 cells) go as a few vectors rather than cell by cell:
// copy_run from global memory, store_run from a work-item's private array.
#define COPY_RUN(NAME, SPACE) \
    inline void NAME(SPACE const float *from, __global float *to, const int count) { \
        int i = 0; \
        for (; i + 16 <= count; i += 16) vstore16(vload16(0, from + i), 0, to + i); \
        if (i + 8 <= count) { vstore8(vload8(0, from + i), 0, to + i); i += 8; } \
        if (i + 4 <= count) { vstore4(vload4(0, from + i), 0, to + i); i += 4; } \
        if (i + 2 <= count) { vstore2(vload2(0, from + i), 0, to + i); i += 2; } \
        if (i < count) to[i] = from[i]; \
    }
COPY_RUN(copy_run, __global)
COPY_RUN(store_run, __private)

inline void add_run(__global const float *from, __global float *to, const int count) {
    int i = 0;
    for (; i + 16 <= count; i += 16) vstore16(vload16(0, to + i) + vload16(0, from + i), 0, to + i);
    if (i + 8 <= count) { vstore8(vload8(0, to + i) + vload8(0, from + i), 0, to + i); i += 8; }
    if (i + 4 <= count) { vstore4(vload4(0, to + i) + vload4(0, from + i), 0, to + i); i += 4; }
    if (i + 2 <= count) { vstore2(vload2(0, to + i) + vload2(0, from + i), 0, to + i); i += 2; }
    if (i < count) to[i] += from[i];
}

inline void zero_run(__global float *to, const int count) {
    int i = 0;
    for (; i + 16 <= count; i += 16) vstore16((float16)0.0f, 0, to + i);
    if (i + 8 <= count) { vstore8((float8)0.0f, 0, to + i); i += 8; }
    if (i + 4 <= count) { vstore4((float4)0.0f, 0, to + i); i += 4; }
    if (i + 2 <= count) { vstore2((float2)0.0f, 0, to + i); i += 2; }
    if (i < count) to[i] = 0.0f;
}

// The same values as im2col, image n's row r starting at n·image_step + r·row_step of
// cols: image_step = C·KH·KW·OH·OW and row_step = OH·OW lay it out as im2col does,
// [N, C*KH*KW, OH*OW]; image_step = OH·OW and row_step = N·OH·OW put the images side by
// side in each row, [C*KH*KW, N*OH*OW] (one GEMM for the group when planes are small).
//   x: [N, C, H, W]
__kernel void im2col_rows(__global const float *x, __global float *cols,
                          const int N, const int first, const int C, const int H, const int W,
                          WINDOW_ARGS, const int image_step, const int row_step) {
    x += (size_t)first * C * H * W;        // images first … first + N − 1
    const int row = get_global_id(0);
    const int n = get_global_id(1);
    const int rows = C * KH * KW;
    if (row >= rows || n >= N) return;
    const int c = row / (KH * KW), kk = row - c * KH * KW;
    const int kh = kk / KW, kw = kk - kh * KW;
    __global const float *plane = x + ((size_t)n * C + c) * H * W;
    __global float *out = cols + (size_t)n * image_step + (size_t)row * row_step;
    if (runs_flat(S, H, W, OH, OW)) {
        // A "same" window at stride 1: the plane as one run; loads may reach into the
        // group's other planes.
        const long cells = H * W, lo = -((long)n * C + c) * cells, hi = ((long)N * C - (long)n * C - c) * cells;
        for (int j = 0; j < cells; j += 16) {
            const int at = min(j, (int)cells - 16);   // the last 16 overlap the ones before
            float16 h, w;
            cells16(at, W, &h, &w);
            vstore16(shifted16(plane, at, h, w, H, W, kh - PT, kw - PL, lo, hi), 0, out + at);
        }
        return;
    }
    for (int oh = 0; oh < OH; oh++) {
        const int h = oh * S - PT + kh;
        if (h < 0 || h >= H) {
            zero_run(out, OW);
        } else {
            __global const float *line = plane + h * W;
            // Outputs whose column w = ow·S − PL + kw falls inside the row; zeros around them.
            int first, end;
            columns_inside(W, S, PL, kw, OW, &first, &end);
            zero_run(out, first);
            int ow = first;
            if (S == 1) {
                copy_run(line + kw - PL + first, out + first, end - first);
                ow = end;
            } else if (S == 2) {
                // Columns 2·ow − PL + kw: the even lanes of 16 columns, the odd ones of the
                // 16 from the 15th on (the last read column is the last one needed).
                __global const float *shifted = line + kw - PL;
                for (; ow + 16 <= end; ow += 16) {
                    const float16 a = vload16(0, shifted + 2 * ow), b = vload16(0, shifted + 2 * ow + 15);
                    vstore16((float16)(a.even, b.odd), 0, out + ow);
                }
            }
            for (; ow < end; ow++) out[ow] = line[ow * S - PL + kw];
            zero_run(out + end, OW - end);
        }
        out += OW;
    }
}

// The same result as im2col_transposed, one output row (n, oh) per work-item, writing
// its OW × C·KH·KW block in order.   x: [N, C, H, W]   colsT: [N, OH*OW, C*KH*KW]
__kernel void im2col_transposed_rows(__global const float *x, __global float *cols_t,
                                     const int N, const int first, const int C, const int H, const int W,
                                     WINDOW_ARGS) {
    x += (size_t)first * C * H * W;        // images first … first + N − 1
    const int oh = get_global_id(0);
    const int n = get_global_id(1);
    if (oh >= OH || n >= N) return;
    const int rows = C * KH * KW;
    __global float *out = cols_t + ((size_t)n * OH + oh) * OW * rows;
    for (int ow = 0; ow < OW; ow++) {
        for (int c = 0; c < C; c++) {
            __global const float *plane = x + ((size_t)n * C + c) * H * W;
            for (int kh = 0; kh < KH; kh++) {
                const int h = oh * S - PT + kh;
                const bool inside = h >= 0 && h < H;
                for (int kw = 0, w = ow * S - PL; kw < KW; kw++, w++) {
                    *out++ = (inside && w >= 0 && w < W) ? plane[h * W + w] : 0.0f;
                }
            }
        }
    }
}

// The same sum as col2im, accumulated per plane in a fixed order; cols laid out as
// im2col_rows writes it (image_step, row_step).   dx: [N, C, H, W]
__kernel void col2im_planes(__global const float *cols, __global float *dx,
                            const int N, const int first, const int C, const int H, const int W,
                            WINDOW_ARGS, const int image_step, const int row_step) {
    dx += (size_t)first * C * H * W;        // images first … first + N − 1
    const int nc = get_global_id(0);
    if (nc >= N * C) return;
    __global float *plane = dx + (size_t)nc * H * W;
    const int n = nc / C, c = nc - n * C;
    __global const float *base = cols + (size_t)n * image_step + (size_t)c * KH * KW * row_step;
    if (runs_flat(S, H, W, OH, OW)) {
        // A "same" window at stride 1: each cell gathers its KH·KW column-matrix values
        // (row (kh, kw)'s plane shifted back), 16 cells at a time, stored once. Loads may
        // reach anywhere in the group's column matrix (N·C·KH·KW planes).
        const long cells = H * W, matrix = (long)N * C * KH * KW * cells;
        for (int j = 0; j < cells; j += 16) {
            const int at = min(j, (int)cells - 16);   // the last 16 overlap the ones before
            float16 h, w, total = 0.0f;
            cells16(at, W, &h, &w);
            for (int kh = 0; kh < KH; kh++) {
                for (int kw = 0; kw < KW; kw++) {
                    __global const float *row = base + (size_t)(kh * KW + kw) * row_step;
                    const long start = row - cols;   // the row's place in the column matrix
                    total += shifted16(row, at, h, w, H, W, PT - kh, PL - kw, -start, matrix - start);
                }
            }
            vstore16(total, 0, plane + at);
        }
        return;
    }
    zero_run(plane, H * W);
    for (int kh = 0; kh < KH; kh++) {
        for (int kw = 0; kw < KW; kw++) {
            __global const float *row = base + (size_t)(kh * KW + kw) * row_step;
            for (int oh = 0; oh < OH; oh++) {
                const int h = oh * S - PT + kh;
                if (h < 0 || h >= H) continue;
                __global float *line = plane + h * W;
                __global const float *src = row + oh * OW;
                // Outputs whose column w = ow·S − PL + kw falls inside the row.
                int first, end;
                columns_inside(W, S, PL, kw, OW, &first, &end);
                if (S == 1) {
                    add_run(src + first, line + first - PL + kw, end - first);
                    continue;
                }
                for (int ow = first; ow < end; ow++) line[ow * S - PL + kw] += src[ow];
            }
        }
    }
}

// CPU-style depthwise convolution, direct (no im2col). A work-item walks its row in
// chunks of 16 columns held in one float16 accumulator, each tap adding a vector load of
// the row it reads, so the inner work is wide FMAs and each output is stored once. Only
// the columns whose window overhangs the row's edge (and rows too narrow for a chunk)
// take a scalar path with bounds checks.

// The output columns [*lo, *hi) whose taps all fall inside a row of W:
// ow·S − PL ≥ 0 and ow·S − PL + KW − 1 < W. Empty (lo = hi) when no column is.
inline void interior_columns(const int W, const int S, const int PL, const int KW, const int OW, int *lo, int *hi) {
    const int last = W - KW + PL;
    *lo = min(OW, (PL + S - 1) / S);
    *hi = last < 0 ? *lo : max(*lo, min(OW, last / S + 1));
}

// The 16 values line[start + q·S], q < 16, all inside the row.
inline float16 taps16(__global const float *line, const int start, const int S) {
    if (S == 1) return vload16(0, line + start);
    if (S == 2) {
        const float16 a = vload16(0, line + start), b = vload16(0, line + start + 15);
        return (float16)(a.even, b.odd);
    }
    float values[16];
    for (int q = 0; q < 16; q++) values[q] = line[start + q * S];
    return vload16(0, values);
}

// The 16 values line[start + q·S], q < 16, with 0 where the column falls outside [0, W):
// rows too narrow for an interior chunk read this way.
inline float16 window16(__global const float *line, const int W, const int start, const int S) {
    float values[16];
    for (int q = 0; q < 16; q++) {
        const int col = start + q * S;
        values[q] = col >= 0 && col < W ? line[col] : 0.0f;
    }
    return vload16(0, values);
}

// The 16 values a stride-S tap scatters onto columns lead + q, q < 16, of an input-
// gradient row: grow[(lead + q)/S] where lead + q is a multiple of S inside [0, OW·S),
// else 0 (S ≥ 2). Stride 2 spreads 8 loaded values over every other lane.
inline float16 spread16(__global const float *grow, const int OW, const int lead, const int S) {
    const int first = (lead + 1) / 2;       // the first dy value a lane takes
    if (S == 2 && lead >= 0 && first + 8 <= OW) {
        // lead even: lanes 0, 2, …, 14 take d[0…7]; lead odd: lanes 1, 3, …, 15 do.
        const float8 d = vload8(0, grow + first);
        if ((lead & 1) == 0) return (float16)(d.s0, 0.0f, d.s1, 0.0f, d.s2, 0.0f, d.s3, 0.0f, d.s4, 0.0f, d.s5, 0.0f, d.s6, 0.0f, d.s7, 0.0f);
        return (float16)(0.0f, d.s0, 0.0f, d.s1, 0.0f, d.s2, 0.0f, d.s3, 0.0f, d.s4, 0.0f, d.s5, 0.0f, d.s6, 0.0f, d.s7);
    }
    float values[16];
    for (int q = 0; q < 16; q++) values[q] = 0.0f;
    for (int ow = lead > 0 ? (lead + S - 1) / S : 0; ow < OW && ow * S < lead + 16; ow++) values[ow * S - lead] = grow[ow];
    return vload16(0, values);
}

// Stores the first `count` (≤ 16) lanes of a chunk at out.
inline void store_chunk(const float16 chunk, __global float *out, const int count) {
    if (count >= 16) { vstore16(chunk, 0, out); return; }
    float values[16];
    vstore16(chunk, 0, values);
    for (int q = 0; q < count; q++) out[q] = values[q];
}

// Output row oh of one plane, with depthwise_forward's epilogue: interior columns by
// chunks of 16, the edge columns one by one.
inline void depthwise_forward_row(__global const float *plane, __global const float *k, __global float *out,
                                  const int H, const int W, WINDOW_ARGS, const int oh, const float shift, const int epilogue) {
    const int kh0 = max(0, PT - oh * S), kh1 = min(KH, H + PT - oh * S);   // rows inside the image
    if (S == 1 && KW == 3 && PL == 1 && OW == W && W >= 16) {
        // 3-wide windows, "same" padding (Xception's and MobileNet's): every chunk of 16
        // is vector work, the first and last taking their outer tap from the middle
        // one's lanes shifted in from the padding (the last chunk moved back to end at W).
        for (int c0 = 0; c0 < OW; c0 += 16) {
            const int ow0 = min(c0, OW - 16);
            float16 acc = 0.0f;
            for (int kh = kh0; kh < kh1; kh++) {
                __global const float *line = plane + (oh - PT + kh) * W + ow0;
                const float16 mid = input16(vload16(0, line), epilogue);
                const float16 left = ow0 == 0 ? (float16)(0.0f, mid.s0123, mid.s4567, mid.s89ab, mid.scde)
                                              : input16(vload16(0, line - 1), epilogue);
                const float16 right = ow0 + 16 == W ? (float16)(mid.s1234, mid.s5678, mid.s9abc, mid.sdef, 0.0f)
                                                    : input16(vload16(0, line + 1), epilogue);
                acc = fma((float16)k[kh * 3], left, acc);
                acc = fma((float16)k[kh * 3 + 1], mid, acc);
                acc = fma((float16)k[kh * 3 + 2], right, acc);
            }
            vstore16(finish16(acc, shift, epilogue), 0, out + ow0);
        }
        return;
    }
    int lo, hi;
    interior_columns(W, S, PL, KW, OW, &lo, &hi);
    if (hi - lo < 16) {
        // A narrow row: chunks of 16 read with bounds checks, only the first columns stored.
        for (int ow0 = 0; ow0 < OW; ow0 += 16) {
            float16 acc = 0.0f;
            for (int kh = kh0; kh < kh1; kh++) {
                __global const float *line = plane + (oh * S - PT + kh) * W;
                for (int kw = 0; kw < KW; kw++)
                    acc = fma((float16)k[kh * KW + kw], input16(window16(line, W, ow0 * S - PL + kw, S), epilogue), acc);
            }
            store_chunk(finish16(acc, shift, epilogue), out + ow0, OW - ow0);
        }
        return;
    }
    // Chunks of 16 inside [lo, hi), the last moved back to end at hi (it rewrites a few
    // columns with the same values).
    for (int c0 = lo; c0 < hi; c0 += 16) {
        const int ow0 = min(c0, hi - 16);
        float16 acc = 0.0f;
        for (int kh = kh0; kh < kh1; kh++) {
            __global const float *line = plane + (oh * S - PT + kh) * W;
            for (int kw = 0; kw < KW; kw++) acc = fma((float16)k[kh * KW + kw], input16(taps16(line, ow0 * S - PL + kw, S), epilogue), acc);
        }
        vstore16(finish16(acc, shift, epilogue), 0, out + ow0);
    }
    // The edge columns, one by one.
    for (int ow = lo == 0 ? hi : 0; ow < OW; ow = ow + 1 == lo ? hi : ow + 1) {
        float total = 0.0f;
        for (int kh = kh0; kh < kh1; kh++) {
            __global const float *line = plane + (oh * S - PT + kh) * W;
            for (int kw = 0; kw < KW; kw++) {
                const int col = ow * S - PL + kw;
                if (col >= 0 && col < W) total = fma(k[kh * KW + kw], input1(line[col], epilogue), total);
            }
        }
        out[ow] = finish(total, shift, epilogue);
    }
}

// Adds one loaded row's three taps (a, b, c: the values under the filter's first, second
// and third column) into each of a block's B ≤ 4 rows it reaches: row r through filter
// row kh = kh0 + r·step, where 0 ≤ kh < 3; in that order, as the row paths add them.
inline void add_row_taps3(float16 *acc, __global const float *k, const int B, const int kh0, const int step,
                          const float16 a, const float16 b, const float16 c) {
    #pragma unroll
    for (int r = 0; r < 4; r++) {
        const int kh = kh0 + r * step;
        if (r >= B || kh < 0 || kh >= 3) continue;
        acc[r] = fma((float16)k[kh * 3], a, acc[r]);
        acc[r] = fma((float16)k[kh * 3 + 1], b, acc[r]);
        acc[r] = fma((float16)k[kh * 3 + 2], c, acc[r]);
    }
}

// Output rows [oh, oh + B), B ≤ 4, of a 3 × 3 window at stride 1 with "same" columns (as
// depthwise_forward_row's 3-wide path, same sums in the same order): each input row is
// loaded once per chunk and added into every output row whose window covers it, so the
// rows' accumulators are independent chains, not one chain of nine dependent FMAs.
inline void depthwise_forward_block3(__global const float *plane, __global const float *k, __global float *out,
                                     const int H, const int W, const int PT, const int oh, const int B,
                                     const float shift, const int epilogue) {
    for (int c0 = 0; c0 < W; c0 += 16) {
        const int ow0 = min(c0, W - 16);
        float16 acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        #pragma unroll
        for (int t = 0; t < 6; t++) {
            const int ih = oh - PT + t;   // the input row tap kh = t − r of output row oh + r reads
            if (t >= B + 2 || ih < 0 || ih >= H) continue;
            __global const float *line = plane + ih * W + ow0;
            const float16 mid = input16(vload16(0, line), epilogue);
            const float16 left = ow0 == 0 ? (float16)(0.0f, mid.s0123, mid.s4567, mid.s89ab, mid.scde)
                                          : input16(vload16(0, line - 1), epilogue);
            const float16 right = ow0 + 16 == W ? (float16)(mid.s1234, mid.s5678, mid.s9abc, mid.sdef, 0.0f)
                                                : input16(vload16(0, line + 1), epilogue);
            add_row_taps3(acc, k, B, t, -1, left, mid, right);
        }
        #pragma unroll
        for (int r = 0; r < 4; r++) {
            if (r < B) vstore16(finish16(acc[r], shift, epilogue), 0, out + (size_t)r * W + ow0);
        }
    }
}

// Output rows [oh0, oh0 + R) of plane (n, o) per work-item, oh0 = R · global id 0: a
// block of rows amortises a work-item's start on small planes; 3 × 3 windows with
// "same" columns go four rows at a time.
//   x: [N, C, H, W]   weight: [C*M, 1, KH, KW]   y: [N, C*M, OH, OW]   bias: [C*M]
__kernel void depthwise_forward_rows(__global const float *x, __global const float *weight, __global float *y,
                                     const int N, const int C, const int H, const int W, const int M,
                                     WINDOW_ARGS, __global const float *bias, const int epilogue, const int R) {
    const int oh0 = get_global_id(0) * R;
    const int no = get_global_id(1);
    if (oh0 >= OH || no >= N * C * M) return;
    const int n = no / (C * M), o = no - n * (C * M), c = o / M;
    __global const float *plane = x + ((size_t)n * C + c) * H * W;
    __global const float *k = weight + (size_t)o * KH * KW;
    const float shift = epilogue & 1 ? bias[o] : 0.0f;
    const int end = min(oh0 + R, OH);
    const bool block3 = KH == 3 && KW == 3 && S == 1 && PL == 1 && OW == W && W >= 16;
    for (int oh = oh0; oh < end;) {
        __global float *out = y + ((size_t)no * OH + oh) * OW;
        if (block3) {
            const int B = min(4, end - oh);
            depthwise_forward_block3(plane, k, out, H, W, PT, oh, B, shift, epilogue);
            oh += B;
        } else {
            depthwise_forward_row(plane, k, out, H, W, KH, KW, S, PT, PL, OH, OW, oh, shift, epilogue);
            oh++;
        }
    }
}

// One small output plane (n, o) per work-item, at stride 1 with the output the input's
// size (OH = H, OW = W: "same" padding), for rows too narrow for depthwise_forward_rows'
// chunks: output p = oh·W + ow reads input p + (kh − PT)·W + (kw − PL) for tap (kh, kw),
// so 16 consecutive outputs read 16 consecutive inputs per tap; lanes whose column wraps
// past a row's edge, or whose input falls outside the plane, take 0. Same epilogue.
//   x: [N, C, H, W]   weight: [C*M, 1, KH, KW]   y: [N, C*M, H, W]   bias: [C*M]
__kernel void depthwise_forward_plane(__global const float *x, __global const float *weight, __global float *y,
                                      const int N, const int C, const int H, const int W, const int M,
                                      WINDOW_ARGS, __global const float *bias, const int epilogue) {
    const int no = get_global_id(0);
    if (no >= N * C * M) return;
    const int n = no / (C * M), o = no - n * (C * M), c = o / M;
    __global const float *plane = x + ((size_t)n * C + c) * H * W;
    __global const float *k = weight + (size_t)o * KH * KW;
    __global float *out = y + (size_t)no * H * W;
    const float shift = epilogue & 1 ? bias[o] : 0.0f;
    const int P = H * W;
    const int16 lanes = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int p0 = 0; p0 < P; p0 += 16) {
        const int16 p = (int16)p0 + lanes;
        const int16 ow = p - (p / W) * W;
        float16 acc = 0.0f;
        for (int kh = 0; kh < KH; kh++) {
            for (int kw = 0; kw < KW; kw++) {
                const int d = (kh - PT) * W + (kw - PL);
                const int16 col = ow + (kw - PL), q = p + d;
                const int16 inside = col >= 0 && col < W && q >= 0 && q < P;
                float16 v;
                if (p0 + d >= 0 && p0 + d + 16 <= P) {
                    v = vload16(0, plane + p0 + d);
                } else {
                    float values[16];
                    for (int lane = 0; lane < 16; lane++) {
                        const int at = p0 + d + lane;
                        values[lane] = at >= 0 && at < P ? plane[at] : 0.0f;
                    }
                    v = vload16(0, values);
                }
                acc = fma((float16)k[kh * KW + kw], select((float16)0.0f, input16(v, epilogue), inside), acc);
            }
        }
        store_chunk(finish16(acc, shift, epilogue), out + p0, P - p0);
    }
}

// The input-gradient columns of row h outside [lo, hi), one by one (the row path's edges).
inline void depthwise_backward_data_edges(__global const float *g0, __global const float *weight, __global float *out,
                                          const int c, const int M, const int W, WINDOW_ARGS, const int h,
                                          const int lo, const int hi) {
    const int kh0 = max(0, h + PT - OH + 1), kh1 = min(KH, h + PT + 1);   // dy rows h + PT − kh inside [0, OH)
    for (int w = lo == 0 ? hi : 0; w < W; w = w + 1 == lo ? hi : w + 1) {
        float total = 0.0f;
        for (int m = 0; m < M; m++) {
            const int o = c * M + m;
            __global const float *k = weight + (size_t)o * KH * KW;
            for (int kh = kh0; kh < kh1; kh++) {
                __global const float *grow = g0 + ((size_t)o * OH + h + PT - kh) * OW;
                for (int kw = 0; kw < KW; kw++) {
                    const int ow = w + PL - kw;
                    if (ow >= 0 && ow < OW) total = fma(k[kh * KW + kw], grow[ow], total);
                }
            }
        }
        out[w] = total;
    }
}

// One input-gradient row (n, c, h): every (m, kh) whose output row oh·S − PT + kh = h
// lands here; tap (kh, kw) brings dy[oh, ow] to column w = ow·S − PL + kw. Stride 1
// reads dy rows as vectors (w + PL − kw inside [0, OW) for every tap in the interior);
// larger strides spread their values over the lanes they reach.
inline void depthwise_backward_data_row(__global const float *g0, __global const float *weight, __global float *out,
                                        const int c, const int H, const int W, const int M, WINDOW_ARGS, const int h) {
    if (S != 1) {
        for (int w0 = 0; w0 < W; w0 += 16) {
            float16 acc = 0.0f;
            for (int m = 0; m < M; m++) {
                const int o = c * M + m;
                __global const float *k = weight + (size_t)o * KH * KW;
                for (int kh = 0; kh < KH; kh++) {
                    const int lead = h + PT - kh;    // = oh·S
                    if (lead < 0 || lead % S != 0 || lead / S >= OH) continue;
                    __global const float *grow = g0 + ((size_t)o * OH + lead / S) * OW;
                    for (int kw = 0; kw < KW; kw++) acc = fma((float16)k[kh * KW + kw], spread16(grow, OW, w0 + PL - kw, S), acc);
                }
            }
            store_chunk(acc, out + w0, W - w0);
        }
        return;
    }
    const int kh0 = max(0, h + PT - OH + 1), kh1 = min(KH, h + PT + 1);   // dy rows h + PT − kh inside [0, OH)
    const int lo = max(0, KW - 1 - PL), hi = min(W, OW - PL);
    if (hi - lo < 16) {
        // Narrow rows: the stride-S loop above with window16's bounds-checked loads. Its
        // spread16 gathers these rows too, but measured 35% slower on MobileNetV2's 7- and
        // 14-wide maps (a division per call), so the loop is written out again here.
        for (int w0 = 0; w0 < W; w0 += 16) {
            float16 acc = 0.0f;
            for (int m = 0; m < M; m++) {
                const int o = c * M + m;
                __global const float *k = weight + (size_t)o * KH * KW;
                for (int kh = kh0; kh < kh1; kh++) {
                    __global const float *grow = g0 + ((size_t)o * OH + h + PT - kh) * OW;
                    for (int kw = 0; kw < KW; kw++) acc = fma((float16)k[kh * KW + kw], window16(grow, OW, w0 + PL - kw, 1), acc);
                }
            }
            store_chunk(acc, out + w0, W - w0);
        }
        return;
    }
    for (int c0 = lo; c0 < hi; c0 += 16) {
        const int w0 = min(c0, hi - 16);
        float16 acc = 0.0f;
        for (int m = 0; m < M; m++) {
            const int o = c * M + m;
            __global const float *k = weight + (size_t)o * KH * KW;
            for (int kh = kh0; kh < kh1; kh++) {
                __global const float *grow = g0 + ((size_t)o * OH + h + PT - kh) * OW + w0 + PL;
                for (int kw = 0; kw < KW; kw++) acc = fma((float16)k[kh * KW + kw], vload16(0, grow - kw), acc);
            }
        }
        vstore16(acc, 0, out + w0);
    }
    depthwise_backward_data_edges(g0, weight, out, c, M, W, KH, KW, S, PT, PL, OH, OW, h, lo, hi);
}

// Input-gradient rows [h, h + B), B ≤ 4, of a 3 × 3 window at stride 1 with multiplier
// 1, interior chunks (as depthwise_backward_data_row's, same sums in the same order):
// each dy row is loaded once per chunk and added into every row it reaches, so the
// rows' accumulators are independent chains. g: channel c's dy plane.
inline void depthwise_backward_data_block3(__global const float *g, __global const float *k, __global float *out,
                                           const int W, const int OH, const int OW, const int PT, const int PL,
                                           const int h, const int B, const int lo, const int hi) {
    for (int c0 = lo; c0 < hi; c0 += 16) {
        const int w0 = min(c0, hi - 16);
        float16 acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        // dy row h + PT − 2 + j reaches row h + r through tap kh = r + 2 − j; taking j
        // downwards takes each row's taps upwards, the row path's order.
        #pragma unroll
        for (int j = 5; j >= 0; j--) {
            const int oh = h + PT - 2 + j;
            if (j >= B + 2 || oh < 0 || oh >= OH) continue;
            __global const float *grow = g + (size_t)oh * OW + w0 + PL;
            const float16 v0 = vload16(0, grow), v1 = vload16(0, grow - 1), v2 = vload16(0, grow - 2);
            add_row_taps3(acc, k, B, 2 - j, 1, v0, v1, v2);
        }
        #pragma unroll
        for (int r = 0; r < 4; r++) {
            if (r < B) vstore16(acc[r], 0, out + (size_t)r * W + w0);
        }
    }
}

// Input-gradient rows [h0, h0 + R) of plane (n, c) per work-item, h0 = R · global id 0;
// 3 × 3 windows at stride 1 with multiplier 1 go four rows at a time.
//   dy: [N, C*M, OH, OW]   weight: [C*M, 1, KH, KW]   dx: [N, C, H, W]
__kernel void depthwise_backward_data_rows(__global const float *dy, __global const float *weight, __global float *dx,
                                           const int N, const int C, const int H, const int W, const int M,
                                           WINDOW_ARGS, const int R) {
    const int h0 = get_global_id(0) * R;
    const int nc = get_global_id(1);
    if (h0 >= H || nc >= N * C) return;
    const int n = nc / C, c = nc - n * C;
    __global const float *g0 = dy + (size_t)n * C * M * OH * OW;
    const int lo = max(0, KW - 1 - PL), hi = min(W, OW - PL);
    const bool block3 = S == 1 && M == 1 && KH == 3 && KW == 3 && hi - lo >= 16;
    const int end = min(h0 + R, H);
    for (int h = h0; h < end;) {
        __global float *out = dx + ((size_t)nc * H + h) * W;
        if (block3) {
            const int B = min(4, end - h);
            depthwise_backward_data_block3(g0 + (size_t)c * OH * OW, weight + (size_t)c * 9, out, W, OH, OW, PT, PL, h, B, lo, hi);
            for (int r = 0; r < B; r++)
                depthwise_backward_data_edges(g0, weight, out + (size_t)r * W, c, M, W, KH, KW, S, PT, PL, OH, OW, h + r, lo, hi);
            h += B;
        } else {
            depthwise_backward_data_row(g0, weight, out, c, H, W, M, KH, KW, S, PT, PL, OH, OW, h);
            h++;
        }
    }
}

// One output channel o's whole filter gradient: KH·KW ≤ 49 float16 partial sums kept in
// private memory while the samples' rows stream past once (chunks of interior columns),
// plus scalar sums for the edge columns; each summed across its lanes at the end.
//   x: [N, C, H, W]   dy: [N, C*M, OH, OW]   dweight: [C*M, 1, KH, KW]
__kernel void depthwise_backward_filter_rows(__global const float *x, __global const float *dy, __global float *dweight,
                                             const int N, const int C, const int H, const int W, const int M,
                                             WINDOW_ARGS) {
    const int o = get_global_id(0);
    if (o >= C * M) return;
    const int c = o / M;
    float16 sums[49];
    float edges[49];
    for (int i = 0; i < KH * KW; i++) { sums[i] = 0.0f; edges[i] = 0.0f; }
    int lo, hi;
    interior_columns(W, S, PL, KW, OW, &lo, &hi);
    // Chunks never overlap: each column is summed once. Rows too narrow for a chunk take
    // the scalar path whole: per tap, a dot product over the columns it covers.
    const bool narrow = hi - lo < 16;
    const int vectorEnd = narrow ? lo : lo + (hi - lo) / 16 * 16;
    for (int n = 0; n < N; n++) {
        __global const float *plane = x + ((size_t)n * C + c) * H * W;
        __global const float *g = dy + ((size_t)n * C * M + o) * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            __global const float *grow = g + oh * OW;
            const int kh0 = max(0, PT - oh * S), kh1 = min(KH, H + PT - oh * S);
            if (narrow) {
                for (int kh = kh0; kh < kh1; kh++) {
                    __global const float *line = plane + (oh * S - PT + kh) * W;
                    for (int kw = 0; kw < KW; kw++) {
                        int first, end;
                        columns_inside(W, S, PL, kw, OW, &first, &end);
                        float total = 0.0f;
                        for (int ow = first; ow < end; ow++) total = fma(grow[ow], line[ow * S - PL + kw], total);
                        edges[kh * KW + kw] += total;
                    }
                }
                continue;
            }
            for (int ow0 = lo; ow0 < vectorEnd; ow0 += 16) {
                const float16 gv = vload16(0, grow + ow0);
                for (int kh = kh0; kh < kh1; kh++) {
                    __global const float *line = plane + (oh * S - PT + kh) * W;
                    for (int kw = 0; kw < KW; kw++) {
                        sums[kh * KW + kw] = fma(gv, taps16(line, ow0 * S - PL + kw, S), sums[kh * KW + kw]);
                    }
                }
            }
            for (int ow = lo == 0 ? vectorEnd : 0; ow < OW; ow = ow + 1 == lo ? vectorEnd : ow + 1) {
                const float gv = grow[ow];
                for (int kh = kh0; kh < kh1; kh++) {
                    __global const float *line = plane + (oh * S - PT + kh) * W;
                    for (int kw = 0; kw < KW; kw++) {
                        const int col = ow * S - PL + kw;
                        if (col >= 0 && col < W) edges[kh * KW + kw] = fma(gv, line[col], edges[kh * KW + kw]);
                    }
                }
            }
        }
    }
    for (int i = 0; i < KH * KW; i++) {
        const float16 s = sums[i];
        const float8 a = s.lo + s.hi;
        const float4 b = a.lo + a.hi;
        const float2 d = b.lo + b.hi;
        dweight[(size_t)o * KH * KW + i] = d.x + d.y + edges[i];
    }
}

// Direct convolution at stride 1 for CPU-style devices, with no column matrix. It reads
// the input's planes padded (xp: HP = OH + KH − 1 rows of P = OW + KW − 1 cells, the
// margins zero; x itself when it has no margins), so that output (oh, ow) is the sum over
// c, kh, kw of xp[c, oh + kh, ow + kw] · W[o, c, kh, kw]. Counted in xp's own row pitch,
// q = oh·P + ow, a run of outputs then reads a contiguous run of xp at every tap: a
// work-item takes 32 of them (two vectors) for 8 output channels, each tap's weight
// broadcast over a vector. Outputs at ow >= OW (the last KW − 1 of each row of P) are
// computed and dropped, as is a run's overhang past the last output.
//   xp: [N, C, HP, P]   weight: [O, C, KH, KW]   y: [N, O, OH, OW]   bias: [O]
#define DIRECT_TM 8
#define DIRECT_NV 2

// 16 floats of xp from `at`, those at or past `total` read as 0.
inline float16 direct_load_within(__global const float *xp, const long at, const long total) {
    if (at + 16 <= total) return vload16(0, xp + at);
    float values[16];
    for (int l = 0; l < 16; l++) values[l] = at + l < total ? xp[at + l] : 0.0f;
    return vload16(0, values);
}

// Every tap of a work-item's run, LOAD(u) giving the tap's vector u.
#define DIRECT_TAPS(LOAD) \
    for (int c = 0; c < C; c++) { \
        for (int kh = 0; kh < KH; kh++) { \
            for (int kw = 0; kw < KW; kw++) { \
                const long at = base + (long)c * plane + kh * P + kw; \
                const int tap = (c * KH + kh) * KW + kw; \
                float16 v[DIRECT_NV]; \
                _Pragma("unroll") for (int u = 0; u < DIRECT_NV; u++) v[u] = LOAD(u); \
                _Pragma("unroll") for (int t = 0; t < DIRECT_TM; t++) { \
                    const float16 w = (float16)block[tap * DIRECT_TM + t]; \
                    _Pragma("unroll") for (int u = 0; u < DIRECT_NV; u++) acc[t][u] = fma(w, v[u], acc[t][u]); \
                } \
            } \
        } \
    }
#define DIRECT_PLAIN(u) vload16(0, xp + at + 16 * (u))
#define DIRECT_CHECKED(u) direct_load_within(xp, at + 16 * (u), total)

// The filters in blocks of 8 output channels, each block tap by tap with its 8 channels'
// weights side by side, so a work-item reads one run (past the last output channel, the
// last one's weights: their sums are never stored).
//   weight: [O, C·KH·KW]  ->  packed: [⌈O / 8⌉, C·KH·KW, 8]
__kernel void direct_pack_filters(__global const float *weight, __global float *packed, const int O, const int taps) {
    const int tap = get_global_id(0), b = get_global_id(1);
    if (tap >= taps || b * DIRECT_TM >= O) return;
    #pragma unroll
    for (int t = 0; t < DIRECT_TM; t++) {
        packed[((size_t)b * taps + tap) * DIRECT_TM + t] = weight[(size_t)min(b * DIRECT_TM + t, O - 1) * taps + tap];
    }
}

// epilogue: bit 0 adds bias[o], bits 1 and 2 apply ReLU or ReLU6 (`finish16`).
//   packed: the filters as `direct_pack_filters` lays them out
__kernel void direct_forward_rows(__global const float *xp, __global const float *packed, __global float *y,
                                  const int N, const int C, const int HP, const int P, const int O, const int OH,
                                  const int OW, const int KH, const int KW, __global const float *bias, const int epilogue) {
    const int q0 = get_global_id(0) * 16 * DIRECT_NV;
    const int o0 = get_global_id(1) * DIRECT_TM;
    const int n = get_global_id(2);
    if (q0 >= (OH - 1) * P + OW || o0 >= O || n >= N) return;
    const int plane = HP * P, taps = C * KH * KW;
    const long total = (long)N * C * plane, base = (long)n * C * plane + q0;
    // The block's filters, tap by tap (`direct_pack_filters`).
    __global const float *block = packed + (size_t)get_global_id(1) * taps * DIRECT_TM;
    float16 acc[DIRECT_TM][DIRECT_NV];
    #pragma unroll
    for (int t = 0; t < DIRECT_TM; t++) {
        #pragma unroll
        for (int u = 0; u < DIRECT_NV; u++) acc[t][u] = 0.0f;
    }
    // Loads are checked only where the run's last reads come within its length of the end.
    if (base + (long)(C - 1) * plane + (KH - 1) * P + KW - 1 + 16 * DIRECT_NV <= total) {
        DIRECT_TAPS(DIRECT_PLAIN)
    } else {
        DIRECT_TAPS(DIRECT_CHECKED)
    }
    const int first_row = q0 / P, first_column = q0 - first_row * P;
    #pragma unroll
    for (int t = 0; t < DIRECT_TM; t++) {
        if (o0 + t < O) {
            float values[16 * DIRECT_NV];
            const float shift = epilogue & 1 ? bias[o0 + t] : 0.0f;
            #pragma unroll
            for (int u = 0; u < DIRECT_NV; u++) vstore16(finish16(acc[t][u], shift, epilogue), u, values);
            __global float *out = y + ((size_t)n * O + o0 + t) * OH * OW;
            // The run row by row: the cells of each with ow < OW, in rows below OH.
            for (int l = 0, oh = first_row, ow = first_column; l < 16 * DIRECT_NV && oh < OH; oh++, ow = 0) {
                const int length = min(P - ow, 16 * DIRECT_NV - l);
                if (ow < OW) store_run(values + l, out + oh * OW + ow, min(length, OW - ow));
                l += length;
            }
        }
    }
}

// xp[n, c, r, s] = x[n, c, r − PT, s − PL], 0 outside x: the padded planes
// direct_forward_rows reads, one plane per work-item.   x: [NC, H, W]   xp: [NC, HP, P]
__kernel void direct_pad_planes(__global const float *x, __global float *xp, const int NC, const int H, const int W,
                                const int HP, const int P, const int PT, const int PL) {
    const int nc = get_global_id(0);
    if (nc >= NC) return;
    __global const float *from = x + (size_t)nc * H * W;
    __global float *to = xp + (size_t)nc * HP * P;
    const int first = min(PL, P), end = max(first, min(P, PL + W));
    for (int r = 0; r < HP; r++, to += P) {
        const int h = r - PT;
        if (h < 0 || h >= H) {
            zero_run(to, P);
            continue;
        }
        zero_run(to, first);
        copy_run(from + h * W + first - PL, to + first, end - first);
        zero_run(to + end, P - end);
    }
}

// The direct convolution's weight gradient at stride 1, each work-item summing over a
// group of images:
//   partial[g, o, c, kh, kw] = Σ over n in group g, q < span of dyp[n, o, q] · xp[n, c, q + kh·P + kw]
// with span = (OH − 1)·P + OW and dyp dy in xp's row pitch (P cells a row, 0 at ow >= OW),
// so 16 consecutive q read a run of dyp and, for each tap, a run of xp. A work-item holds
// 4 output channels × the DIRECT_KW taps of one window row kh in vectors, summed across
// lanes at the end; the last q's short of a vector go as one more vector, moved back to
// end at span with its lanes already counted masked out (one by one when span < 16).
//   xp: [N, C, HP, P]   dyp: [N, O, OH, P]   partial: [G, O, C, KH, DIRECT_KW]
#define DIRECT_TO 4
#ifndef DIRECT_KW
#define DIRECT_KW 3
#endif

// The sum of a vector's lanes, through a private array: swizzling it down to halves,
// quarters and eighths crashed oclgrind 21.10's uninitialised-memory checker.
inline float lanes_sum(const float16 v) {
    float lanes[16];
    vstore16(v, 0, lanes);
    float total = 0.0f;
    for (int l = 0; l < 16; l++) total += lanes[l];
    return total;
}

__kernel void direct_filter_gradient_rows(__global const float *xp, __global const float *dyp, __global float *partial,
                                          const int N, const int C, const int HP, const int P, const int O, const int OH,
                                          const int OW, const int KH, const int group) {
    const int ck = get_global_id(0);
    const int o0 = get_global_id(1) * DIRECT_TO;
    const int g = get_global_id(2);
    if (ck >= C * KH || o0 >= O || g * group >= N) return;
    const int c = ck / KH, kh = ck - c * KH;
    const int plane = HP * P, span = (OH - 1) * P + OW;
    float16 acc[DIRECT_TO][DIRECT_KW];
    float tail[DIRECT_TO][DIRECT_KW];
    #pragma unroll
    for (int t = 0; t < DIRECT_TO; t++) {
        #pragma unroll
        for (int kw = 0; kw < DIRECT_KW; kw++) { acc[t][kw] = 0.0f; tail[t][kw] = 0.0f; }
    }
    for (int n = g * group; n < min(N, (g + 1) * group); n++) {
        __global const float *x = xp + ((size_t)n * C + c) * plane + kh * P;
        // Past the last output channel, the last one's gradient is read (its sums never stored).
        __global const float *d[DIRECT_TO];
        #pragma unroll
        for (int t = 0; t < DIRECT_TO; t++) d[t] = dyp + ((size_t)n * O + min(o0 + t, O - 1)) * OH * P;
        int q = 0;
        for (; q + 16 <= span; q += 16) {
            float16 taps[DIRECT_KW];
            #pragma unroll
            for (int kw = 0; kw < DIRECT_KW; kw++) taps[kw] = vload16(0, x + q + kw);
            #pragma unroll
            for (int t = 0; t < DIRECT_TO; t++) {
                const float16 dv = vload16(0, d[t] + q);
                #pragma unroll
                for (int kw = 0; kw < DIRECT_KW; kw++) acc[t][kw] = fma(dv, taps[kw], acc[t][kw]);
            }
        }
        if (q < span && span >= 16) {
            // The last run moved back to end at span, its lanes before q (counted above) masked out.
            const int last = span - 16;
            const int16 fresh = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) >= q - last;
            float16 taps[DIRECT_KW];
            #pragma unroll
            for (int kw = 0; kw < DIRECT_KW; kw++) taps[kw] = vload16(0, x + last + kw);
            #pragma unroll
            for (int t = 0; t < DIRECT_TO; t++) {
                const float16 dv = select((float16)0.0f, vload16(0, d[t] + last), fresh);
                #pragma unroll
                for (int kw = 0; kw < DIRECT_KW; kw++) acc[t][kw] = fma(dv, taps[kw], acc[t][kw]);
            }
            q = span;
        }
        for (; q < span; q++) {
            #pragma unroll
            for (int t = 0; t < DIRECT_TO; t++) {
                #pragma unroll
                for (int kw = 0; kw < DIRECT_KW; kw++) tail[t][kw] = fma(d[t][q], x[q + kw], tail[t][kw]);
            }
        }
    }
    #pragma unroll
    for (int t = 0; t < DIRECT_TO; t++) {
        if (o0 + t < O) {
            __global float *out = partial + ((((size_t)g * O + o0 + t) * C + c) * KH + kh) * DIRECT_KW;
            #pragma unroll
            for (int kw = 0; kw < DIRECT_KW; kw++) out[kw] = lanes_sum(acc[t][kw]) + tail[t][kw];
        }
    }
}
