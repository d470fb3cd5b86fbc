// Max and average pooling over [N, C, H, W], and their global forms. Windows that reach
// into "same" padding skip the padded cells: max ignores them and the average divides by
// the cells inside the image, as Keras does. Backward passes gather per input pixel, so
// no atomics are needed and results are deterministic.
// Host twin: Sources/Lumen/Ops/Pooling.swift.

// The largest cell of output (oh, ow)'s window inside the plane, and in *where its
// h*W + w; the first cell in window order wins ties. Padding cells are skipped; a window
// wholly inside explicit padding gives 0 with *where = -1, which no backward routes to.
inline float window_max(__global const float *plane, const int oh, const int ow, const int H, const int W,
                        const int K, const int S, const int PT, const int PL, int *where) {
    float best = -INFINITY;
    *where = -1;
    for (int kh = 0; kh < K; kh++) {
        const int h = oh * S - PT + kh;
        if (h < 0 || h >= H) continue;
        for (int kw = 0; kw < K; kw++) {
            const int w = ow * S - PL + kw;
            if (w < 0 || w >= W) continue;
            const float v = plane[h * W + w];
            if (*where < 0 || v > best) { best = v; *where = h * W + w; }
        }
    }
    return *where < 0 ? 0.0f : best;
}

// y[nc, oh, ow] = max over the window; argmax keeps the winning h*W + w (exact as float)
// when keep_argmax is set (training), else it is a stand-in left unwritten (inference).
//   x: [N*C, H, W]   y, argmax: [N*C, OH, OW]
__kernel void maxpool_forward(__global const float *x, __global float *y, __global float *argmax,
                              const int NC, const int H, const int W, const int K, const int S,
                              const int PT, const int PL, const int OH, const int OW, const int keep_argmax) {
    const int p = get_global_id(0);
    const int nc = get_global_id(1);
    if (p >= OH * OW || nc >= NC) return;
    const int oh = p / OW, ow = p - oh * OW;
    int where;
    y[(size_t)nc * OH * OW + p] = window_max(x + (size_t)nc * H * W, oh, ow, H, W, K, S, PT, PL, &where);
    if (keep_argmax) argmax[(size_t)nc * OH * OW + p] = (float)where;
}

//   dy, argmax: [N*C, OH, OW]   dx: [N*C, H, W]
// With relu_mask, x is the forward input, the output of a ReLU, and dx is also that ReLU's
// backward: 0 where x is not positive (the two layers' backward passes in one).
__kernel void maxpool_backward(__global const float *dy, __global const float *argmax, __global float *dx,
                               __global const float *x, const int relu_mask,
                               const int NC, const int H, const int W, const int K, const int S,
                               const int PT, const int PL, const int OH, const int OW) {
    const int hw = get_global_id(0);
    const int nc = get_global_id(1);
    if (hw >= H * W || nc >= NC) return;
    const int h = hw / W, w = hw - h * W;
    float total = 0.0f;
    // Output rows whose window covers h: oh*S - PT <= h <= oh*S - PT + K - 1.
    const int oh_lo = max(0, (h + PT - K + S) / S), oh_hi = min(OH - 1, (h + PT) / S);
    const int ow_lo = max(0, (w + PL - K + S) / S), ow_hi = min(OW - 1, (w + PL) / S);
    for (int oh = oh_lo; oh <= oh_hi; oh++) {
        for (int ow = ow_lo; ow <= ow_hi; ow++) {
            const size_t o = (size_t)nc * OH * OW + oh * OW + ow;
            if ((int)argmax[o] == hw) total += dy[o];
        }
    }
    const size_t at = (size_t)nc * H * W + hw;
    // Without the mask, x is a stand-in smaller than dx: index it only with the mask on,
    // so a compiler hoisting the load still reads inside the buffer.
    dx[at] = (relu_mask && !(x[relu_mask ? at : 0] > 0.0f)) ? 0.0f : total;
}

// The mean of output (oh, ow)'s window over its cells inside the plane; a window wholly
// inside explicit padding has no cells: 0, never 0/0.
inline float window_mean(__global const float *plane, const int oh, const int ow, const int H, const int W,
                         const int K, const int S, const int PT, const int PL) {
    const int h0 = max(oh * S - PT, 0), h1 = min(oh * S - PT + K, H);
    const int w0 = max(ow * S - PL, 0), w1 = min(ow * S - PL + K, W);
    float total = 0.0f;
    for (int h = h0; h < h1; h++)
        for (int w = w0; w < w1; w++) total += plane[h * W + w];
    const int cells = max(h1 - h0, 0) * max(w1 - w0, 0);
    return cells > 0 ? total / (float)cells : 0.0f;
}

