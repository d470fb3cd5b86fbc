// Batch normalisation over [N, C, P] (P = H*W, or 1 after Dense). Statistics and the
// backward sums reduce per channel: within a work-group (GPU-style) or one plane-walking
// work-item per channel (CPU-style, _planes); elementwise kernels apply them, or on
// CPU-style devices the same work-item goes on to apply them to its channel
// (bn_forward_planes, bn_backward_planes) unless the sums are reduced across processes.
// Host twin: Sources/Lumen/Ops/BatchNorm.swift.

// A ReLU or ReLU6 that follows the normalisation can run inside these kernels (`act`:
// 0 none, 1 ReLU, 2 ReLU6): forward clamps the output, backward masks dy with the
// activation's derivative at the pre-activation z = xhat·gamma + beta, recomputed.
inline float activate(const float z, const int act) {
    return act == 0 ? z : (act == 1 ? fmax(z, 0.0f) : clamp(z, 0.0f, 6.0f));
}
inline float16 activate16(const float16 z, const int act) {
    return act == 0 ? z : (act == 1 ? fmax(z, 0.0f) : clamp(z, 0.0f, 6.0f));
}
// 1 where the activation passes the gradient (0 < z, and z < 6 for ReLU6), else 0.
inline float passes(const float z, const int act) {
    return (act == 0 || (z > 0.0f && (act == 1 || z < 6.0f))) ? 1.0f : 0.0f;
}
inline float16 passes16(const float16 z, const int act) {
    if (act == 0) return (float16)1.0f;
    float16 mask = select((float16)0.0f, (float16)1.0f, isgreater(z, (float16)0.0f));
    if (act == 2) mask *= select((float16)0.0f, (float16)1.0f, isless(z, (float16)6.0f));
    return mask;
}

// GPU-style reductions: one work-group per channel, its work-items summing strided
// parts of the channel's N·P values, then a tree in local memory. Launched with a
// power-of-two work-group of at most REDUCE_MAX work-items.
#define REDUCE_MAX 256

