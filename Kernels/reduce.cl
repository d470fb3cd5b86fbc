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

// The same sum for inner == 1 on CPU devices: one work-item per row (work-groups of
// one), sixteen lanes at a time, then the lanes in a fixed order.
//   x: [outer, length]  y: [outer]
__kernel void sum_rows(__global const float *x, __global float *y, const int outer, const int length) {
    const int o = get_global_id(0);
    if (o >= outer) return;
    __global const float *row = x + (size_t)o * length;
    float16 lanes = 0.0f;
    int l = 0;
    for (; l + 16 <= length; l += 16) lanes += vload16(0, row + l);
    float total = 0.0f;
    for (; l < length; l++) total += row[l];
    const float8 halves = lanes.lo + lanes.hi;
    const float4 quarters = halves.lo + halves.hi;
    y[o] = total + (quarters.s0 + quarters.s1) + (quarters.s2 + quarters.s3);
}

// The same sum for inner == 1 on GPUs: one work-group per row, its work-items summing
// strided parts of the row, then a tree in local memory. Launched with power-of-two
// work-groups of at most 256, one per row.   x: [outer, length]  y: [outer]
__kernel void sum_rows_group(__global const float *x, __global float *y, const int outer, const int length) {
    __local float scratch[256];
    const int o = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    if (o >= outer) return;   // a whole group leaves: no barrier is left waiting
    __global const float *row = x + (size_t)o * length;
    float total = 0.0f;
    for (int l = lid; l < length; l += size) total += row[l];
    scratch[lid] = total;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = size / 2; stride > 0; stride >>= 1) {
        if (lid < stride) scratch[lid] += scratch[lid + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) y[o] = scratch[0];
}
