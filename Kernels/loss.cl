// Losses from logits, one work-item per sample. Each writes the sample's weighted loss
// and the gradient of the batch loss mean(sample losses) with respect to the logits.
// Targets arrive smoothed by the host; weight[n] is the class weight of sample n.
// Host twin: Sources/Lumen/Ops/LossOps.swift.

// Binary cross-entropy with sigmoid, averaged over the K outputs of a sample:
//   l = mean_k max(z,0) - z*t + log(1 + exp(-|z|))
//   z, t, grad: [N, K]   weight, loss: [N]
__kernel void bce_logits(__global const float *z, __global const float *t, __global const float *weight,
                         __global float *loss, __global float *grad, const int N, const int K) {
    const int n = get_global_id(0);
    if (n >= N) return;
    float total = 0.0f;
    for (int k = 0; k < K; k++) {
        const size_t i = (size_t)n * K + k;
        const float v = z[i];
        total += fmax(v, 0.0f) - v * t[i] + log1p(exp(-fabs(v)));
        const float s = v >= 0.0f ? 1.0f / (1.0f + exp(-v)) : exp(v) / (1.0f + exp(v));
        grad[i] = (s - t[i]) * weight[n] / (float)(N * K);
    }
    loss[n] = weight[n] * total / (float)K;
}

// Categorical cross-entropy with softmax: l = -sum_k t_k log softmax(z)_k.
//   z, t, grad: [N, K]   weight, loss: [N]
__kernel void cce_logits(__global const float *z, __global const float *t, __global const float *weight,
                         __global float *loss, __global float *grad, const int N, const int K) {
    const int n = get_global_id(0);
    if (n >= N) return;
    const size_t base = (size_t)n * K;
    float top = z[base];
    for (int k = 1; k < K; k++) top = fmax(top, z[base + k]);
    float total = 0.0f;
    for (int k = 0; k < K; k++) total += exp(z[base + k] - top);
    const float log_total = log(total);
    float l = 0.0f;
    for (int k = 0; k < K; k++) {
        const float log_p = z[base + k] - top - log_total;
        l -= t[base + k] * log_p;
        grad[base + k] = (exp(log_p) - t[base + k]) * weight[n] / (float)N;
    }
    loss[n] = weight[n] * l;
}
