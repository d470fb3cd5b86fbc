// Batched matrix transpose.
// Host twin: Sources/Lumen/Ops/Transpose.swift.

// y[b, c, r] = x[b, r, c]                        x: [batch, rows, cols]  y: [batch, cols, rows]
__kernel void transpose(__global const float *x, __global float *y,
                        const int batch, const int rows, const int cols) {
    const int c = get_global_id(0);
    const int br = get_global_id(1);
    if (c >= cols || br >= batch * rows) return;
    const int b = br / rows;
    const int r = br - b * rows;
    y[((size_t)b * cols + c) * rows + r] = x[(size_t)br * cols + c];
}
