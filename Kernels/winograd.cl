// Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, 2016) for 3 × 3 windows at
// stride 1. Each 2 × 2 block of outputs (a tile) is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, with d
// the tile's 4 × 4 input patch and g the 3 × 3 filter, so a layer becomes 16 GEMMs over
// the channels, M_ξ[O, T] = U_ξ[O, C] · V_ξ[C, T] for ξ < 16: 16 multiplies per 4 outputs
// and input channel where im2col + GEMM spends 36.
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]
// The tiles of a group of `count` images are numbered t = (n·TH + ty)·TW + tx, TH × TW
// tiles an image. CPU-style kernels: work-groups of one, a work-item walking one tile row
// 16 tiles at a time in float16 vectors.
// Host twin: Sources/Lumen/Ops/Winograd.swift.

// U[ξ, o, c] = (G g Gᵀ)[ξ] for g = weight[o, c]. With `flip` the input gradient's filters
// instead: U[ξ, c, o] from weight[o, c] turned by 180°.
//   weight: [O, C, 3, 3]   U: [16, O, C], or [16, C, O] with flip
__kernel void winograd_filter(__global const float *weight, __global float *u, const int O, const int C, const int flip) {
    const int c = get_global_id(0), o = get_global_id(1);
    if (c >= C || o >= O) return;
    __global const float *w = weight + ((size_t)o * C + c) * 9;
    float g[9];
    for (int i = 0; i < 9; i++) g[i] = w[flip ? 8 - i : i];
    float gg[4][3];          // G g
    for (int j = 0; j < 3; j++) {
        gg[0][j] = g[j];
        gg[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        gg[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        gg[3][j] = g[6 + j];
    }
    const size_t step = (size_t)O * C;
    __global float *at = u + (flip ? (size_t)c * O + o : (size_t)o * C + c);
    for (int i = 0; i < 4; i++) {
        at[(i * 4 + 0) * step] = gg[i][0];
        at[(i * 4 + 1) * step] = 0.5f * (gg[i][0] + gg[i][1] + gg[i][2]);
        at[(i * 4 + 2) * step] = 0.5f * (gg[i][0] - gg[i][1] + gg[i][2]);
        at[(i * 4 + 3) * step] = gg[i][2];
    }
}

// (Bᵀ d B) for 16 tiles at once, lane q holding tile q: e[i][j] from the patches d.
inline void input_transform16(float16 d[4][4], float16 e[4][4]) {
    float16 r[4][4];         // Bᵀ d: combine rows
    for (int j = 0; j < 4; j++) {
        r[0][j] = d[0][j] - d[2][j];
        r[1][j] = d[1][j] + d[2][j];
        r[2][j] = d[2][j] - d[1][j];
        r[3][j] = d[1][j] - d[3][j];
    }
    for (int i = 0; i < 4; i++) {   // · B: combine columns
        e[i][0] = r[i][0] - r[i][2];
        e[i][1] = r[i][1] + r[i][2];
        e[i][2] = r[i][2] - r[i][1];
        e[i][3] = r[i][1] - r[i][3];
    }
}

// V[ξ, c, t] = (Bᵀ d B)[ξ] for the tiles of images first … first + count − 1, d the 4 × 4
// patch at rows 2·ty − PT …, columns 2·tx − PL … of x, 0 outside the image.
//   x: [N, C, H, W]   V: [16, C, count·TH·TW]
// One work-item per (tile row ty, image n·C + channel c). Tiles whose patches lie inside
// the row go 16 at a time by vector loads (the last 16 overlapping the ones before);
// those overhanging an edge, and rows of fewer than 16 such tiles, one by one.
__kernel void winograd_input_rows(__global const float *x, __global float *v, const int first, const int count,
                                  const int C, const int H, const int W, const int PT, const int PL,
                                  const int TH, const int TW) {
    const int ty = get_global_id(0), nc = get_global_id(1);
    if (ty >= TH || nc >= count * C) return;
    const int n = nc / C, c = nc - n * C;
    const size_t T = (size_t)count * TH * TW, step = (size_t)C * T;
    __global const float *plane = x + ((size_t)(first + n) * C + c) * H * W;
    __global float *out = v + (size_t)c * T + ((size_t)n * TH + ty) * TW;
    const int top = 2 * ty - PT;
    // Tiles [lo, hi) read columns 2·tx − PL … 2·tx − PL + 3 inside [0, W).
    const int lo = min((PL + 1) / 2, TW);
    const int hi = W - 4 + PL >= 0 ? clamp((W - 4 + PL) / 2 + 1, lo, TW) : lo;
    float16 d[4][4], e[4][4];
    const uint16 even = (uint16)(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), odd = even + (uint16)1;
    if (hi - lo >= 16) {
        for (int chunk = lo; chunk < hi; chunk += 16) {
            const int tx = min(chunk, hi - 16);
            const int base = 2 * tx - PL;
            // The even and odd lanes of columns base … base + 31 and base + 2 … base + 33.
            for (int i = 0; i < 4; i++) {
                const int h = top + i;
                if (h < 0 || h >= H) {
                    for (int j = 0; j < 4; j++) d[i][j] = 0.0f;
                    continue;
                }
                __global const float *line = plane + (size_t)h * W + base;
                const float16 a = vload16(0, line), b = vload16(0, line + 16);
                const float16 a2 = vload16(0, line + 2), b2 = vload16(0, line + 18);
                d[i][0] = shuffle2(a, b, even);
                d[i][1] = shuffle2(a, b, odd);
                d[i][2] = shuffle2(a2, b2, even);
                d[i][3] = shuffle2(a2, b2, odd);
            }
            input_transform16(d, e);
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) vstore16(e[i][j], 0, out + (i * 4 + j) * step + tx);
            }
        }
    }
    for (int tx = 0; tx < TW; tx++) {
        if (hi - lo >= 16 && tx == lo) tx = hi;
        if (tx >= TW) break;
        const int left = 2 * tx - PL;
        for (int i = 0; i < 4; i++) {
            const int h = top + i;
            for (int j = 0; j < 4; j++) {
                const int w = left + j;
                d[i][j] = h >= 0 && h < H && w >= 0 && w < W ? plane[(size_t)h * W + w] : 0.0f;
            }
        }
        input_transform16(d, e);
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) out[(i * 4 + j) * step + tx] = e[i][j].s0;
        }
    }
}