// The sum of every work-item's v, returned to all of them. scratch: [local size]
inline float group_sum(__local float *scratch, const float v) {
    const int lid = get_local_id(0), size = get_local_size(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = size / 2; stride > 0; stride >>= 1) {
        if (lid < stride) scratch[lid] += scratch[lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);  // everyone has read it before scratch is reused
    return total;
}

// mean[c], var[c]: biased batch statistics over N and P, two passes (the mean, then
// squared deviations from it).   x: [N, C, P]   one work-group per channel
__kernel void bn_statistics(__global const float *x, __global float *mean, __global float *variance,
                            const int N, const int C, const int P) {
    __local float scratch[REDUCE_MAX];
    const int c = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    const int count = N * P;
    float total = 0.0f;
    for (int j = lid; j < count; j += size) {
        const int n = j / P;
        total += x[((size_t)n * C + c) * P + (j - n * P)];
    }
    const float m = group_sum(scratch, total) / (float)count;
    float squares = 0.0f;
    for (int j = lid; j < count; j += size) {
        const int n = j / P;
        const float d = x[((size_t)n * C + c) * P + (j - n * P)] - m;
        squares += d * d;
    }
    const float v = group_sum(scratch, squares) / (float)count;
    if (lid == 0) {
        mean[c] = m;
        variance[c] = v;
    }
}

// y = gamma[c] * (x - mean[c]) / sqrt(var[c] + eps) + beta[c]; gamma is 1 when has_gamma is 0.
//   x, y: [N, C, P]   gamma, beta, mean, variance: [C]
__kernel void bn_normalize(__global const float *x, __global float *y,
                           __global const float *gamma, __global const float *beta,
                           __global const float *mean, __global const float *variance,
                           const float eps, const int has_gamma, const int act, const int C, const int P, const int total) {
    const int i = get_global_id(0);
    if (i >= total) return;
    const int c = (i / P) % C;
    const float scale = (has_gamma ? gamma[c] : 1.0f) * rsqrt(variance[c] + eps);
    y[i] = activate((x[i] - mean[c]) * scale + beta[c], act);
}

// running = momentum * running + (1 - momentum) * batch (Keras' convention).   all: [C]
__kernel void bn_update_running(__global float *running_mean, __global float *running_var,
                                __global const float *mean, __global const float *variance,
                                const float momentum, const int C) {
    const int c = get_global_id(0);
    if (c >= C) return;
    running_mean[c] = momentum * running_mean[c] + (1.0f - momentum) * mean[c];
    running_var[c] = momentum * running_var[c] + (1.0f - momentum) * variance[c];
}

// dbeta[c] = sum dy, dgamma[c] = sum dy * xhat.   x, dy: [N, C, P]   others: [C]
// One work-group per channel, as bn_statistics.
__kernel void bn_backward_reduce(__global const float *x, __global const float *dy,
                                 __global const float *mean, __global const float *variance,
                                 __global const float *gamma, __global const float *beta,
                                 __global float *dgamma, __global float *dbeta,
                                 const float eps, const int has_gamma, const int act, const int N, const int C, const int P) {
    __local float scratch[REDUCE_MAX];
    const int c = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    const float inv = rsqrt(variance[c] + eps), m = mean[c];
    const float g = has_gamma ? gamma[c] : 1.0f, b = beta[c];
    float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
    for (int j = lid; j < N * P; j += size) {
        const int n = j / P;
        const size_t at = ((size_t)n * C + c) * P + (j - n * P);
        const float xhat = (x[at] - m) * inv;
        const float d = dy[at] * passes(xhat * g + b, act);
        sum_dy += d;
        sum_dy_xhat += d * xhat;
    }
    const float total_dy = group_sum(scratch, sum_dy);
    const float total_dy_xhat = group_sum(scratch, sum_dy_xhat);
    if (lid == 0) {
        dbeta[c] = total_dy;
        dgamma[c] = total_dy_xhat;
    }
}

// Training-mode input gradient:
//   dx = gamma * inv / M * (M * dy - dbeta - xhat * dgamma), M = total (N * P, or the
//   count over every process when the statistics and sums were reduced across them).
// Inference-mode (frozen) input gradient, when training is 0: dx = gamma * inv * dy.
//   x, dy, dx: [N, C, P]   others: [C]
__kernel void bn_backward_data(__global const float *x, __global const float *dy, __global float *dx,
                               __global const float *gamma, __global const float *beta, __global const float *mean,
                               __global const float *variance, __global const float *dgamma,
                               __global const float *dbeta, const float eps, const int has_gamma, const int act,
                               const int training, const int N, const int C, const int P, const int total) {
    const int i = get_global_id(0);
    if (i >= N * C * P) return;
    const int c = (i / P) % C;
    const float inv = rsqrt(variance[c] + eps);
    const float g = has_gamma ? gamma[c] : 1.0f;
    const float xhat = (x[i] - mean[c]) * inv;
    const float d = dy[i] * passes(xhat * g + beta[c], act);
    if (!training) { dx[i] = g * inv * d; return; }
    const float M = (float)total;
    dx[i] = g * inv / M * (M * d - dbeta[c] - xhat * dgamma[c]);
}

// ---- CPU variants: one work-item walks whole planes with float16 vectors (launched with
// work-groups of one), the way PoCL's CPU device runs fastest. Same results as above up
// to the order of the sums.

// Σ of a float16's lanes.
inline float lane_sum(const float16 v) {
    const float8 a = v.lo + v.hi;
    const float4 b = a.lo + a.hi;
    return b.s0 + b.s1 + b.s2 + b.s3;
}

// Channel c's biased mean and variance over its N planes, two walks (the mean, then
// squared deviations from it).   x: [N, C, P]
inline void channel_statistics(__global const float *x, const int N, const int C, const int P, const int c, float *mean,
                               float *variance) {
    float16 vector_total = 0.0f;
    float total = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const float *row = x + ((size_t)n * C + c) * P;
        int i = 0;
        for (; i + 16 <= P; i += 16) vector_total += vload16(0, row + i);
        for (; i < P; i++) total += row[i];
    }
    const float m = (total + lane_sum(vector_total)) / (float)(N * P);
    float16 vector_squares = 0.0f;
    float squares = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const float *row = x + ((size_t)n * C + c) * P;
        int i = 0;
        for (; i + 16 <= P; i += 16) { const float16 d = vload16(0, row + i) - m; vector_squares = fma(d, d, vector_squares); }
        for (; i < P; i++) { const float d = row[i] - m; squares = fma(d, d, squares); }
    }
    *mean = m;
    *variance = (squares + lane_sum(vector_squares)) / (float)(N * P);
}

