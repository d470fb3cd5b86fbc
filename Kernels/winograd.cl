// Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, 2016) for 3 × 3 windows at
// stride 1. Each 2 × 2 block of outputs (a tile) is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, with d
// the tile's 4 × 4 input patch and g the 3 × 3 filter, so a layer becomes 16 GEMMs over
// the channels, M_ξ[O, T] = U_ξ[O, C] · V_ξ[C, T] for ξ < 16: 16 multiplies per 4 outputs
// and input channel where im2col + GEMM spends 36.
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]
// The tiles of a group of `count` images are numbered t = (n·TH + ty)·TW + tx, TH × TW
// tiles an image. CPU-style kernels: work-groups of one, a work-item walking one tile row
// (or, for narrow rows, a run of a channel's tiles across the group's planes) 16 tiles at
// a time in float16 vectors. F(4×4, 3×3) (below) makes 4 × 4 outputs from 36 points, in
// all three passes.
// Host twin: Sources/Lumen/Ops/Winograd.swift.

// The 3 × 3 filters of 16 consecutive others (c, or o with flip) beside `lead` (o, or c
// with flip), turned by 180° with `flip`: tap i of lane q in g[i]. Lanes from `lanes` on
// repeat the last filter (their transforms are not stored).
inline void load_filters16(__global const float *weight, const int C, const int lead, const int other0, const int lanes,
                           const int flip, float16 *g) {
    float taps[9 * 16];      // [i·16 + lane]
    for (int q = 0; q < 16; q++) {
        const int other = other0 + min(q, lanes - 1);
        __global const float *w = weight + ((size_t)(flip ? other : lead) * C + (flip ? lead : other)) * 9;
        for (int i = 0; i < 9; i++) taps[i * 16 + q] = w[flip ? 8 - i : i];
    }
    for (int i = 0; i < 9; i++) g[i] = vload16(i, taps);
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

// F(2×2)'s 16 values G g Gᵀ of 16 filters (`load_filters16`), the first `lanes` stored
// at at + ξ·step.
inline void filter_tiles2(const float16 *g, __global float *at, const size_t step, const int lanes) {
    float16 gg[4][3];        // G g
    for (int j = 0; j < 3; j++) {
        gg[0][j] = g[j];
        gg[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        gg[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        gg[3][j] = g[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        store_lanes(gg[i][0], at + (i * 4 + 0) * step, lanes);
        store_lanes(0.5f * (gg[i][0] + gg[i][1] + gg[i][2]), at + (i * 4 + 1) * step, lanes);
        store_lanes(0.5f * (gg[i][0] - gg[i][1] + gg[i][2]), at + (i * 4 + 2) * step, lanes);
        store_lanes(gg[i][2], at + (i * 4 + 3) * step, lanes);
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

// A transformed output finished as the GEMM kernels finish theirs: plus `shift` (the
// bias, or 0), then with epilogue bit 2 clamped at 0, and with bit 4 also capped at 6.
inline float16 finish_output16(const float16 value, const float shift, const int epilogue) {
    const float16 shifted = value + shift;
    return epilogue & 2 ? fmin(fmax(shifted, 0.0f), epilogue & 4 ? 6.0f : INFINITY) : shifted;
}

// Aᵀ m A for 16 tiles at once: y[a][b] from the products m, each value finished
// (`finish_output16`).
inline void output_transform16(float16 m[4][4], float16 y[2][2], const float shift, const int epilogue) {
    float16 s[2][4];         // Aᵀ m: combine rows
    for (int j = 0; j < 4; j++) {
        s[0][j] = m[0][j] + m[1][j] + m[2][j];
        s[1][j] = m[1][j] - m[2][j] - m[3][j];
    }
    for (int a = 0; a < 2; a++) {   // · A: combine columns
        y[a][0] = finish_output16(s[a][0] + s[a][1] + s[a][2], shift, epilogue);
        y[a][1] = finish_output16(s[a][1] - s[a][2] - s[a][3], shift, epilogue);
    }
}

// The next tile in tile order over consecutive images: (ty, tx) of a TH × TW grid, then
// image *n + 1's first.
inline void next_tile(const int TH, const int TW, int *n, int *ty, int *tx) {
    if (++*tx < TW) return;
    *tx = 0;
    if (++*ty < TH) return;
    *ty = 0;
    (*n)++;
}

// The size × size patches of 16 tiles in tile order from tile (*ty, *tx) of image *n
// (its H × W plane at planes + n·image_step, TH × TW tiles), tile (ty, tx) starting at
// (stride·ty − PT, stride·tx − PL); cells outside the plane, and lanes from `lanes` on,
// are 0. (*n, *ty, *tx) move past the 16 tiles.
//   patches: [(i·size + j)·16 + lane]
inline void gather_patches16(__global const float *planes, const size_t image_step, const int H, const int W,
                             const int PT, const int PL, const int TH, const int TW, const int lanes, const int size,
                             const int stride, int *n, int *ty, int *tx, float *patches) {
    for (int q = 0; q < 16; q++) {
        const int top = stride * *ty - PT, left = stride * *tx - PL;
        __global const float *plane = planes + (size_t)*n * image_step;
        for (int i = 0; i < size; i++) {
            const int h = top + i;
            const bool row = q < lanes && h >= 0 && h < H;
            for (int j = 0; j < size; j++) {
                const int w = left + j;
                patches[(i * size + j) * 16 + q] = row && w >= 0 && w < W ? plane[(size_t)h * W + w] : 0.0f;
            }
        }
        next_tile(TH, TW, n, ty, tx);
    }
}

// 16 lanes from `from`, those from `lanes` on 0 (not read).
inline float16 load_lanes(__global const float *from, const int lanes) {
    if (lanes == 16) return vload16(0, from);
    float values[16];
    for (int q = 0; q < 16; q++) values[q] = q < lanes ? from[q] : 0.0f;
    return vload16(0, values);
}

// The size × size outputs of the first `lanes` of 16 tiles in tile order from tile
// (*ty, *tx) of image *n (its OH × OW plane at planes + n·image_step, TH × TW tiles),
// those inside the plane stored. (*n, *ty, *tx) move past the tiles.
//   values: [(a·size + b)·16 + lane]
inline void scatter_tiles16(const float *values, __global float *planes, const size_t image_step, const int OH,
                            const int OW, const int TH, const int TW, const int lanes, const int size, int *n, int *ty,
                            int *tx) {
    for (int q = 0; q < lanes; q++) {
        __global float *plane = planes + (size_t)*n * image_step;
        for (int a = 0; a < size && size * *ty + a < OH; a++) {
            __global float *line = plane + (size_t)(size * *ty + a) * OW + size * *tx;
            for (int b = 0; b < size && size * *tx + b < OW; b++) line[b] = values[(a * size + b) * 16 + q];
        }
        next_tile(TH, TW, n, ty, tx);
    }
}

// F(2×2)'s Gᵀ dU G of one filter from its 16 sums at du + ξ·step, stored at w.
inline void filter_gradient_tile2(__global const float *du, const size_t step, __global float *w) {
    float u[4][4];
    for (int i = 0; i < 16; i++) u[i / 4][i % 4] = du[i * step];
    float t[3][4];           // Gᵀ dU
    for (int j = 0; j < 4; j++) {
        t[0][j] = u[0][j] + 0.5f * (u[1][j] + u[2][j]);
        t[1][j] = 0.5f * (u[1][j] - u[2][j]);
        t[2][j] = 0.5f * (u[1][j] + u[2][j]) + u[3][j];
    }
    for (int k = 0; k < 3; k++) {   // · G
        w[k * 3 + 0] = t[k][0] + 0.5f * (t[k][1] + t[k][2]);
        w[k * 3 + 1] = 0.5f * (t[k][1] - t[k][2]);
        w[k * 3 + 2] = 0.5f * (t[k][1] + t[k][2]) + t[k][3];
    }
}

// ---- F(4×4, 3×3) ------------------------------------------------------------------
// 36 points (0, ±1, ±2, ∞) per 6 × 6 input tile, 4 × 4 outputs per tile: 36 multiplies
// where im2col spends 144 and F(2×2, 3×3) 64. The transforms, as matrices:
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//   G  = [1/4 0 0; −1/6 −1/6 −1/6; −1/6 1/6 −1/6; 1/24 1/12 1/6; 1/24 −1/12 1/6; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
// Point ξ = 6·i + j is entry (i, j) of Bᵀ d B, G g Gᵀ and the product the GEMMs form.
// Transforms on float16 vectors, 16 tiles at a time: along one tile row of a wide map,
// else across a whole plane in tile order (rows of tiles one after another), lanes
// gathered with bounds checks.

// G g, one column of three taps to six.
inline void filter_column6(const float16 g0, const float16 g1, const float16 g2, float16 *u) {
    u[0] = 0.25f * g0;
    u[1] = -(g0 + g1 + g2) / 6.0f;
    u[2] = -(g0 - g1 + g2) / 6.0f;
    u[3] = g0 / 24.0f + g1 / 12.0f + g2 / 6.0f;
    u[4] = g0 / 24.0f - g1 / 12.0f + g2 / 6.0f;
    u[5] = g2;
}

// F(4×4)'s 36 values G g Gᵀ of 16 filters (`load_filters16`), the first `lanes` stored
// at at + ξ·step.
inline void filter_tiles4(const float16 *g, __global float *at, const size_t step, const int lanes) {
    float16 gg[3][6];        // (G g)ᵀ: gg[j][i] = (G g)[i][j]
    for (int j = 0; j < 3; j++) filter_column6(g[j], g[3 + j], g[6 + j], gg[j]);
    for (int i = 0; i < 6; i++) {
        float16 row[6];
        filter_column6(gg[0][i], gg[1][i], gg[2][i], row);
        for (int j = 0; j < 6; j++) store_lanes(row[j], at + (i * 6 + j) * step, lanes);
    }
}

// Bᵀ applied to six values (a row or a column of a tile).
inline void input_transform6(const float16 d0, const float16 d1, const float16 d2, const float16 d3, const float16 d4,
                             const float16 d5, float16 *r) {
    r[0] = fma(4.0f, d0, fma(-5.0f, d2, d4));
    r[1] = fma(-4.0f, d1 + d2, d3 + d4);
    r[2] = fma(4.0f, d1 - d2, d4 - d3);
    r[3] = fma(2.0f, d3 - d1, d4 - d2);
    r[4] = fma(2.0f, d1 - d3, d4 - d2);
    r[5] = fma(4.0f, d1, fma(-5.0f, d3, d5));
}

// Aᵀ applied to six values.
inline void output_transform6(const float16 m0, const float16 m1, const float16 m2, const float16 m3, const float16 m4,
                              const float16 m5, float16 *r) {
    const float16 sum12 = m1 + m2, diff12 = m1 - m2, sum34 = m3 + m4, diff34 = m3 - m4;
    r[0] = m0 + sum12 + sum34;
    r[1] = fma(2.0f, diff34, diff12);
    r[2] = fma(4.0f, sum34, sum12);
    r[3] = fma(8.0f, diff34, diff12) + m5;
}

// A applied to four values (a row or a column of a block of dy): A = (Aᵀ)ᵀ, six rows.
inline void gradient_transform6(const float16 y0, const float16 y1, const float16 y2, const float16 y3, float16 *r) {
    const float16 sum02 = y0 + y2, sum13 = y1 + y3;
    r[0] = y0;
    r[1] = sum02 + sum13;
    r[2] = sum02 - sum13;
    r[3] = fma(2.0f, fma(4.0f, y3, y1), fma(4.0f, y2, y0));
    r[4] = fma(-2.0f, fma(4.0f, y3, y1), fma(4.0f, y2, y0));
    r[5] = y3;
}

// Gᵀ applied to six values: three.
inline void filter_gradient_column3(const float *u, float *t) {
    t[0] = 0.25f * u[0] - (u[1] + u[2]) / 6.0f + (u[3] + u[4]) / 24.0f;
    t[1] = (u[2] - u[1]) / 6.0f + (u[3] - u[4]) / 12.0f;
    t[2] = -(u[1] + u[2]) / 6.0f + (u[3] + u[4]) / 6.0f + u[5];
}

// F(4×4)'s Gᵀ dU G of one filter from its 36 sums at du + ξ·step, stored at w.
inline void filter_gradient_tile4(__global const float *du, const size_t step, __global float *w) {
    float t[6][3];           // (dU G): each row of dU to three
    for (int i = 0; i < 6; i++) {
        float row[6];
        for (int j = 0; j < 6; j++) row[j] = du[(i * 6 + j) * step];
        filter_gradient_column3(row, t[i]);
    }
    for (int b = 0; b < 3; b++) {   // Gᵀ ·
        const float column[6] = {t[0][b], t[1][b], t[2][b], t[3][b], t[4][b], t[5][b]};
        float k[3];
        filter_gradient_column3(column, k);
        for (int a = 0; a < 3; a++) w[a * 3 + b] = k[a];
    }
}

// ---- Either tile ---------------------------------------------------------------------

// U[ξ, o, c] = (G g Gᵀ)[ξ] for g = weight[o, c]. With `flip` the input gradient's filters
// instead: U[ξ, c, o] from weight[o, c] turned by 180°. One work-item per row of U's
// matrices (o, or c with flip) walks along it 16 filters at a time, so its stores are
// whole vectors. `size`: the tile's outputs a side, 2 or 4.
//   weight: [O, C, 3, 3]   U: [(size + 2)², O, C], or [(size + 2)², C, O] with flip
__kernel void winograd_filter(__global const float *weight, __global float *u, const int O, const int C, const int flip,
                              const int size) {
    const int lead = get_global_id(0), leads = flip ? C : O, others = flip ? O : C;
    if (lead >= leads) return;
    const size_t step = (size_t)O * C;
    for (int other0 = 0; other0 < others; other0 += 16) {
        const int lanes = min(16, others - other0);
        float16 g[9];
        load_filters16(weight, C, lead, other0, lanes, flip, g);
        __global float *at = u + (size_t)lead * others + other0;
        if (size == 4) {
            filter_tiles4(g, at, step, lanes);
        } else {
            filter_tiles2(g, at, step, lanes);
        }
    }
}

// dweight[o, c] = Gᵀ dU[·, o, c] G: the weight gradient from its transformed sums.
//   dU: [(size + 2)², O, C]   dweight: [O, C, 3, 3]
__kernel void winograd_filter_gradient(__global const float *du, __global float *dweight, const int O, const int C,
                                       const int size) {
    const int c = get_global_id(0), o = get_global_id(1);
    if (c >= C || o >= O) return;
    const size_t step = (size_t)O * C, at = (size_t)o * C + c;
    if (size == 4) {
        filter_gradient_tile4(du + at, step, dweight + at * 9);
    } else {
        filter_gradient_tile2(du + at, step, dweight + at * 9);
    }
}

// Whole planes (runs of tiles across them; the input and dy kernels are at the end):

// F(2×2)'s 16 transformed values of 16 gathered 4 × 4 patches, stored at out + ξ·step.
inline void input_tiles2(const float *patches, __global float *out, const size_t step, const int lanes) {
    float16 d[4][4], e[4][4];
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) d[i][j] = vload16(0, patches + (i * 4 + j) * 16);
    }
    input_transform16(d, e);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) store_lanes(e[i][j], out + (i * 4 + j) * step, lanes);
    }
}

// F(4×4)'s 36 transformed values of 16 gathered 6 × 6 patches, stored at out + ξ·step.
inline void input_tiles4(const float *patches, __global float *out, const size_t step, const int lanes) {
    float16 rows[6][6];       // each row of the tiles transformed
    for (int i = 0; i < 6; i++) {
        const float *row = patches + i * 6 * 16;
        input_transform6(vload16(0, row), vload16(1, row), vload16(2, row), vload16(3, row), vload16(4, row),
                         vload16(5, row), rows[i]);
    }
    for (int j = 0; j < 6; j++) {
        float16 e[6];
        input_transform6(rows[0][j], rows[1][j], rows[2][j], rows[3][j], rows[4][j], rows[5][j], e);
        for (int i = 0; i < 6; i++) store_lanes(e[i], out + (i * 6 + j) * step, lanes);
    }
}

// Tiles [span·item, span·item + span) of a channel's count·TH·TW (clipped to them), as
// work-item (channel, item) of the plane kernels walks them: where it starts, in tile
// order over the images (image *n, tile (*ty, *tx)), and where it ends.
inline int tile_span(const int span, const int item, const int T, const int TH, const int TW, int *n, int *ty,
                     int *tx) {
    const int begin = span * item, tiles = TH * TW;
    *n = begin / tiles;
    const int rest = begin - *n * tiles;
    *ty = rest / TW;
    *tx = rest - *ty * TW;
    return min(T, begin + span);
}

// F(2×2)'s 2 × 2 outputs of 16 tiles from their products at in + ξ·step, finished.
inline void output_tiles2(__global const float *in, const size_t step, const int lanes, const float shift,
                          const int epilogue, float *values) {
    float16 mm[4][4], out[2][2];
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) mm[i][j] = load_lanes(in + (i * 4 + j) * step, lanes);
    }
    output_transform16(mm, out, shift, epilogue);
    for (int a = 0; a < 2; a++) {
        for (int b = 0; b < 2; b++) vstore16(out[a][b], a * 2 + b, values);
    }
}