// y = mean over the window's cells inside the image.    x: [N*C, H, W]   y: [N*C, OH, OW]
__kernel void avgpool_forward(__global const float *x, __global float *y,
                              const int NC, const int H, const int W, const int K, const int S,
                              const int PT, const int PL, const int OH, const int OW) {
    const int p = get_global_id(0);
    const int nc = get_global_id(1);
    if (p >= OH * OW || nc >= NC) return;
    const int oh = p / OW, ow = p - oh * OW;
    y[(size_t)nc * OH * OW + p] = window_mean(x + (size_t)nc * H * W, oh, ow, H, W, K, S, PT, PL);
}

// The gradient reaching input (h, w) from every window that holds it, each output's
// gradient divided by its window's cells inside the plane.   grad: one [OH, OW] plane of dy
inline float window_gradient(__global const float *grad, const int h, const int w, const int H, const int W,
                             const int K, const int S, const int PT, const int PL, const int OH, const int OW) {
    const int oh_lo = max(0, (h + PT - K + S) / S), oh_hi = min(OH - 1, (h + PT) / S);
    const int ow_lo = max(0, (w + PL - K + S) / S), ow_hi = min(OW - 1, (w + PL) / S);
    float total = 0.0f;
    for (int oh = oh_lo; oh <= oh_hi; oh++) {
        const int rows = min(oh * S - PT + K, H) - max(oh * S - PT, 0);
        for (int ow = ow_lo; ow <= ow_hi; ow++) {
            const int cols = min(ow * S - PL + K, W) - max(ow * S - PL, 0);
            total += grad[oh * OW + ow] / (float)(rows * cols);
        }
    }
    return total;
}

// The average-pool backward kernels write dx, or with `adding` add into it (a gradient
// the input already had from other layers).
inline void put_gradient(__global float *out, const float value, const int adding) {
    *out = adding ? *out + value : value;
}

//   dy: [N*C, OH, OW]   dx: [N*C, H, W]
__kernel void avgpool_backward(__global const float *dy, __global float *dx, const int NC, const int adding,
                               const int H, const int W, const int K, const int S,
                               const int PT, const int PL, const int OH, const int OW) {
    const int hw = get_global_id(0);
    const int nc = get_global_id(1);
    if (hw >= H * W || nc >= NC) return;
    const int h = hw / W, w = hw - h * W;
    put_gradient(dx + (size_t)nc * H * W + hw, window_gradient(dy + (size_t)nc * OH * OW, h, w, H, W, K, S, PT, PL, OH, OW),
                 adding);
}

// One dx row of avgpool_backward_rows. At stride 1, columns w in [K − 1, min(OW − PL,
// W − K + 1)) take their gradient from outputs w + PL − K + 1 … w + PL whose windows all
// lie inside the row (K cells wide), so 8 columns at a time (4 on rows too short for 8,
// the last chunk moved back to end with those columns) add K shifted vector loads of
// each dy row; the edge columns, and every column at other strides, go cell by cell.
// With `adding`, the moved-back chunk adds only to the columns no chunk did before it.
inline void average_gradient_row(__global const float *grad, __global float *out, const int h, const int H, const int W,
                                 const int K, const int S, const int PT, const int PL, const int OH, const int OW,
                                 const int adding) {
    const int lo = S == 1 ? min(K - 1, W) : W;
    const int hi = S == 1 ? max(lo, min(OW - PL, W - K + 1)) : W;
    const int lanes = hi - lo >= 8 ? 8 : hi - lo >= 4 ? 4 : 0;
    int w = 0;
    for (; w < lo; w++) put_gradient(out + w, window_gradient(grad, h, w, H, W, K, S, PT, PL, OH, OW), adding);
    const int oh_lo = max(0, h + PT - K + 1), oh_hi = min(OH - 1, h + PT);
    for (; lanes > 0 && w < hi; w += lanes) {
        const int at = min(w, hi - lanes);
        float8 total = 0.0f;
        for (int oh = oh_lo; oh <= oh_hi; oh++) {
            const int rows = min(oh - PT + K, H) - max(oh - PT, 0);
            __global const float *line = grad + (size_t)oh * OW + at + PL;
            float8 sum = 0.0f;
            if (lanes == 8) {
                for (int kw = 0; kw < K; kw++) sum += vload8(0, line - kw);
            } else {
                for (int kw = 0; kw < K; kw++) sum.lo += vload4(0, line - kw);
            }
            total += sum / (float)(rows * K);
        }
        if (adding) {
            const int8 fresh = (int8)(0, 1, 2, 3, 4, 5, 6, 7) >= (int8)(w - at);
            const float8 held = lanes == 8 ? vload8(0, out + at) : (float8)(vload4(0, out + at), 0.0f, 0.0f, 0.0f, 0.0f);
            total = held + select((float8)0.0f, total, fresh);
        }
        if (lanes == 8) vstore8(total, 0, out + at);
        else vstore4(total.lo, 0, out + at);
    }
    if (lanes > 0) w = hi;   // the loop may step past hi
    for (; w < W; w++) put_gradient(out + w, window_gradient(grad, h, w, H, W, K, S, PT, PL, OH, OW), adding);
}

