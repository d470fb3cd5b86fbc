// Sum over one axis. The input is viewed as [outer, length, inner] and the output as
// [outer, inner]; one work-item sums one output element in a fixed order, so results are
// the same on every run.
// Host twin: Sources/Lumen/Ops/Reduce.swift.

// y[o, i] = sum_l x[o, l, i]                     x: [outer, length, inner]  y: [outer, inner]
__kernel void sum_axis(__global const float *x, __global float *y,
                       const int outer, const int length, const int inner) {
    const int i = get_global_id(0);
    const int o = get_global_id(1);
    if (i >= inner || o >= outer) return;
    __global const float *row = x + (size_t)o * length * inner + i;
    float total = 0.0f;
    for (int l = 0; l < length; l++) total += row[(size_t)l * inner];
    y[(size_t)o * inner + i] = total;
}
