// Inverted dropout with a counter-based generator: the mask is a pure function of
// (seed, index), so a run is reproducible on any device and needs no state.
// Host twin: Sources/Lumen/Ops/Dropout.swift.

// The same 32-bit mix on host and device (lowbias32 by Chris Wellons).
inline uint mix32(uint x) {
    x ^= x >> 16; x *= 0x7feb352dU;
    x ^= x >> 15; x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

// mask[i] = 1/(1-rate) when kept, else 0;  y = x * mask.   x, y, mask: [n]
__kernel void dropout_forward(__global const float *x, __global float *y, __global float *mask,
                              const uint seed, const float rate, const int n, const int offset) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const uint r = mix32((uint)(i + offset) ^ mix32(seed));
    const float u = (float)(r >> 8) * (1.0f / 16777216.0f);
    const float keep = u >= rate ? 1.0f / (1.0f - rate) : 0.0f;
    mask[i] = keep;
    y[i] = x[i] * keep;
}

// dx = dy * mask.   dy, mask, dx: [n]
__kernel void multiply(__global const float *a, __global const float *b, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = a[i] * b[i];
}