// As avgpool_backward, R dx rows of one (n, c) plane per work-item (a CPU variant,
// work-groups of one).   dy: [N*C, OH, OW]   dx: [N*C, H, W]
__kernel void avgpool_backward_rows(__global const float *dy, __global float *dx, const int NC, const int adding,
                                    const int H, const int W, const int K, const int S,
                                    const int PT, const int PL, const int OH, const int OW, const int R) {
    const int first = get_global_id(0) * R;
    const int nc = get_global_id(1);
    if (first >= H || nc >= NC) return;
    for (int h = first; h < min(first + R, H); h++)
        average_gradient_row(dy + (size_t)nc * OH * OW, dx + ((size_t)nc * H + h) * W, h, H, W, K, S, PT, PL, OH, OW, adding);
}

// Stride-1 average pooling whose output plane is the input's size (H × W: "same"
// padding), on small planes, where rows are too short for the row kernels' vectors: a
// work-item walks one plane as a flat run of H·W cells, 16 at a time (the last run moved
// back), and each tap (kh, kw) is one vector load shifted by (kh − PT)·W + kw − PL,
// masked where the tap's cell lies outside the plane. The backward pass is the same walk
// with the taps mirrored, each tap divided by its own output's cell count.

// plane[from + l] for lanes l where from + l lies in [lo, hi), the cells the buffer
// holds around the plane (the neighbouring planes' values are masked out by the caller);
// 0 elsewhere.
inline float16 load_run16(__global const float *plane, const int from, const int lo, const int hi) {
    if (from >= lo && from + 16 <= hi) return vload16(0, plane + from);
    float values[16];
    for (int l = 0; l < 16; l++) values[l] = from + l >= lo && from + l < hi ? plane[from + l] : 0.0f;
    return vload16(0, values);
}

// Per lane, the cells along one axis of the windows of outputs at `at` (rows or
// columns) inside an axis of `size` cells: a window starting at at − pad, K wide.
inline float16 window_span16(const float16 at, const int size, const int K, const int pad) {
    return fmin(at - pad + K, (float)size) - fmax(at - pad, 0.0f);
}

// Per lane, 0 where `at` lies outside an axis of `size` cells, else 1, or with
// `backward` 1 / the cells along that axis of the window of the output at `at`.
inline float16 tap_factor16(const float16 at, const int size, const int K, const int pad, const bool backward) {
    const float16 factor = backward ? 1.0f / window_span16(at, size, K, pad) : (float16)1.0f;
    return select((float16)0.0f, factor, (at >= 0.0f) & (at < (float)size));
}

// The most columns a flat window may have: its column factors are kept per tap.
#define FLAT_MAX_K 8

