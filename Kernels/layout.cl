// Moving blocks of a tensor without arithmetic: channel slabs for concatenation and its
// backward, shifted windows for zero padding and cropping, swapped leading axes for
// convolutions over small planes. Unless a kernel says otherwise, one work-item per
// element written, its coordinates one per dimension of the launch (no divisions, and
// neighbouring work-items move neighbouring floats); the global size is rounded up to
// whole work-groups, so every kernel checks its bound.
// Host twin: Sources/Lumen/Ops/Layout.swift; host references in Tests.

// y[o, offset + r] = x[o, r]                     x: [outer, inner_x]  y: [outer, inner_y]
// (a concatenation's input placed at its offset along the axis after `outer`)
__kernel void put_slab(__global const float *x, __global float *y,
                       const int outer, const int inner_x, const int inner_y, const int offset) {
    const int r = get_global_id(0);
    const int o = get_global_id(1);
    if (r >= inner_x || o >= outer) return;
    y[(size_t)o * inner_y + offset + r] = x[(size_t)o * inner_x + r];
}

// to[i] = from[i] for i in [r, end), 16 floats at a time, then one by one.
inline void copy_floats(__global const float *from, __global float *to, int r, const int end) {
    for (; r + 16 <= end; r += 16) vstore16(vload16(0, from + r), 0, to + r);
    for (; r < end; r++) to[r] = from[r];
}

// put_slab for CPU-style devices: work-item (piece, o) moves floats
// [piece·run, (piece + 1)·run) of row o, 16 at a time.
__kernel void put_slab_rows(__global const float *x, __global float *y,
                            const int outer, const int inner_x, const int inner_y, const int offset, const int run) {
    const int piece = get_global_id(0);
    const int o = get_global_id(1);
    if (o >= outer) return;
    __global const float *from = x + (size_t)o * inner_x;
    __global float *to = y + (size_t)o * inner_y + offset;
    copy_floats(from, to, piece * run, min(inner_x, (piece + 1) * run));
}

// take_slab for CPU-style devices, as put_slab_rows.
__kernel void take_slab_rows(__global const float *y, __global float *x,
                             const int outer, const int inner_x, const int inner_y, const int offset, const int run) {
    const int piece = get_global_id(0);
    const int o = get_global_id(1);
    if (o >= outer) return;
    __global const float *from = y + (size_t)o * inner_y + offset;
    __global float *to = x + (size_t)o * inner_x;
    copy_floats(from, to, piece * run, min(inner_x, (piece + 1) * run));
}

// x[o, r] = y[o, offset + r]                     y: [outer, inner_y]  x: [outer, inner_x]
// (one input's share of a concatenation's gradient)
__kernel void take_slab(__global const float *y, __global float *x,
                        const int outer, const int inner_x, const int inner_y, const int offset) {
    const int r = get_global_id(0);
    const int o = get_global_id(1);
    if (r >= inner_x || o >= outer) return;
    x[(size_t)o * inner_x + r] = y[(size_t)o * inner_y + offset + r];
}

// y[b, a, r] = x[a, b, r]: the two leading axes swapped, runs of R floats moved whole,
// one (a, b) run per work-item, 16 floats at a time (for CPU-style devices; a GEMM over
// images side by side turned back into one block per image, and the reverse).
//   x: [A, B, R] from x_off   y: [B, A, R] from y_off
__kernel void swap_leading_rows(__global const float *x, const int x_off, __global float *y, const int y_off,
                                const int A, const int B, const int R) {
    const int a = get_global_id(0);
    const int b = get_global_id(1);
    if (a >= A || b >= B) return;
    __global const float *from = x + x_off + ((size_t)a * B + b) * R;
    __global float *to = y + y_off + ((size_t)b * A + a) * R;
    copy_floats(from, to, 0, R);
}

// y[p, v, u] = x[p, v + dy, u + dx], or 0 where that lies outside x
//                                                x: [planes, h, w]  y: [planes, oh, ow]
// Zero padding shifts by minus its top and left margins; cropping by plus them.
__kernel void shift_window(__global const float *x, __global float *y, const int planes,
                           const int h, const int w, const int oh, const int ow, const int dy, const int dx) {
    const int u = get_global_id(0);
    const int v = get_global_id(1);
    const int p = get_global_id(2);
    if (u >= ow || v >= oh || p >= planes) return;
    const int sy = v + dy, sx = u + dx;
    y[((size_t)p * oh + v) * ow + u] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? x[((size_t)p * h + sy) * w + sx] : 0.0f;
}