// F(4×4)'s 4 × 4 outputs of 16 tiles from their products at in + ξ·step, finished.
inline void output_tiles4(__global const float *in, const size_t step, const int lanes, const float shift,
                          const int epilogue, float *values) {
    float16 rows[6][4];       // M A: each row of the tiles transformed
    for (int i = 0; i < 6; i++) {
        float16 mm[6];
        for (int j = 0; j < 6; j++) mm[j] = load_lanes(in + (i * 6 + j) * step, lanes);
        output_transform6(mm[0], mm[1], mm[2], mm[3], mm[4], mm[5], rows[i]);
    }
    for (int b = 0; b < 4; b++) {
        float16 column[4];
        output_transform6(rows[0][b], rows[1][b], rows[2][b], rows[3][b], rows[4][b], rows[5][b], column);
        for (int a = 0; a < 4; a++) vstore16(finish_output16(column[a], shift, epilogue), a * 4 + b, values);
    }
}

// y from M for planes of narrow rows (F(2×2); the same outputs as winograd_output_rows)
// and for every F(4×4) plane: work-item (o, item) reads output channel o's tiles
// span·item … 16 at a time in tile order across the group's images and scatters each
// tile's size × size outputs, with bias[o] and the activation (`finish_output16`), those
// inside OH × OW.
//   M: [(size + 2)², O, count·TH·TW]   y: [N, O, OH, OW]   bias: [O]
__kernel void winograd_output_planes(__global const float *m, __global float *y, const int first, const int count,
                                     const int O, const int OH, const int OW, const int TH, const int TW,
                                     __global const float *bias, const int epilogue, const int size, const int span) {
    const int o = get_global_id(0), item = get_global_id(1), T = count * TH * TW;
    if (o >= O || span * item >= T) return;
    const size_t step = (size_t)O * T;
    __global const float *in = m + (size_t)o * T;
    __global float *planes = y + ((size_t)first * O + o) * OH * OW;
    const float shift = epilogue & 1 ? bias[o] : 0.0f;
    int n, ty, tx;
    const int end = tile_span(span, item, T, TH, TW, &n, &ty, &tx);
    for (int t0 = span * item; t0 < end; t0 += 16) {
        const int lanes = min(16, end - t0);
        float values[16 * 16];    // [(a·size + b)·16 + lane]
        if (size == 4) {
            output_tiles4(in + t0, step, lanes, shift, epilogue, values);
        } else {
            output_tiles2(in + t0, step, lanes, shift, epilogue, values);
        }
        scatter_tiles16(values, planes, (size_t)O * OH * OW, OH, OW, TH, TW, lanes, size, &n, &ty, &tx);
    }
}

