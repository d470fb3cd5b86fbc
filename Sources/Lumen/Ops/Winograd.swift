/// Winograd convolution: the twin of `Kernels/winograd.cl`. For 3 × 3 windows at stride
/// 1 the forward pass and the input gradient become a transform of the input into 16
/// (F(2×2, 3×3)) or 36 (F(4×4, 3×3)) matrices, as many GEMMs over the channels, and a
/// transform back: 16 multiplies per 2 × 2 outputs, or 36 per 4 × 4, where im2col + GEMM
/// spends 36 and 144; the weight gradient sums as many GEMMs over the tiles. `ConvOps`
/// times each against its im2col plans per shape on CPU-style kernels (`ConvolutionPlan`,
/// `ConvOps.FilterGradientPlan`).
public enum Winograd {
    /// The outputs a tile gives: 2 × 2 from a 4 × 4 input patch, or 4 × 4 from 6 × 6
    /// (fewer multiplies, larger transforms with larger rounding).
    public enum Tile: Int, CaseIterable, Sendable {
        case two = 2, four = 4

        /// Transform points per tile, (m + 2)².
        var points: Int { (rawValue + 2) * (rawValue + 2) }

        /// Whether the transforms walk tile rows (rows of 32 tiles or more for F(2×2), of
        /// 16 or more for F(4×4), 16 tiles at a time along each) rather than whole planes
        /// (16 tiles at a time across rows).
        func transformsByRows(cols: Int) -> Bool { cols >= (self == .two ? 32 : 16) }

        /// Output tiles over a plane: rows and columns of tiles.
        func tiles(height: Int, width: Int) -> (rows: Int, cols: Int) {
            ((height + rawValue - 1) / rawValue, (width + rawValue - 1) / rawValue)
        }
    }

    /// Whether a window takes this path: 3 × 3 at stride 1, with at most 2 cells of
    /// padding before each axis (the input gradient reads dy padded by 2 − that).
    public static func fits(_ g: WindowGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padTop <= 2 && g.padLeft <= 2
    }