// A window's cells inside the plane are its rows inside times its columns inside, so
// each tap's factor (its mask, and backward 1 / its output's cell count) is a row
// factor times a column factor: K column factors per 16 cells, one row factor per
// window row, no division per tap. With `adding` (backward), the result is added to dst,
// the moved-back last run adding only to the cells no run did before it.
inline void average_plane_flat(__global const float *src, __global float *dst, const int nc, const int NC, const int H,
                               const int W, const int K, const int PT, const int PL, const bool backward,
                               const int adding) {
    const int cells = H * W;
    // Loads may reach into the planes before and after this one, never past the buffer.
    const int lo = nc > 0 ? -cells : 0, hi = nc + 1 < NC ? 2 * cells : cells;
    const float16 lane = (float16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int j = 0; j < cells; j += 16) {
        const int at = min(j, cells - 16);
        // Row and column of each lane's cell, exact in floats (w + 0.5 < W).
        const float16 index = (float16)at + lane;
        const float16 h = floor((index + 0.5f) / (float)W), w = index - h * (float)W;
        float16 columns[FLAT_MAX_K];
        for (int kw = 0; kw < K; kw++) columns[kw] = tap_factor16(w + (float)(backward ? PL - kw : kw - PL), W, K, PL, backward);
        float16 total = 0.0f;
        for (int kh = 0; kh < K; kh++) {
            const int dh = backward ? PT - kh : kh - PT;
            float16 sum = 0.0f;
            for (int kw = 0; kw < K; kw++) {
                const int dw = backward ? PL - kw : kw - PL;
                // Selected, not only scaled by 0: a neighbouring plane's infinity must not
                // reach this one as a NaN.
                const float16 tap = load_run16(src, at + dh * W + dw, lo, hi);
                sum = fma(select((float16)0.0f, tap, isnotequal(columns[kw], 0.0f)), columns[kw], sum);
            }
            const float16 row = tap_factor16(h + (float)dh, H, K, PT, backward);
            total += select((float16)0.0f, sum * row, isnotequal(row, 0.0f));
        }
        if (!backward) total /= window_span16(h, H, K, PT) * window_span16(w, W, K, PL);
        if (adding) total = vload16(0, dst + at) + select((float16)0.0f, total, isgreaterequal(lane, (float16)(j - at)));
        vstore16(total, 0, dst + at);
    }
}

// One plane per work-item (work-groups of one), planes of at least 16 cells.
//   x, y: [N*C, H, W]
__kernel void avgpool_forward_flat(__global const float *x, __global float *y, const int NC, const int H, const int W,
                                   const int K, const int PT, const int PL) {
    const int nc = get_global_id(0);
    if (nc >= NC) return;
    average_plane_flat(x + (size_t)nc * H * W, y + (size_t)nc * H * W, nc, NC, H, W, K, PT, PL, false, 0);
}

//   dy, dx: [N*C, H, W]
__kernel void avgpool_backward_flat(__global const float *dy, __global float *dx, const int NC, const int adding,
                                    const int H, const int W, const int K, const int PT, const int PL) {
    const int nc = get_global_id(0);
    if (nc >= NC) return;
    average_plane_flat(dy + (size_t)nc * H * W, dx + (size_t)nc * H * W, nc, NC, H, W, K, PT, PL, true, adding);
}

// Global max: y[nc] = max over the plane, argmax its position.   x: [N*C, P]   y, argmax: [N*C]
__kernel void global_maxpool_forward(__global const float *x, __global float *y, __global float *argmax,
                                     const int NC, const int P) {
    const int nc = get_global_id(0);
    if (nc >= NC) return;
    __global const float *plane = x + (size_t)nc * P;
    float best = plane[0];
    int where = 0;
    for (int i = 1; i < P; i++) if (plane[i] > best) { best = plane[i]; where = i; }
    y[nc] = best;
    argmax[nc] = (float)where;
}