// Along tile rows (F(4×4)'s helpers first):

// 16 cells of a row from column `from` on, 0 outside [0, W): one vector load when all
// lie inside, else cell by cell (only the chunks at a row's ends).
inline float16 load_row16(__global const float *line, const int from, const int W) {
    if (from >= 0 && from + 16 <= W) return vload16(0, line + from);
    float cells[16];
    for (int l = 0; l < 16; l++) cells[l] = from + l >= 0 && from + l < W ? line[from + l] : 0.0f;
    return vload16(0, cells);
}

// The first tile of a row's chunk of 16 that starts at `chunk`: the last chunk moves
// back to end at the row's last tile (overlapping the one before) when the row holds 16.
inline int chunk_start(const int chunk, const int TW) { return TW >= 16 ? min(chunk, TW - 16) : 0; }

// Shuffle masks, as constants: PoCL turns shuffle2 with a computed mask into a loop over
// lanes through memory. FOURTHS_FROM0 takes every fourth of 32 cells into the low half
// and the cells one further into the high half; FOURTHS_FROM2 the same two cells on;
// LOW_HALVES and HIGH_HALVES join two vectors' low and high halves; EVEN_CELLS and
// ODD_CELLS take every second of 32 cells, from the first and from the second.
#define FOURTHS_FROM0 ((uint16)(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29))
#define FOURTHS_FROM2 ((uint16)(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31))
#define LOW_HALVES ((uint16)(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23))
#define HIGH_HALVES ((uint16)(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
#define EVEN_CELLS ((uint16)(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30))
#define ODD_CELLS ((uint16)(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31))