// Aᵀ m A for 16 tiles at once: y[a][b] from the products m, each value then finished as
// the GEMM kernels finish theirs (epilogue bit 1 adds `shift`, 2 clamps at 0, 4 with it
// caps at 6).
inline void output_transform16(float16 m[4][4], float16 y[2][2], const float shift, const int epilogue) {
    float16 s[2][4];         // Aᵀ m: combine rows
    for (int j = 0; j < 4; j++) {
        s[0][j] = m[0][j] + m[1][j] + m[2][j];
        s[1][j] = m[1][j] - m[2][j] - m[3][j];
    }
    const float cap = epilogue & 4 ? 6.0f : INFINITY;
    for (int a = 0; a < 2; a++) {   // · A: combine columns
        y[a][0] = s[a][0] + s[a][1] + s[a][2] + shift;
        y[a][1] = s[a][1] - s[a][2] - s[a][3] + shift;
        if (epilogue & 2) {
            y[a][0] = fmin(fmax(y[a][0], 0.0f), cap);
            y[a][1] = fmin(fmax(y[a][1], 0.0f), cap);
        }
    }
}

// y[first + n, o, 2·ty + a, 2·tx + b] = (Aᵀ M_t A)[a, b] for the outputs inside OH × OW,
// with bias[o] and the activation (`output_transform16`).
//   M: [16, O, count·TH·TW]   y: [N, O, OH, OW]   bias: [O]
// One work-item per (tile row ty, image n·O + channel o). Tiles whose two columns are
// inside the row go 16 at a time (the last 16 overlapping the ones before), the columns
// of both interleaved into two vector stores; an odd width's last tile, and rows of
// fewer than 16 whole tiles, one by one.
__kernel void winograd_output_rows(__global const float *m, __global float *y, const int first, const int count,
                                   const int O, const int OH, const int OW, const int TH, const int TW,
                                   __global const float *bias, const int epilogue) {
    const int ty = get_global_id(0), no = get_global_id(1);
    if (ty >= TH || no >= count * O) return;
    const int n = no / O, o = no - n * O;
    const size_t T = (size_t)count * TH * TW, step = (size_t)O * T;
    __global const float *in = m + (size_t)o * T + ((size_t)n * TH + ty) * TW;
    __global float *plane = y + ((size_t)(first + n) * O + o) * OH * OW;
    const float shift = epilogue & 1 ? bias[o] : 0.0f;
    const int rows = min(2, OH - 2 * ty);
    const int whole = OW / 2;     // tiles with both columns inside
    float16 mm[4][4], out[2][2];
    if (whole >= 16) {
        const uint16 low = (uint16)(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const uint16 high = low + (uint16)8;
        for (int chunk = 0; chunk < whole; chunk += 16) {
            const int tx = min(chunk, whole - 16);
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) mm[i][j] = vload16(0, in + (i * 4 + j) * step + tx);
            }
            output_transform16(mm, out, shift, epilogue);
            for (int a = 0; a < rows; a++) {
                __global float *line = plane + (size_t)(2 * ty + a) * OW + 2 * tx;
                vstore16(shuffle2(out[a][0], out[a][1], low), 0, line);
                vstore16(shuffle2(out[a][0], out[a][1], high), 0, line + 16);
            }
        }
    }
    for (int tx = whole >= 16 ? whole : 0; tx < TW; tx++) {
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) mm[i][j] = in[(i * 4 + j) * step + tx];
        }
        output_transform16(mm, out, shift, epilogue);
        for (int a = 0; a < rows; a++) {
            __global float *line = plane + (size_t)(2 * ty + a) * OW + 2 * tx;
            line[0] = out[a][0].s0;
            if (2 * tx + 1 < OW) line[1] = out[a][1].s0;
        }
    }
}

