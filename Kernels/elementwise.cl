// Elementwise ops over flat float arrays. One work-item per element; the global size is
// rounded up to whole work-groups, so every kernel checks `i < n`.
// Host twins: Sources/Lumen/Ops/Elementwise.swift; host references in Tests.

// x[i] = value                                   x: [n]
__kernel void fill(__global float *x, const float value, const int n) {
    const int i = get_global_id(0);
    if (i < n) x[i] = value;
}

// y[i] = a[i] + b[i], then with the GEMM kernels' epilogue bits: 2 clamps at 0 (ReLU),
// 4 with it caps at 6 (ReLU6).                   a, b, y: [n]
__kernel void add(__global const float *a, __global const float *b, __global float *y, const int n, const int epilogue) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float sum = a[i] + b[i];
    y[i] = epilogue & 2 ? fmin(fmax(sum, 0.0f), epilogue & 4 ? 6.0f : INFINITY) : sum;
}

// y[i] = alpha * x[i]                            x, y: [n]
__kernel void scale(__global const float *x, const float alpha, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = alpha * x[i];
}

// y[i] += alpha * x[i]                           x, y: [n]
__kernel void axpy(const float alpha, __global const float *x, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = fma(alpha, x[i], y[i]);
}

// y[i] = a[i] * b[i]                             a, b, y: [n]
__kernel void multiply(__global const float *a, __global const float *b, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = a[i] * b[i];
}

// y[i] = scale * x[i] + offset                   x, y: [n]
__kernel void affine(__global const float *x, const float scale, const float offset, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = fma(scale, x[i], offset);
}