// Two columns of 16 tiles four cells apart, from 64 consecutive cells a … d: lane t of
// the first is cell 4t + j, of the second 4t + j + 1 (j = 0 with FOURTHS_FROM0, 2 with
// FOURTHS_FROM2), stored as two vectors at `to`.
inline void store_fourths(const float16 a, const float16 b, const float16 c, const float16 d, const uint16 pick,
                          float *to) {
    const float16 first = shuffle2(a, b, pick), second = shuffle2(c, d, pick);
    vstore16(shuffle2(first, second, LOW_HALVES), 0, to);
    vstore16(shuffle2(first, second, HIGH_HALVES), 1, to);
}

// F(4×4)'s V for tile row ty (winograd_input_rows with size 4), 16 tiles at a time: each
// patch row's 66 columns read as vectors from the first cell and from the third
// (`load_row16`, zero past the image's edges), every fourth column picked out by
// shuffles.
inline void input_row4(__global const float *plane, __global float *out, const size_t step, const int ty,
                       const int H, const int W, const int PT, const int PL, const int TW) {
    const int top = 4 * ty - PT;
    float patches[36 * 16];   // [(i·6 + j)·16 + lane]
    for (int chunk = 0; chunk < TW; chunk += 16) {
        const int tx = chunk_start(chunk, TW), left = 4 * tx - PL;
        for (int i = 0; i < 6; i++) {
            const int h = top + i;
            float *row = patches + i * 6 * 16;
            if (h < 0 || h >= H) {
                for (int j = 0; j < 6; j++) vstore16((float16)(0.0f), j, row);
                continue;
            }
            // Lane t of column j is line[left + 4t + j]: columns 0–3 from the cells at
            // left, 4 and 5 from those two further on (columns 2 and 3 of that run).
            __global const float *line = plane + (size_t)h * W;
            const float16 a = load_row16(line, left, W), b = load_row16(line, left + 16, W);
            const float16 c = load_row16(line, left + 32, W), d = load_row16(line, left + 48, W);
            const float16 a2 = load_row16(line, left + 2, W), b2 = load_row16(line, left + 18, W);
            const float16 c2 = load_row16(line, left + 34, W), d2 = load_row16(line, left + 50, W);
            store_fourths(a, b, c, d, FOURTHS_FROM0, row);
            store_fourths(a, b, c, d, FOURTHS_FROM2, row + 2 * 16);
            store_fourths(a2, b2, c2, d2, FOURTHS_FROM2, row + 4 * 16);
        }
        input_tiles4(patches, out + tx, step, min(16, TW - tx));
    }
}

