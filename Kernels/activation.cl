// Activations. Every backward reads the forward's output y, never its input, so layers
// keep one tensor per activation. kind: 0 relu, 1 relu6, 2 leaky relu (alpha > 0),
// 3 sigmoid, 4 tanh, 5 linear.
// Host twin: Sources/Lumen/Ops/Activation.swift.

//   x, y: [n]
__kernel void activation_forward(__global const float *x, __global float *y,
                                 const int kind, const float alpha, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float v = x[i];
    float r;
    switch (kind) {
    case 0: r = fmax(v, 0.0f); break;
    case 1: r = fmin(fmax(v, 0.0f), 6.0f); break;
    case 2: r = v > 0.0f ? v : alpha * v; break;
    case 3: r = v >= 0.0f ? 1.0f / (1.0f + exp(-v)) : exp(v) / (1.0f + exp(v)); break;
    case 4: r = tanh(v); break;
    default: r = v;
    }
    y[i] = r;
}

//   y, dy, dx: [n]
__kernel void activation_backward(__global const float *y, __global const float *dy, __global float *dx,
                                  const int kind, const float alpha, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float v = y[i];
    float d;
    switch (kind) {
    case 0: d = v > 0.0f ? 1.0f : 0.0f; break;
    case 1: d = (v > 0.0f && v < 6.0f) ? 1.0f : 0.0f; break;
    case 2: d = v > 0.0f ? 1.0f : alpha; break;
    case 3: d = v * (1.0f - v); break;
    case 4: d = 1.0f - v * v; break;
    default: d = 1.0f;
    }
    dx[i] = d * dy[i];
}

// Row-wise softmax, stable.   x, y: [rows, cols]
__kernel void softmax_forward(__global const float *x, __global float *y, const int rows, const int cols) {
    const int r = get_global_id(0);
    if (r >= rows) return;
    __global const float *in = x + (size_t)r * cols;
    __global float *out = y + (size_t)r * cols;
    float top = in[0];
    for (int j = 1; j < cols; j++) top = fmax(top, in[j]);
    float total = 0.0f;
    for (int j = 0; j < cols; j++) { out[j] = exp(in[j] - top); total += out[j]; }
    for (int j = 0; j < cols; j++) out[j] /= total;
}

// dx = y * (dy - sum(dy * y)) per row.   y, dy, dx: [rows, cols]
__kernel void softmax_backward(__global const float *y, __global const float *dy, __global float *dx,
                               const int rows, const int cols) {
    const int r = get_global_id(0);
    if (r >= rows) return;
    const size_t base = (size_t)r * cols;
    float dot = 0.0f;
    for (int j = 0; j < cols; j++) dot += dy[base + j] * y[base + j];
    for (int j = 0; j < cols; j++) dx[base + j] = y[base + j] * (dy[base + j] - dot);
}