    /// The forward pass, adding `bias` and applying `activation` (linear, ReLU or ReLU6) as
    /// outputs are stored.               x: [N, C, H, W]  weight: [O, C, 3, 3]  bias: [O]  ->  y: [N, O, OH, OW]
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: WindowGeometry,
                               activation: ActivationKind = .linear, tile: Tile = .two, imagesPerGroup: Int? = nil) throws -> Tensor {
        let outChannels = weight.shape[0]
        let y = try Tensor(uninitializedOn: x.device, shape: [g.batch, outChannels, g.outHeight, g.outWidth])
        guard y.count > 0 else { return y }
        let u = try filters(weight, flipped: false, tile: tile)
        try correlate(x, Plane(channels: g.channels, height: g.height, width: g.width, padTop: g.padTop, padLeft: g.padLeft),
                      u, into: y, Plane(channels: outChannels, height: g.outHeight, width: g.outWidth, padTop: 0, padLeft: 0),
                      batch: g.batch, bias: bias, activation: activation, tile: tile, imagesPerGroup: imagesPerGroup)
        return y
    }

    /// The input gradient: dy correlated with the filters turned by 180°, input and output
    /// channels swapped, dy padded by 2 − the forward's padding.
    ///                                   dy: [N, O, OH, OW]  weight: [O, C, 3, 3]  ->  dx: [N, C, H, W]
    public static func backwardData(_ dy: Tensor, weight: Tensor, _ g: WindowGeometry, tile: Tile = .two,
                                    imagesPerGroup: Int? = nil) throws -> Tensor {
        let outChannels = weight.shape[0]
        let dx = try Tensor(uninitializedOn: dy.device, shape: [g.batch, g.channels, g.height, g.width])
        guard dx.count > 0 else { return dx }
        let u = try filters(weight, flipped: true, tile: tile)
        try correlate(dy, Plane(channels: outChannels, height: g.outHeight, width: g.outWidth,
                                padTop: 2 - g.padTop, padLeft: 2 - g.padLeft),
                      u, into: dx, Plane(channels: g.channels, height: g.height, width: g.width, padTop: 0, padLeft: 0),
                      batch: g.batch, bias: nil, activation: .linear, tile: tile, imagesPerGroup: imagesPerGroup)
        return dx
    }

    /// The weight gradient summed over the batch, Gᵀ [Σ_t (A dY_t Aᵀ) ⊙ (Bᵀ d_t B)] G: per
    /// group of images x's transform V[P, C, T] (the forward's) and dy's dM[P, O, T],
    /// then dU_ξ[O, C] += dM_ξ · V_ξᵀ in one batched GEMM, and dU transformed back
    /// (P = the tile's points).
    ///                                   dy: [N, O, OH, OW]  x: [N, C, H, W]  ->  dweight: [O, C, 3, 3]
    public static func backwardFilter(_ dy: Tensor, x: Tensor, weightShape: [Int], _ g: WindowGeometry, tile: Tile = .two,
                                      imagesPerGroup: Int? = nil) throws -> Tensor {
        let device = dy.device
        let (outChannels, channels) = (weightShape[0], g.channels)
        guard g.batch > 0, g.outputPlane > 0 else { return try Tensor.zeros(on: device, shape: weightShape) }
        let (rows, cols) = tile.tiles(height: g.outHeight, width: g.outWidth)
        let tiles = rows * cols
        let group = self.imagesPerGroup(imagesPerGroup, batch: g.batch, channels: channels + outChannels, tiles: tiles, tile: tile)
        let v = try Tensor(uninitializedOn: device, shape: [tile.points, channels, group * tiles])
        let dm = try Tensor(uninitializedOn: device, shape: [tile.points, outChannels, group * tiles])
        let du = try Tensor(uninitializedOn: device, shape: [tile.points, outChannels, channels])
        let from = Plane(channels: channels, height: g.height, width: g.width, padTop: g.padTop, padLeft: g.padLeft)
        let byRows = tile.transformsByRows(cols: cols)
        for first in stride(from: 0, to: g.batch, by: group) {
            let count = min(group, g.batch - first)
            let t = count * tiles
            try transformInput(x, from, into: v, first: first, count: count, rows: rows, cols: cols, tile: tile)
            let items = transformItems(byRows: byRows, rows: rows, count: count, channels: outChannels, tiles: t)
            try device.launch("winograd", "winograd_gradient_" + (byRows ? "rows" : "planes"), global: items.global, local: [1, 1],
                              [.tensor(dy), .tensor(dm), .size(first), .size(count), .size(outChannels),
                               .size(g.outHeight), .size(g.outWidth), .size(rows), .size(cols), .size(tile.rawValue)]
                                + items.span)
            try Gemm.multiplyBatched(transposeB: true, m: outChannels, n: channels, k: t, MatrixOperand(dm), strideA: outChannels * t,
                                     MatrixOperand(v), strideB: channels * t, beta: first == 0 ? 0 : 1,
                                     into: MatrixOperand(du), strideC: outChannels * channels, batch: tile.points)
        }
        let dweight = try Tensor(uninitializedOn: device, shape: weightShape)
        try device.launch("winograd", "winograd_filter_gradient", global: [channels, outChannels],
                          [.tensor(du), .tensor(dweight), .size(outChannels), .size(channels), .size(tile.rawValue)])
        return dweight
    }

    /// Images per group: as many as keep a group's transforms (the tile's points per tile
    /// and channel, both sides) within `ConvOps.columnBudget` floats, at least one.
    static func imagesPerGroup(_ requested: Int?, batch: Int, channels: Int, tiles: Int, tile: Tile) -> Int {
        max(1, min(batch, requested ?? ConvOps.columnBudget / max(1, tile.points * channels * tiles)))
    }

    /// V for images first … first + count − 1 of `input` (`Tile.transformsByRows`).
    static func transformInput(_ input: Tensor, _ from: Plane, into v: Tensor, first: Int, count: Int, rows: Int, cols: Int,
                               tile: Tile) throws {
        let byRows = tile.transformsByRows(cols: cols)
        let items = transformItems(byRows: byRows, rows: rows, count: count, channels: from.channels, tiles: count * rows * cols)
        try input.device.launch("winograd", "winograd_input_" + (byRows ? "rows" : "planes"), global: items.global, local: [1, 1],
                                [.tensor(input), .tensor(v), .size(first), .size(count), .size(from.channels),
                                 .size(from.height), .size(from.width), .size(from.padTop), .size(from.padLeft),
                                 .size(rows), .size(cols), .size(tile.rawValue)] + items.span)
    }

    /// A transform's work-items over a group of `count` images: by rows, one per (tile row,
    /// image · channel); else each channel's `tiles` in runs (`PlaneSplit`), the run's
    /// length passed to the kernel last.
    static func transformItems(byRows: Bool, rows: Int, count: Int, channels: Int,
                               tiles: Int) -> (global: [Int], span: [KernelArgument]) {
        guard !byRows else { return ([rows, count * channels], []) }
        let split = PlaneSplit(tiles: tiles, channels: channels)
        return ([channels, split.items], [.size(split.span)])
    }

    /// How the plane kernels share a group's tiles: each channel's `tiles` (all images of
    /// the group, in tile order) split into `items` runs of `span` tiles, a multiple of 16
    /// so that only a run's last vector is short, and enough runs (up to 256 work-items in
    /// all) to keep every core busy when channels are few.
    struct PlaneSplit {
        let span: Int, items: Int

        init(tiles: Int, channels: Int) {
            let runs = max(1, min((tiles + 15) / 16, 256 / max(1, channels)))
            span = 16 * max(1, (tiles + 16 * runs - 1) / (16 * runs))
            items = max(1, (tiles + span - 1) / span)
        }
    }

    /// Planes of one side of a correlation: channels, size, and the padding before it.
    struct Plane {
        let channels: Int, height: Int, width: Int, padTop: Int, padLeft: Int
    }

    /// The filters' transforms.          weight: [O, C, 3, 3]  ->  [points, O, C], or flipped [points, C, O]
    static func filters(_ weight: Tensor, flipped: Bool, tile: Tile) throws -> Tensor {
        guard weight.shape.count == 4, weight.shape[2] == 3, weight.shape[3] == 3 else {
            throw LumenError.shapeMismatch("a Winograd convolution needs [O, C, 3, 3] weights, got \(weight.shape)")
        }
        let (outChannels, channels) = (weight.shape[0], weight.shape[1])
        let u = try Tensor(uninitializedOn: weight.device,
                           shape: [tile.points] + (flipped ? [channels, outChannels] : [outChannels, channels]))
        guard u.count > 0 else { return u }
        try weight.device.launch("winograd", "winograd_filter", global: [flipped ? channels : outChannels],
                                 [.tensor(weight), .tensor(u), .size(outChannels), .size(channels), .int(flipped ? 1 : 0),
                                  .size(tile.rawValue)])
        return u
    }

    /// y = input ⋆ filters (3 × 3, stride 1) over groups of images: each group's input
    /// transform V[P, Ci, T], then M_ξ = U_ξ · V_ξ for ξ < P in one batched GEMM, then
    /// the output transform into y (P = the tile's points).       u: [P, Co, Ci]
    static func correlate(_ input: Tensor, _ from: Plane, _ u: Tensor, into y: Tensor, _ to: Plane, batch: Int,
                          bias: Tensor?, activation: ActivationKind, tile: Tile, imagesPerGroup: Int?) throws {
        let device = input.device
        let (rows, cols) = tile.tiles(height: to.height, width: to.width)
        let tiles = rows * cols
        let group = self.imagesPerGroup(imagesPerGroup, batch: batch, channels: from.channels + to.channels, tiles: tiles, tile: tile)
        let v = try Tensor(uninitializedOn: device, shape: [tile.points, from.channels, group * tiles])
        let m = try Tensor(uninitializedOn: device, shape: [tile.points, to.channels, group * tiles])
        let epilogue = try GemmKernels.epilogue(rowBias: bias, activation)
        let byRows = tile.transformsByRows(cols: cols)
        for first in stride(from: 0, to: batch, by: group) {
            let count = min(group, batch - first)
            let t = count * tiles
            try transformInput(input, from, into: v, first: first, count: count, rows: rows, cols: cols, tile: tile)
            try Gemm.multiplyBatched(m: to.channels, n: t, k: from.channels, MatrixOperand(u), strideA: to.channels * from.channels,
                                     MatrixOperand(v), strideB: from.channels * t, into: MatrixOperand(m), strideC: to.channels * t,
                                     batch: tile.points)
            let items = transformItems(byRows: byRows, rows: rows, count: count, channels: to.channels, tiles: t)
            try device.launch("winograd", "winograd_output_" + (byRows ? "rows" : "planes"), global: items.global, local: [1, 1],
                              [.tensor(m), .tensor(y), .size(first), .size(count), .size(to.channels), .size(to.height),
                               .size(to.width), .size(rows), .size(cols), .tensor(bias ?? m), .int(epilogue),
                               .size(tile.rawValue)] + items.span)
        }
    }
}