// F(4×4)'s outputs of tile row ty (winograd_output_rows with size 4): 16 tiles at a time
// (`chunk_start`), each output row's 64 columns stored a tile (4 values) at a time where
// all four lie inside the row, else cell by cell.
inline void output_row4(__global const float *in, const size_t step, __global float *plane, const int ty, const int OH,
                        const int OW, const int TW, const float shift, const int epilogue) {
    const int rows = min(4, OH - 4 * ty);
    float values[16 * 16];    // [(a·4 + b)·16 + lane]
    for (int chunk = 0; chunk < TW; chunk += 16) {
        const int tx = chunk_start(chunk, TW), lanes = min(16, TW - tx);
        output_tiles4(in + tx, step, lanes, shift, epilogue, values);
        for (int a = 0; a < rows; a++) {
            __global float *line = plane + (size_t)(4 * ty + a) * OW + 4 * tx;
            for (int q = 0; q < lanes; q++) {
                if (4 * (tx + q) + 4 <= OW) {
                    vstore4((float4)(values[(a * 4) * 16 + q], values[(a * 4 + 1) * 16 + q], values[(a * 4 + 2) * 16 + q],
                                     values[(a * 4 + 3) * 16 + q]), q, line);
                } else {
                    for (int b = 0; b < OW - 4 * (tx + q); b++) line[4 * q + b] = values[(a * 4 + b) * 16 + q];
                }
            }
        }
    }
}