// The first `lanes` (≤ 16) values of `value` stored at `to`.
inline void store_lanes(const float16 value, __global float *to, const int lanes) {
    if (lanes == 16) {
        vstore16(value, 0, to);
    } else {
        float values[16];
        vstore16(value, 0, values);
        for (int q = 0; q < lanes; q++) to[q] = values[q];
    }
}

// The same V as winograd_input_rows for planes of narrow rows: one work-item per image
// and channel walks the plane's tiles in order, 16 at a time across rows, gathering
// their patches (the tiles' transforms stay vector operations, their stores whole).
//   x: [N, C, H, W]   V: [16, C, count·TH·TW]
__kernel void winograd_input_planes(__global const float *x, __global float *v, const int first, const int count,
                                    const int C, const int H, const int W, const int PT, const int PL,
                                    const int TH, const int TW) {
    const int nc = get_global_id(0);
    if (nc >= count * C) return;
    const int n = nc / C, c = nc - n * C;
    const size_t T = (size_t)count * TH * TW, step = (size_t)C * T;
    __global const float *plane = x + ((size_t)(first + n) * C + c) * H * W;
    __global float *out = v + (size_t)c * T + (size_t)n * TH * TW;
    const int tiles = TH * TW;
    int ty = 0, tx = 0;
    for (int t0 = 0; t0 < tiles; t0 += 16) {
        float patches[16][16];    // [ξ = 4·i + j][lane]
        for (int q = 0; q < 16; q++) {
            const int top = 2 * ty - PT, left = 2 * tx - PL;
            const bool tile = t0 + q < tiles;
            for (int i = 0; i < 4; i++) {
                const int h = top + i;
                const bool row = tile && h >= 0 && h < H;
                for (int j = 0; j < 4; j++) {
                    const int w = left + j;
                    patches[i * 4 + j][q] = row && w >= 0 && w < W ? plane[(size_t)h * W + w] : 0.0f;
                }
            }
            if (++tx == TW) { tx = 0; ty++; }
        }
        float16 d[4][4], e[4][4];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) d[i][j] = vload16(0, patches[i * 4 + j]);
        }
        input_transform16(d, e);
        const int lanes = min(16, tiles - t0);
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                store_lanes(e[i][j], out + (i * 4 + j) * step + t0, lanes);
            }
        }
    }
}

// The same outputs as winograd_output_rows for planes of narrow rows: one work-item per
// image and output channel reads its tiles' products 16 at a time in order and scatters
// each tile's 2 × 2 outputs.
//   M: [16, O, count·TH·TW]   y: [N, O, OH, OW]   bias: [O]
__kernel void winograd_output_planes(__global const float *m, __global float *y, const int first, const int count,
                                     const int O, const int OH, const int OW, const int TH, const int TW,
                                     __global const float *bias, const int epilogue) {
    const int no = get_global_id(0);
    if (no >= count * O) return;
    const int n = no / O, o = no - n * O;
    const size_t T = (size_t)count * TH * TW, step = (size_t)O * T;
    __global const float *in = m + (size_t)o * T + (size_t)n * TH * TW;
    __global float *plane = y + ((size_t)(first + n) * O + o) * OH * OW;
    const float shift = epilogue & 1 ? bias[o] : 0.0f;
    const int tiles = TH * TW;
    int ty = 0, tx = 0;
    for (int t0 = 0; t0 < tiles; t0 += 16) {
        const int lanes = min(16, tiles - t0);
        float16 mm[4][4], out[2][2];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                __global const float *from = in + (i * 4 + j) * step + t0;
                if (lanes == 16) {
                    mm[i][j] = vload16(0, from);
                } else {
                    float values[16];
                    for (int q = 0; q < 16; q++) values[q] = q < lanes ? from[q] : 0.0f;
                    mm[i][j] = vload16(0, values);
                }
            }
        }
        output_transform16(mm, out, shift, epilogue);
        float values[2][2][16];
        for (int a = 0; a < 2; a++) {
            for (int b = 0; b < 2; b++) vstore16(out[a][b], 0, values[a][b]);
        }
        for (int q = 0; q < lanes; q++) {
            for (int a = 0; a < 2 && 2 * ty + a < OH; a++) {
                __global float *line = plane + (size_t)(2 * ty + a) * OW + 2 * tx;
                line[0] = values[a][0][q];
                if (2 * tx + 1 < OW) line[1] = values[a][1][q];
            }
            if (++tx == TW) { tx = 0; ty++; }
        }
    }
}