// The same on GPUs for large planes: one work-group per plane, each work-item the best
// of a strided part, then a tree in local memory keeping the larger value and, between
// equal ones, the earlier position (the first maximum, as above). Power-of-two
// work-groups of at most 256, one per plane.
__kernel void global_maxpool_forward_group(__global const float *x, __global float *y, __global float *argmax,
                                           const int NC, const int P) {
    __local float best[256];
    __local int where[256];
    const int nc = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    if (nc >= NC) return;   // a whole group leaves: no barrier is left waiting
    __global const float *plane = x + (size_t)nc * P;
    float mine = -INFINITY;
    int at = P;
    for (int i = lid; i < P; i += size) if (plane[i] > mine || at == P) { mine = plane[i]; at = i; }
    best[lid] = mine;
    where[lid] = at;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = size / 2; stride > 0; stride >>= 1) {
        if (lid < stride) {
            const float other = best[lid + stride];
            const int other_at = where[lid + stride];
            if (other_at < P && (where[lid] == P || other > best[lid] || (other == best[lid] && other_at < where[lid]))) {
                best[lid] = other;
                where[lid] = other_at;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        y[nc] = best[0];
        argmax[nc] = (float)where[0];
    }
}

//   dy, argmax: [N*C]   dx: [N*C, P]
__kernel void global_maxpool_backward(__global const float *dy, __global const float *argmax, __global float *dx,
                                      const int NC, const int P) {
    const int i = get_global_id(0);
    const int nc = get_global_id(1);
    if (i >= P || nc >= NC) return;
    dx[(size_t)nc * P + i] = ((int)argmax[nc] == i) ? dy[nc] : 0.0f;
}

// dx[nc, i] = scale * dy[nc]: the backward of a global average (scale = 1/P).
//   dy: [N*C]   dx: [N*C, P]
__kernel void broadcast_plane(__global const float *dy, __global float *dx, const float scale,
                              const int NC, const int P) {
    const int i = get_global_id(0);
    const int nc = get_global_id(1);
    if (i >= P || nc >= NC) return;
    dx[(size_t)nc * P + i] = scale * dy[nc];
}

// 8 windows' values from `from`, or with lanes 4 the 4 there twice.
inline float8 load_windows(__global const float *from, const int lanes) {
    if (lanes == 8) return vload8(0, from);
    const float4 four = vload4(0, from);
    return (float8)(four, four);
}

// The 16 cells of 8 side-by-side 2-wide windows from `from`, or with lanes 4 the 8 cells
// of 4 there twice.
inline float16 load_window_cells(__global const float *from, const int lanes) {
    if (lanes == 8) return vload16(0, from);
    const float8 eight = vload8(0, from);
    return (float16)(eight, eight);
}

// CPU-style max-pool backward: one work-item per plane adds each output's gradient at
// its argmax, in output order (deterministic); PoCL runs it as a plain loop.
//   dy, argmax: [N*C, OH, OW]   dx: [N*C, H, W]
// With relu_mask, as maxpool_backward. With pairs (2×2 windows, stride 2, no padding
// before) the windows cannot overlap and the plane is written row by row instead.
__kernel void maxpool_backward_planes(__global const float *dy, __global const float *argmax, __global float *dx,
                                      __global const float *x, const int relu_mask,
                                      const int NC, const int H, const int W, const int OH, const int OW, const int pairs) {
    const int nc = get_global_id(0);
    if (nc >= NC) return;
    __global float *plane = dx + (size_t)nc * H * W;
    __global const float *g = dy + (size_t)nc * OH * OW;
    __global const float *where = argmax + (size_t)nc * OH * OW;
    __global const float *input = x + (relu_mask ? (size_t)nc * H * W : 0);  // x is a stand-in without the mask
    if (pairs) {
        // 2×2 windows at stride 2 without padding do not overlap: each cell of dx is its
        // window's gradient where it held the maximum, else 0, written row by row without
        // a zeroing pass, 8 windows (16 columns) at a time (4 on rows of 4 to 7 whole
        // windows), the last chunk moved back to end with the whole windows (its first
        // cells written twice, the same way); the cells past them one by one.
        const float8 steps = (float8)(0.0f, 2.0f, 4.0f, 6.0f, 8.0f, 10.0f, 12.0f, 14.0f);
        const int inside = min(OW, W / 2), lanes = inside >= 8 ? 8 : inside >= 4 ? 4 : 0;
        for (int h = 0; h < H; h++) {
            __global float *line = plane + (size_t)h * W;
            const int oh = h / 2;
            int w = 0;
            if (oh < OH && lanes > 0) {
                __global const float *grow = g + oh * OW, *wrow = where + oh * OW;
                for (int chunk = 0; chunk < inside; chunk += lanes) {
                    const int at = min(chunk, inside - lanes);
                    const float8 gv = load_windows(grow + at, lanes), cells = load_windows(wrow + at, lanes);
                    const float8 even = (float8)(h * W + 2 * at) + steps;
                    const float8 e = select((float8)(0.0f), gv, isequal(cells, even));
                    const float8 o = select((float8)(0.0f), gv, isequal(cells, even + 1.0f));
                    float16 v = (float16)(e.s0, o.s0, e.s1, o.s1, e.s2, o.s2, e.s3, o.s3,
                                          e.s4, o.s4, e.s5, o.s5, e.s6, o.s6, e.s7, o.s7);
                    if (relu_mask) v = select((float16)(0.0f), v, isgreater(load_window_cells(input + h * W + 2 * at, lanes), 0.0f));
                    if (lanes == 8) vstore16(v, 0, line + 2 * at);
                    else vstore8(v.lo, 0, line + 2 * at);
                }
                w = 2 * inside;
            }
            for (; w < W; w++) {
                const int ow = w / 2, at = h * W + w;
                const bool held = oh < OH && ow < OW && (int)where[oh * OW + ow] == at;
                line[w] = held && (!relu_mask || input[relu_mask ? at : 0] > 0.0f) ? g[oh * OW + ow] : 0.0f;
            }
        }
        return;
    }
    // Overlapping windows: the plane zeroed, each output's gradient added at its argmax,
    // then with relu_mask the ReLU's zeros put in by a second walk (every gradient reaching
    // a cell shares its mask), so the adds do not branch on the input.
    const int cells = H * W, whole = cells / 16 * 16;
    for (int i = 0; i < whole; i += 16) vstore16((float16)0.0f, 0, plane + i);
    for (int i = whole; i < cells; i++) plane[i] = 0.0f;
    for (int o = 0; o < OH * OW; o++) {
        const int at = (int)where[o];
        if (at >= 0) plane[at] += g[o];
    }
    if (!relu_mask) return;
    for (int i = 0; i < whole; i += 16)
        vstore16(select((float16)0.0f, vload16(0, plane + i), isgreater(vload16(0, input + i), 0.0f)), 0, plane + i);
    for (int i = whole; i < cells; i++) plane[i] = input[i] > 0.0f ? plane[i] : 0.0f;
}

// The 8 values line[start + q·S], q < 8, for S = 1 or 2, by vector loads: the caller
// makes sure line[start … start + 8·S − 1] lies inside the row.
inline float8 taps8(__global const float *line, const int start, const int S) {
    return S == 1 ? vload8(0, line + start) : vload16(0, line + start).even;
}

// The same for 4 values.
inline float4 taps4(__global const float *line, const int start, const int S) {
    return S == 1 ? vload4(0, line + start) : vload8(0, line + start).even;
}

// Output columns [*lo, *hi) whose windows lie inside the row and whose `lanes`-wide
// chunks `taps8`/`taps4` may read (start + lanes·S ≤ W for every tap): at strides 1 and
// 2 only (else empty).
inline void vector_columns(const int W, const int K, const int S, const int PL, const int OW, const int lanes,
                           int *lo, int *hi) {
    *lo = min(OW, (PL + S - 1) / S);
    // ow·S − PL + (K − 1) + lanes·S ≤ W, taken for the chunk's first column ow.
    const int room = W - K + 1 + PL - lanes * S;
    *hi = S <= 2 && room >= 0 ? min(OW, room / S + lanes) : *lo;
    *hi = max(*hi, *lo);
}

// Lane-wise the larger of a and b, a on a tie: the first in window order wins, as in
// every max-pooling loop here.
inline float8 first_max8(const float8 a, const float8 b) { return select(a, b, isgreater(b, a)); }

// The maxima of 8 side-by-side 3-wide windows at stride 2 along one row, starting at
// line[start]: their first, second and third taps are the even lanes, the odd lanes and
// the even lanes moved on by one of a single 16-wide load (line[start + 16] the last).
// The caller makes sure line[start … start + 16] lies inside the row.
inline float8 window_row_max3s2(__global const float *line, const int start) {
    const float16 a = vload16(0, line + start);
    const float8 third = (float8)(a.s2468, a.sace, line[start + 16]);
    return first_max8(first_max8(a.even, a.odd), third);
}

// The maxima alone of one plane (maxpool_forward_planes without keep_argmax): per output
// row, the columns whose windows lie inside the row 8 at a time by vector loads (the
// last chunk moved back to end with them), the edge columns cell by cell.
inline void max_plane(__global const float *plane, __global float *out, const int H, const int W, const int K,
                      const int S, const int PT, const int PL, const int OH, const int OW) {
    int lo, hi;
    vector_columns(W, K, S, PL, OW, 8, &lo, &hi);
    for (int oh = 0; oh < OH; oh++, out += OW) {
        const int kh0 = max(0, PT - oh * S), kh1 = min(K, H + PT - oh * S);   // window rows inside the image
        const int end = kh0 < kh1 && hi - lo >= 8 ? hi : lo;
        int ow = 0, where;
        for (; ow < lo; ow++) out[ow] = window_max(plane, oh, ow, H, W, K, S, PT, PL, &where);
        for (; ow < end; ow += 8) {
            const int at = min(ow, end - 8);
            float8 best = 0.0f;
            if (K == 3 && S == 2) {
                // 3 × 3 windows at stride 2 (Xception's and InceptionV3's pools): a row's
                // three taps from one load, rows combined in order (same maxima).
                best = window_row_max3s2(plane + (size_t)(oh * S - PT + kh0) * W, at * S - PL);
                for (int kh = kh0 + 1; kh < kh1; kh++)
                    best = first_max8(best, window_row_max3s2(plane + (size_t)(oh * S - PT + kh) * W, at * S - PL));
                vstore8(best, 0, out + at);
                continue;
            }
            for (int kh = kh0; kh < kh1; kh++) {
                __global const float *line = plane + (size_t)(oh * S - PT + kh) * W;
                for (int kw = 0; kw < K; kw++) {
                    const float8 v = taps8(line, at * S - PL + kw, S);
                    best = select(best, v, kh == kh0 && kw == 0 ? (int8)(-1) : isgreater(v, best));
                }
            }
            vstore8(best, 0, out + at);
        }
        for (ow = max(lo, end); ow < OW; ow++) out[ow] = window_max(plane, oh, ow, H, W, K, S, PT, PL, &where);
    }
}

// The maxima of 8 side-by-side 2 × 2 windows (2×2 pairs, stride 2) from the two rows' 16
// cells t and b, and where each lies (first cell `first`, rows W apart); ties keep the
// first cell in window order.
inline void pair_max8(const float16 t, const float16 b, const float first, const int W, float8 *best_out,
                      float8 *where_out) {
    const float8 cells = (float8)(first) + (float8)(0.0f, 2.0f, 4.0f, 6.0f, 8.0f, 10.0f, 12.0f, 14.0f);
    float8 best = t.even, where = cells;
    int8 better = isgreater(t.odd, best);
    best = select(best, t.odd, better);
    where = select(where, cells + 1.0f, better);
    better = isgreater(b.even, best);
    best = select(best, b.even, better);
    where = select(where, cells + (float)W, better);
    better = isgreater(b.odd, best);
    *best_out = select(best, b.odd, better);
    *where_out = select(where, cells + (float)(W + 1), better);
}

// As maxpool_forward, one (n, c) plane per work-item (a CPU variant, work-groups of one).
// A 2×2 window of stride 2 without padding reads two input rows as vectors, 8 outputs at
// a time (`pair_max8`; 4 on rows of 4 to 7 windows), a window overhanging the row cell
// by cell; other windows at strides 1 and 2 take 8 outputs at a time by vector loads
// across the columns inside the image (`vector_columns`), and the edge columns cell by
// cell. Ties keep the first cell in window order, as maxpool_forward does. Without
// keep_argmax, only the maxima (`max_plane`).
//   x: [N*C, H, W]   y, argmax: [N*C, OH, OW]
__kernel void maxpool_forward_planes(__global const float *x, __global float *y, __global float *argmax,
                                     const int NC, const int H, const int W, const int K, const int S,
                                     const int PT, const int PL, const int OH, const int OW, const int keep_argmax) {
    const int nc = get_global_id(0);
    if (nc >= NC) return;
    __global const float *plane = x + (size_t)nc * H * W;
    if (!keep_argmax) {
        max_plane(plane, y + (size_t)nc * OH * OW, H, W, K, S, PT, PL, OH, OW);
        return;
    }
    const bool pairs = K == 2 && S == 2 && PT == 0 && PL == 0;
    for (int oh = 0; oh < OH; oh++) {
        __global float *out = y + ((size_t)nc * OH + oh) * OW;
        __global float *where_out = argmax + ((size_t)nc * OH + oh) * OW;
        int ow = 0;
        if (pairs && 2 * oh + 1 < H) {
            __global const float *top = plane + (size_t)(2 * oh) * W, *bottom = top + W;
            // Windows inside the row, 8 at a time (4 on rows of 4 to 7), the last chunk moved
            // back to end with them (its first windows computed twice, the same way).
            const int inside = min(OW, W / 2), lanes = inside >= 8 ? 8 : inside >= 4 ? 4 : 0;
            for (int chunk = 0; lanes > 0 && chunk < inside; chunk += lanes) {
                const int at = min(chunk, inside - lanes);
                float8 best, where;
                pair_max8(load_window_cells(top + 2 * at, lanes), load_window_cells(bottom + 2 * at, lanes),
                          (float)(2 * oh * W + 2 * at), W, &best, &where);
                if (lanes == 8) {
                    vstore8(best, 0, out + at);
                    vstore8(where, 0, where_out + at);
                } else {
                    vstore4(best.lo, 0, out + at);
                    vstore4(where.lo, 0, where_out + at);
                }
            }
            if (lanes > 0) ow = inside;
            for (; 2 * ow + 1 < W && ow < OW; ow++) {
                const int at = 2 * oh * W + 2 * ow;
                float best = plane[at];
                int where = at;
                if (plane[at + 1] > best) { best = plane[at + 1]; where = at + 1; }
                if (plane[at + W] > best) { best = plane[at + W]; where = at + W; }
                if (plane[at + W + 1] > best) { best = plane[at + W + 1]; where = at + W + 1; }
                out[ow] = best;
                where_out[ow] = (float)where;
            }
        }
        const int kh0 = max(0, PT - oh * S), kh1 = min(K, H + PT - oh * S);   // window rows inside the image
        int lo, hi;
        vector_columns(W, K, S, PL, OW, 8, &lo, &hi);
        if (!pairs && kh0 < kh1 && hi - lo >= 8) {
            for (; ow < lo; ow++) {
                int where;
                out[ow] = window_max(plane, oh, ow, H, W, K, S, PT, PL, &where);
                where_out[ow] = (float)where;
            }
            const float8 steps = (float8)(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f) * (float)S;
            for (; ow + 8 <= hi; ow += 8) {
                float8 best = 0.0f, where = 0.0f;
                for (int kh = kh0; kh < kh1; kh++) {
                    const int h = oh * S - PT + kh;
                    for (int kw = 0; kw < K; kw++) {
                        const int start = ow * S - PL + kw;
                        const float8 v = taps8(plane + (size_t)h * W, start, S);
                        const float8 at = (float8)((float)(h * W + start)) + steps;
                        const int8 better = kh == kh0 && kw == 0 ? (int8)(-1) : isgreater(v, best);
                        best = select(best, v, better);
                        where = select(where, at, better);
                    }
                }
                vstore8(best, 0, out + ow);
                vstore8(where, 0, where_out + ow);
            }
        }
        for (; ow < OW; ow++) {
            int where;
            out[ow] = window_max(plane, oh, ow, H, W, K, S, PT, PL, &where);
            where_out[ow] = (float)where;
        }
    }
}

// One output row of avgpool_forward_rows: at strides 1 and 2, the columns whose windows
// lie inside the row by vector loads, 8 outputs at a time (4 on rows too short for 8),
// the last chunk moved back to end with those columns (its first outputs computed twice,
// the same way); the edge columns cell by cell.
inline void average_row(__global const float *plane, __global float *out, const int oh, const int H, const int W,
                        const int K, const int S, const int PT, const int PL, const int OW) {
    const int h0 = max(oh * S - PT, 0), h1 = min(oh * S - PT + K, H);
    int lo, hi, hi4;
    vector_columns(W, K, S, PL, OW, 8, &lo, &hi);
    vector_columns(W, K, S, PL, OW, 4, &lo, &hi4);
    if (h0 >= h1) hi = hi4 = lo;
    int ow = 0;
    for (; ow < lo; ow++) out[ow] = window_mean(plane, oh, ow, H, W, K, S, PT, PL);
    // Whole windows: K columns of h1 − h0 rows each.
    const float scale = 1.0f / (float)(max(h1 - h0, 1) * K);
    const int lanes = hi - lo >= 8 ? 8 : hi4 - lo >= 4 ? 4 : 0, end = lanes == 8 ? hi : hi4;
    for (; lanes > 0 && ow < end; ow += lanes) {
        const int at = min(ow, end - lanes);
        float8 total = 0.0f;
        for (int h = h0; h < h1; h++) {
            __global const float *line = plane + (size_t)h * W;
            for (int kw = 0; kw < K; kw++) {
                if (lanes == 8) total += taps8(line, at * S - PL + kw, S);
                else total.lo += taps4(line, at * S - PL + kw, S);
            }
        }
        if (lanes == 8) vstore8(total * scale, 0, out + at);
        else vstore4(total.lo * scale, 0, out + at);
    }
    if (lanes > 0) ow = end;   // the loop may step past end
    for (; ow < OW; ow++) out[ow] = window_mean(plane, oh, ow, H, W, K, S, PT, PL);
}

// As avgpool_forward, R output rows of one (n, c) plane per work-item (a CPU variant,
// work-groups of one; several rows, so small planes are not one short work-item a row).
//   x: [N*C, H, W]   y: [N*C, OH, OW]
__kernel void avgpool_forward_rows(__global const float *x, __global float *y,
                                   const int NC, const int H, const int W, const int K, const int S,
                                   const int PT, const int PL, const int OH, const int OW, const int R) {
    const int first = get_global_id(0) * R;
    const int nc = get_global_id(1);
    if (first >= OH || nc >= NC) return;
    for (int oh = first; oh < min(first + R, OH); oh++)
        average_row(x + (size_t)nc * H * W, y + ((size_t)nc * OH + oh) * OW, oh, H, W, K, S, PT, PL, OW);
}