// V[ξ, c, t] = (Bᵀ d B)[ξ] for the tiles of images first … first + count − 1, d the 4 × 4
// patch at rows 2·ty − PT …, columns 2·tx − PL … of x, 0 outside the image.
//   x: [N, C, H, W]   V: [16, C, count·TH·TW]
// One work-item per (tile row ty, image n·C + channel c). The row's tiles go 16 at a
// time by vector loads (`chunk_start`; cells past the image's edges read one by one as
// zeros, `load_row16`). With size 4, F(4×4)'s V instead ([36, C, count·TH·TW],
// `input_row4`).
__kernel void winograd_input_rows(__global const float *x, __global float *v, const int first, const int count,
                                  const int C, const int H, const int W, const int PT, const int PL,
                                  const int TH, const int TW, const int size) {
    const int ty = get_global_id(0), nc = get_global_id(1);
    if (ty >= TH || nc >= count * C) return;
    const int n = nc / C, c = nc - n * C;
    const size_t T = (size_t)count * TH * TW, step = (size_t)C * T;
    __global const float *plane = x + ((size_t)(first + n) * C + c) * H * W;
    __global float *out = v + (size_t)c * T + ((size_t)n * TH + ty) * TW;
    if (size == 4) {
        input_row4(plane, out, step, ty, H, W, PT, PL, TW);
        return;
    }
    const int top = 2 * ty - PT;
    float16 d[4][4], e[4][4];
    for (int chunk = 0; chunk < TW; chunk += 16) {
        const int tx = chunk_start(chunk, TW), left = 2 * tx - PL;
        // The even and odd lanes of columns left … left + 31 and left + 2 … left + 33.
        for (int i = 0; i < 4; i++) {
            const int h = top + i;
            if (h < 0 || h >= H) {
                for (int j = 0; j < 4; j++) d[i][j] = 0.0f;
                continue;
            }
            __global const float *line = plane + (size_t)h * W;
            const float16 a = load_row16(line, left, W), b = load_row16(line, left + 16, W);
            const float16 a2 = load_row16(line, left + 2, W), b2 = load_row16(line, left + 18, W);
            d[i][0] = shuffle2(a, b, EVEN_CELLS);
            d[i][1] = shuffle2(a, b, ODD_CELLS);
            d[i][2] = shuffle2(a2, b2, EVEN_CELLS);
            d[i][3] = shuffle2(a2, b2, ODD_CELLS);
        }
        input_transform16(d, e);
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) store_lanes(e[i][j], out + (i * 4 + j) * step + tx, min(16, TW - tx));
        }
    }
}