// One plane normalised: out = activate((in − m)·scale + b).
inline void normalize_plane(__global const float *in, __global float *out, const int P, const float m, const float scale,
                            const float b, const int act) {
    int i = 0;
    for (; i + 16 <= P; i += 16) vstore16(activate16((vload16(0, in + i) - m) * scale + b, act), 0, out + i);
    for (; i < P; i++) out[i] = activate((in[i] - m) * scale + b, act);
}

// As bn_statistics.   x: [N, C, P]   mean, variance: [C]
__kernel void bn_statistics_planes(__global const float *x, __global float *mean, __global float *variance,
                                   const int N, const int C, const int P) {
    const int c = get_global_id(0);
    if (c >= C) return;
    float m, v;
    channel_statistics(x, N, C, P, c, &m, &v);
    mean[c] = m;
    variance[c] = v;
}

// As bn_normalize, `per` consecutive (n, c) planes per work-item (several when planes
// are small, so each work-item has enough to do).   x, y: [N, C, P]   others: [C]
__kernel void bn_normalize_planes(__global const float *x, __global float *y,
                                  __global const float *gamma, __global const float *beta,
                                  __global const float *mean, __global const float *variance,
                                  const float eps, const int has_gamma, const int act, const int C, const int P, const int NC,
                                  const int per) {
    const int first = get_global_id(0) * per;
    for (int plane = first; plane < min(first + per, NC); plane++) {
        const int c = plane % C;
        const float scale = (has_gamma ? gamma[c] : 1.0f) * rsqrt(variance[c] + eps);
        normalize_plane(x + (size_t)plane * P, y + (size_t)plane * P, P, mean[c], scale, beta[c], act);
    }
}

// bn_statistics_planes and bn_normalize_planes in one work-item per channel: the
// channel's planes are walked three times (mean, deviations, output), the last two
// mostly from cache, where the two kernels read them from memory twice.
//   x, y: [N, C, P]   gamma, beta: [C]   ->  mean, variance: [C]
__kernel void bn_forward_planes(__global const float *x, __global float *y, __global const float *gamma,
                                __global const float *beta, __global float *mean, __global float *variance,
                                const float eps, const int has_gamma, const int act, const int N, const int C, const int P) {
    const int c = get_global_id(0);
    if (c >= C) return;
    float m, v;
    channel_statistics(x, N, C, P, c, &m, &v);
    mean[c] = m;
    variance[c] = v;
    const float scale = (has_gamma ? gamma[c] : 1.0f) * rsqrt(v + eps);
    for (int n = 0; n < N; n++) {
        const size_t base = ((size_t)n * C + c) * P;
        normalize_plane(x + base, y + base, P, m, scale, beta[c], act);
    }
}

// Channel c's Σ dy and Σ dy·xhat (dy through the fused activation's derivative).
inline void channel_sums(__global const float *x, __global const float *dy, const int N, const int C, const int P,
                         const int c, const float m, const float inv, const float gm, const float b, const int act,
                         float *sum_dy_out, float *sum_dy_xhat_out) {
    float16 vector_dy = 0.0f, vector_dy_xhat = 0.0f;
    float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
    for (int n = 0; n < N; n++) {
        const size_t base = ((size_t)n * C + c) * P;
        int i = 0;
        for (; i + 16 <= P; i += 16) {
            const float16 xhat = (vload16(0, x + base + i) - m) * inv;
            const float16 g = vload16(0, dy + base + i) * passes16(xhat * gm + b, act);
            vector_dy += g;
            vector_dy_xhat = fma(g, xhat, vector_dy_xhat);
        }
        for (; i < P; i++) {
            const float xhat = (x[base + i] - m) * inv;
            const float g = dy[base + i] * passes(xhat * gm + b, act);
            sum_dy += g;
            sum_dy_xhat = fma(g, xhat, sum_dy_xhat);
        }
    }
    *sum_dy_out = sum_dy + lane_sum(vector_dy);
    *sum_dy_xhat_out = sum_dy_xhat + lane_sum(vector_dy_xhat);
}

