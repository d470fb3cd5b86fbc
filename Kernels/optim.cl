// Optimizer updates, one fused kernel per parameter tensor. Learning rates arrive per
// step from the host, so callbacks can change them. Weight decay is decoupled, as in
// Keras 3: p -= lr * weight_decay * p before the update.
// Host twin: Sources/Lumen/Ops/OptimOps.swift.

// SGD (Keras): v = momentum * v - lr * g;  p += v, or p += momentum * v - lr * g (Nesterov).
//   p, g, velocity: [n]
__kernel void sgd_update(__global float *p, __global const float *g, __global float *velocity,
                         const float lr, const float momentum, const int nesterov,
                         const float weight_decay, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    float value = p[i] - lr * weight_decay * p[i];
    if (momentum == 0.0f) {
        value -= lr * g[i];
    } else {
        const float v = momentum * velocity[i] - lr * g[i];
        velocity[i] = v;
        value += nesterov ? momentum * v - lr * g[i] : v;
    }
    p[i] = value;
}

// Adam / AdamW (Keras): m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);
//   p -= alpha * m / (sqrt(v) + eps), alpha = lr * sqrt(1 - b2^t) / (1 - b1^t) from the host.
//   p, g, m, v: [n]
__kernel void adam_update(__global float *p, __global const float *g, __global float *m, __global float *v,
                          const float alpha, const float lr, const float beta1, const float beta2,
                          const float eps, const float weight_decay, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float grad = g[i];
    const float m1 = m[i] + (grad - m[i]) * (1.0f - beta1);
    const float v1 = v[i] + (grad * grad - v[i]) * (1.0f - beta2);
    m[i] = m1;
    v[i] = v1;
    const float decayed = p[i] - lr * weight_decay * p[i];
    p[i] = decayed - alpha * m1 / (sqrt(v1) + eps);
}