// y[first + n, o, 2·ty + a, 2·tx + b] = (Aᵀ M_t A)[a, b] for the outputs inside OH × OW,
// with bias[o] and the activation (`output_transform16`).
//   M: [16, O, count·TH·TW]   y: [N, O, OH, OW]   bias: [O]
// One work-item per (tile row ty, image n·O + channel o). Tiles whose two columns are
// inside the row go 16 at a time (the last 16 overlapping the ones before), the columns
// of both interleaved into two vector stores; an odd width's last tile, and rows of
// fewer than 16 whole tiles, one by one. With size 4, F(4×4)'s (`output_row4`).
__kernel void winograd_output_rows(__global const float *m, __global float *y, const int first, const int count,
                                   const int O, const int OH, const int OW, const int TH, const int TW,
                                   __global const float *bias, const int epilogue, const int size) {
    const int ty = get_global_id(0), no = get_global_id(1);
    if (ty >= TH || no >= count * O) return;
    const int n = no / O, o = no - n * O;
    const size_t T = (size_t)count * TH * TW, step = (size_t)O * T;
    __global const float *in = m + (size_t)o * T + ((size_t)n * TH + ty) * TW;
    __global float *plane = y + ((size_t)(first + n) * O + o) * OH * OW;
    const float shift = epilogue & 1 ? bias[o] : 0.0f;
    if (size == 4) {
        output_row4(in, step, plane, ty, OH, OW, TW, shift, epilogue);
        return;
    }
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

// The weight gradient's dy, whole planes:

// F(2×2)'s 16 values A dY Aᵀ of 16 gathered 2 × 2 blocks of dy, stored at out + ξ·step.
inline void gradient_tiles2(const float *blocks, __global float *out, const size_t step, const int lanes) {
    float16 r[4][2];          // A dY: A = [1 0; 1 1; 1 −1; 0 −1]
    for (int b = 0; b < 2; b++) {
        const float16 top = vload16(b, blocks), bottom = vload16(2 + b, blocks);
        r[0][b] = top;
        r[1][b] = top + bottom;
        r[2][b] = top - bottom;
        r[3][b] = -bottom;
    }
    for (int i = 0; i < 4; i++) {
        float16 e[4];         // · Aᵀ
        e[0] = r[i][0];
        e[1] = r[i][0] + r[i][1];
        e[2] = r[i][0] - r[i][1];
        e[3] = -r[i][1];
        for (int j = 0; j < 4; j++) store_lanes(e[j], out + (i * 4 + j) * step, lanes);
    }
}

// F(4×4)'s 36 values A dY Aᵀ of 16 gathered 4 × 4 blocks of dy, stored at out + ξ·step.
inline void gradient_tiles4(const float *blocks, __global float *out, const size_t step, const int lanes) {
    float16 columns[4][6];    // A dY: each column of the blocks to six
    for (int b = 0; b < 4; b++) {
        gradient_transform6(vload16(b, blocks), vload16(4 + b, blocks), vload16(8 + b, blocks), vload16(12 + b, blocks),
                            columns[b]);
    }
    for (int i = 0; i < 6; i++) {
        float16 e[6];         // · Aᵀ
        gradient_transform6(columns[0][i], columns[1][i], columns[2][i], columns[3][i], e);
        for (int j = 0; j < 6; j++) store_lanes(e[j], out + (i * 6 + j) * step, lanes);
    }
}

// Work-item `item`'s run of one channel's T tiles (`tile_span`), 16 at a time in tile order
// across the group's images (their planes image_step apart from `planes`): V's values
// from each tile's (size + 2)² patch at (size·ty − PT, size·tx − PL) or, with
// `gradient`, dM's from its size × size block of dy at (size·ty, size·tx), stored at
// out + t + ξ·step. The lanes run on from one image into the next, so planes of fewer
// than 16 tiles still fill the vectors.
inline void transform_run(__global const float *planes, const size_t image_step, const int H, const int W,
                          const int PT, const int PL, const int TH, const int TW, const int T, const int span,
                          const int item, const int size, const int gradient, __global float *out, const size_t step) {
    int n, ty, tx;
    const int end = tile_span(span, item, T, TH, TW, &n, &ty, &tx);
    for (int t0 = span * item; t0 < end; t0 += 16) {
        const int lanes = min(16, end - t0);
        float patches[36 * 16];   // [(i·patch + j)·16 + lane]
        gather_patches16(planes, image_step, H, W, PT, PL, TH, TW, lanes, gradient ? size : size + 2, size, &n, &ty, &tx,
                         patches);
        if (gradient) {
            if (size == 4) gradient_tiles4(patches, out + t0, step, lanes);
            else gradient_tiles2(patches, out + t0, step, lanes);
        } else {
            if (size == 4) input_tiles4(patches, out + t0, step, lanes);
            else input_tiles2(patches, out + t0, step, lanes);
        }
    }
}

// V for planes of narrow rows (F(2×2); the same V as winograd_input_rows) and for every
// F(4×4) plane: work-item (c, item) transforms run `item` of channel c's tiles
// (`transform_run`), so the tiles' transforms stay vector operations and their stores
// whole. `size`: the tile's outputs a side, 2 or 4.
//   x: [N, C, H, W]   V: [(size + 2)², C, count·TH·TW]
__kernel void winograd_input_planes(__global const float *x, __global float *v, const int first, const int count,
                                    const int C, const int H, const int W, const int PT, const int PL,
                                    const int TH, const int TW, const int size, const int span) {
    const int c = get_global_id(0), item = get_global_id(1), T = count * TH * TW;
    if (c >= C || span * item >= T) return;
    transform_run(x + ((size_t)first * C + c) * H * W, (size_t)C * H * W, H, W, PT, PL, TH, TW, T, span, item, size, 0,
                  v + (size_t)c * T, (size_t)C * T);
}

// dM[ξ, o, t] = (A dY_t Aᵀ)[ξ] for the tiles of images first … first + count − 1, dY_t
// the size × size block of dy at rows size·ty …, columns size·tx … (0 outside OH × OW):
// the weight gradient's counterpart of V, since dL/dU_ξ = Σ_t dM_ξ,t · V_ξ,t and dL/dg =
// Gᵀ dU G. Work-item (o, item) transforms run `item` of channel o's tiles.
//   dy: [N, O, OH, OW]   dM: [(size + 2)², O, count·TH·TW]
__kernel void winograd_gradient_planes(__global const float *dy, __global float *dm, const int first, const int count,
                                       const int O, const int OH, const int OW, const int TH, const int TW, const int size,
                                       const int span) {
    const int o = get_global_id(0), item = get_global_id(1), T = count * TH * TW;
    if (o >= O || span * item >= T) return;
    transform_run(dy + ((size_t)first * O + o) * OH * OW, (size_t)O * OH * OW, OH, OW, 0, 0, TH, TW, T, span, item, size, 1,
                  dm + (size_t)o * T, (size_t)O * T);
}

// dM as winograd_gradient_planes computes it, one work-item per (tile row ty, image n·O +
// channel o), the row's tiles 16 at a time (`chunk_start`) from vector loads of each
// block row (`load_row16`, 0 past the plane's edges).
__kernel void winograd_gradient_rows(__global const float *dy, __global float *dm, const int first, const int count,
                                     const int O, const int OH, const int OW, const int TH, const int TW, const int size) {
    const int ty = get_global_id(0), no = get_global_id(1);
    if (ty >= TH || no >= count * O) return;
    const int n = no / O, o = no - n * O;
    const size_t T = (size_t)count * TH * TW, step = (size_t)O * T;
    __global const float *plane = dy + ((size_t)(first + n) * O + o) * OH * OW;
    __global float *out = dm + (size_t)o * T + ((size_t)n * TH + ty) * TW;
    float blocks[16 * 16];   // [(i·size + j)·16 + lane]
    for (int chunk = 0; chunk < TW; chunk += 16) {
        const int tx = chunk_start(chunk, TW), left = size * tx;
        for (int i = 0; i < size; i++) {
            const int h = size * ty + i;
            float *row = blocks + i * size * 16;
            if (h >= OH) {
                for (int j = 0; j < size; j++) vstore16((float16)(0.0f), j, row);
                continue;
            }
            __global const float *line = plane + (size_t)h * OW;
            const float16 a = load_row16(line, left, OW), b = load_row16(line, left + 16, OW);
            if (size == 4) {
                const float16 c = load_row16(line, left + 32, OW), d = load_row16(line, left + 48, OW);
                store_fourths(a, b, c, d, FOURTHS_FROM0, row);
                store_fourths(a, b, c, d, FOURTHS_FROM2, row + 2 * 16);
            } else {
                vstore16(shuffle2(a, b, EVEN_CELLS), 0, row);
                vstore16(shuffle2(a, b, ODD_CELLS), 1, row);
            }
        }
        if (size == 4) {
            gradient_tiles4(blocks, out + tx, step, min(16, TW - tx));
        } else {
            gradient_tiles2(blocks, out + tx, step, min(16, TW - tx));
        }
    }
}