// dM[ξ, o, t] = (A dY_t Aᵀ)[ξ] for the tiles of images first … first + count − 1, dY_t
// the 2 × 2 block of dy at rows 2·ty …, columns 2·tx … (0 outside OH × OW): the weight
// gradient's counterpart of V, since dL/dU_ξ = Σ_t dM_ξ,t · V_ξ,t and dL/dg = Gᵀ dU G.
//   dy: [N, O, OH, OW]   dM: [16, O, count·TH·TW]
// One work-item per image and channel, 16 tiles at a time across rows.
__kernel void winograd_gradient_planes(__global const float *dy, __global float *dm, const int first, const int count,
                                       const int O, const int OH, const int OW, const int TH, const int TW) {
    const int no = get_global_id(0);
    if (no >= count * O) return;
    const int n = no / O, o = no - n * O;
    const size_t T = (size_t)count * TH * TW, step = (size_t)O * T;
    __global const float *plane = dy + ((size_t)(first + n) * O + o) * OH * OW;
    __global float *out = dm + (size_t)o * T + (size_t)n * TH * TW;
    const int tiles = TH * TW;
    int ty = 0, tx = 0;
    for (int t0 = 0; t0 < tiles; t0 += 16) {
        float blocks[4][16];      // [2·a + b][lane]
        for (int q = 0; q < 16; q++) {
            const bool tile = t0 + q < tiles;
            for (int a = 0; a < 2; a++) {
                for (int b = 0; b < 2; b++) {
                    const int row = 2 * ty + a, col = 2 * tx + b;
                    blocks[2 * a + b][q] = tile && row < OH && col < OW ? plane[(size_t)row * OW + col] : 0.0f;
                }
            }
            if (++tx == TW) { tx = 0; ty++; }
        }
        float16 r[4][2];          // A dY: A = [1 0; 1 1; 1 −1; 0 −1]
        for (int b = 0; b < 2; b++) {
            const float16 top = vload16(0, blocks[b]), bottom = vload16(0, blocks[2 + b]);
            r[0][b] = top;
            r[1][b] = top + bottom;
            r[2][b] = top - bottom;
            r[3][b] = -bottom;
        }
        const int lanes = min(16, tiles - t0);
        for (int i = 0; i < 4; i++) {
            float16 e[4];         // · Aᵀ
            e[0] = r[i][0];
            e[1] = r[i][0] + r[i][1];
            e[2] = r[i][0] - r[i][1];
            e[3] = -r[i][1];
            for (int j = 0; j < 4; j++) {
                store_lanes(e[j], out + (i * 4 + j) * step + t0, lanes);
            }
        }
    }
}

// dweight[o, c] = Gᵀ dU[·, o, c] G: the weight gradient from its 16 transformed sums.
//   dU: [16, O, C]   dweight: [O, C, 3, 3]
__kernel void winograd_filter_gradient(__global const float *du, __global float *dweight, const int O, const int C) {
    const int c = get_global_id(0), o = get_global_id(1);
    if (c >= C || o >= O) return;
    const size_t step = (size_t)O * C, at = (size_t)o * C + c;
    float u[4][4];
    for (int i = 0; i < 16; i++) u[i / 4][i % 4] = du[i * step + at];
    float t[3][4];           // Gᵀ dU
    for (int j = 0; j < 4; j++) {
        t[0][j] = u[0][j] + 0.5f * (u[1][j] + u[2][j]);
        t[1][j] = 0.5f * (u[1][j] - u[2][j]);
        t[2][j] = 0.5f * (u[1][j] + u[2][j]) + u[3][j];
    }
    __global float *w = dweight + at * 9;
    for (int k = 0; k < 3; k++) {   // · G
        w[k * 3 + 0] = t[k][0] + 0.5f * (t[k][1] + t[k][2]);
        w[k * 3 + 1] = 0.5f * (t[k][1] - t[k][2]);
        w[k * 3 + 2] = 0.5f * (t[k][1] + t[k][2]) + t[k][3];
    }
}