// One plane's input gradient (bn_backward_data's formulas; db, dg: the channel's sums, M
// their count).
inline void backward_plane(__global const float *x, __global const float *dy, __global float *dx, const int P,
                           const float m, const float inv, const float g, const float b, const int act, const int training,
                           const float M, const float db, const float dg) {
    int i = 0;
    if (!training) {
        for (; i + 16 <= P; i += 16) {
            const float16 xhat = (vload16(0, x + i) - m) * inv;
            vstore16(g * inv * vload16(0, dy + i) * passes16(xhat * g + b, act), 0, dx + i);
        }
        for (; i < P; i++) dx[i] = g * inv * dy[i] * passes((x[i] - m) * inv * g + b, act);
        return;
    }
    for (; i + 16 <= P; i += 16) {
        const float16 xhat = (vload16(0, x + i) - m) * inv;
        const float16 d = vload16(0, dy + i) * passes16(xhat * g + b, act);
        vstore16(g * inv / M * (M * d - db - xhat * dg), 0, dx + i);
    }
    for (; i < P; i++) {
        const float xhat = (x[i] - m) * inv;
        dx[i] = g * inv / M * (M * dy[i] * passes(xhat * g + b, act) - db - xhat * dg);
    }
}

// As bn_backward_reduce.   x, dy: [N, C, P]   others: [C]
__kernel void bn_backward_reduce_planes(__global const float *x, __global const float *dy,
                                        __global const float *mean, __global const float *variance,
                                        __global const float *gamma, __global const float *beta,
                                        __global float *dgamma, __global float *dbeta,
                                        const float eps, const int has_gamma, const int act, const int N, const int C, const int P) {
    const int c = get_global_id(0);
    if (c >= C) return;
    float sum_dy, sum_dy_xhat;
    channel_sums(x, dy, N, C, P, c, mean[c], rsqrt(variance[c] + eps), has_gamma ? gamma[c] : 1.0f, beta[c], act,
                 &sum_dy, &sum_dy_xhat);
    dbeta[c] = sum_dy;
    dgamma[c] = sum_dy_xhat;
}

// As bn_backward_data, one (n, c) plane per work-item.   x, dy, dx: [N, C, P]   others: [C]
__kernel void bn_backward_data_planes(__global const float *x, __global const float *dy, __global float *dx,
                                      __global const float *gamma, __global const float *beta, __global const float *mean,
                                      __global const float *variance, __global const float *dgamma,
                                      __global const float *dbeta, const float eps, const int has_gamma, const int act,
                                      const int training, const int N, const int C, const int P, const int total) {
    const int plane = get_global_id(0);
    if (plane >= N * C) return;
    const int c = plane % C;
    const size_t base = (size_t)plane * P;
    backward_plane(x + base, dy + base, dx + base, P, mean[c], rsqrt(variance[c] + eps), has_gamma ? gamma[c] : 1.0f,
                   beta[c], act, training, (float)total, training ? dbeta[c] : 0.0f, training ? dgamma[c] : 0.0f);
}

// bn_backward_reduce_planes and bn_backward_data_planes in one work-item per channel
// (this process's sums, M = N·P): the second walk over x and dy mostly from cache.
//   x, dy, dx: [N, C, P]   others: [C]
__kernel void bn_backward_planes(__global const float *x, __global const float *dy, __global float *dx,
                                 __global const float *mean, __global const float *variance,
                                 __global const float *gamma, __global const float *beta,
                                 __global float *dgamma, __global float *dbeta,
                                 const float eps, const int has_gamma, const int act, const int training,
                                 const int N, const int C, const int P) {
    const int c = get_global_id(0);
    if (c >= C) return;
    const float m = mean[c], inv = rsqrt(variance[c] + eps), g = has_gamma ? gamma[c] : 1.0f, b = beta[c];
    float sum_dy, sum_dy_xhat;
    channel_sums(x, dy, N, C, P, c, m, inv, g, b, act, &sum_dy, &sum_dy_xhat);
    dbeta[c] = sum_dy;
    dgamma[c] = sum_dy_xhat;
    for (int n = 0; n < N; n++) {
        const size_t base = ((size_t)n * C + c) * P;
        backward_plane(x + base, dy + base, dx + base, P, m, inv, g, b, act, training, (float)(N * P), sum_dy, sum_dy_xhat);
    }
}
