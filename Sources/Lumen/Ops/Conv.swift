/// Padding modes: Keras' two, and PyTorch's fixed amount.
public enum Padding: Codable, Sendable, Equatable {
    /// No padding; the output shrinks by kernel − 1.
    case valid
    /// Output size ceil(input / stride); the extra row or column goes at the bottom or right.
    case same
    /// The same number of cells on every side, as PyTorch's `padding=N` (torchvision
    /// models). Average pooling still divides by the cells inside the image.
    case explicit(Int)
    /// Margins of their own on each side: Keras' ZeroPadding2D(((top, bottom), (left, right))).
    case cells(top: Int, bottom: Int, left: Int, right: Int)

    /// The margins (top, bottom, left, right) when the padding is a number of cells.
    public var margins: (top: Int, bottom: Int, left: Int, right: Int)? {
        switch self {
        case .explicit(let n): return (n, n, n, n)
        case .cells(let top, let bottom, let left, let right): return (top, bottom, left, right)
        default: return nil
        }
    }

    /// "valid", "same", or a number of cells.
    public init?(rawValue: String) {
        switch rawValue {
        case "valid": self = .valid
        case "same": self = .same
        default:
            guard let cells = Int(rawValue), cells >= 0 else { return nil }
            self = .explicit(cells)
        }
    }

    public var rawValue: String {
        switch self {
        case .valid: return "valid"
        case .same: return "same"
        case .explicit(let cells): return String(cells)
        case .cells(let top, let bottom, let left, let right): return "((\(top), \(bottom)), (\(left), \(right)))"
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let cells = try? container.decode(Int.self) {
            guard cells >= 0 else { throw DecodingError.dataCorruptedError(in: container, debugDescription: "padding must not be negative") }
            self = .explicit(cells)
            return
        }
        if let pair = try? container.decode([Int].self), pair.count == 2, pair.allSatisfy({ $0 >= 0 }) {
            self = .cells(top: pair[0], bottom: pair[0], left: pair[1], right: pair[1])
            return
        }
        if let pairs = try? container.decode([[Int]].self), pairs.count == 2, pairs.allSatisfy({ $0.count == 2 }),
           pairs.joined().allSatisfy({ $0 >= 0 }) {
            self = .cells(top: pairs[0][0], bottom: pairs[0][1], left: pairs[1][0], right: pairs[1][1])
            return
        }
        guard let text = try? container.decode(String.self) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "padding must be valid, same, a number, [rows, columns] or [[top, bottom], [left, right]]")
        }
        guard let padding = Padding(rawValue: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "padding must be valid, same or a number, got '\(text)'")
        }
        self = padding
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .explicit(let cells): try container.encode(cells)
        case .cells(let top, let bottom, let left, let right): try container.encode([[top, bottom], [left, right]])
        default: try container.encode(rawValue)
        }
    }
}

/// The sizes of one 2-D window operation (convolution or pooling) on an NCHW batch.
public struct WindowGeometry: Equatable, Sendable {
    public let batch: Int, channels: Int, height: Int, width: Int
    public let kernelHeight: Int, kernelWidth: Int, stride: Int
    public let padTop: Int, padLeft: Int
    public let outHeight: Int, outWidth: Int

    /// Geometry for input `[N, C, H, W]`, following Keras for `same` padding:
    /// total = max((out − 1)·stride + kernel − size, 0), with total/2 before and the rest after.
    public init(input: [Int], kernel: (Int, Int), stride: Int, padding: Padding) throws {
        guard input.count == 4 else { throw LumenError.shapeMismatch("a window op needs [N, C, H, W], got \(input)") }
        guard stride >= 1, kernel.0 >= 1, kernel.1 >= 1 else {
            throw LumenError.shapeMismatch("kernel \(kernel) and stride \(stride) must be positive")
        }
        (batch, channels, height, width) = (input[0], input[1], input[2], input[3])
        (kernelHeight, kernelWidth) = kernel
        self.stride = stride
        func along(_ size: Int, _ k: Int, _ margins: (before: Int, after: Int)?) throws -> (out: Int, before: Int) {
            switch padding {
            case .valid:
                guard size >= k else {
                    throw LumenError.shapeMismatch("a \(k)-wide window does not fit an input of size \(size) with valid padding")
                }
                return ((size - k) / stride + 1, 0)
            case .same:
                let out = (size + stride - 1) / stride
                return (out, max((out - 1) * stride + k - size, 0) / 2)
            case .explicit, .cells:
                let (before, after) = margins!
                guard size + before + after >= k else {
                    throw LumenError.shapeMismatch("a \(k)-wide window does not fit an input of size \(size) padded by \(before) and \(after)")
                }
                return ((size + before + after - k) / stride + 1, before)
            }
        }
        let m = padding.margins
        (outHeight, padTop) = try along(height, kernelHeight, m.map { ($0.top, $0.bottom) })
        (outWidth, padLeft) = try along(width, kernelWidth, m.map { ($0.left, $0.right) })
    }

    var outputPlane: Int { outHeight * outWidth }
    /// A 1 × 1 window at stride 1 without padding: im2col and col2im are the identity.
    var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padTop == 0 && padLeft == 0 }
    var inputPlane: Int { height * width }

    /// The integer arguments shared by the window kernels after N and C:
    /// H, W, KH, KW, S, PT, PL, OH, OW.
    var kernelArguments: [KernelArgument] {
        [height, width, kernelHeight, kernelWidth, stride, padTop, padLeft, outHeight, outWidth].map { .size($0) }
    }
}

/// Convolution: the twin of `Kernels/conv.cl`, im2col + GEMM (CLBlast or Lumen's own,
/// whichever measured faster for the shape), the bias added by the GEMM.
public enum ConvOps {
    /// The im2col matrix of a batch, or of the images `images` of it.
    ///                                              x: [N, C, H, W]  ->  cols: [count, C·KH·KW, OH·OW]
    /// With `sideBySide` (CPU-style kernels only) the images sit side by side in each row
    /// instead:                                     ->  cols: [C·KH·KW, count·OH·OW]
    public static func im2col(_ x: Tensor, _ g: WindowGeometry, images: Range<Int>? = nil, into reused: Tensor? = nil,
                              variant: KernelVariant? = nil, sideBySide: Bool = false) throws -> Tensor {
        let images = images ?? 0..<g.batch
        let rows = g.channels * g.kernelHeight * g.kernelWidth
        let cols = try reused ?? Tensor(uninitializedOn: x.device, shape: [images.count, rows, g.outputPlane])
        guard images.count * rows * g.outputPlane > 0 else { return cols }
        let arguments = windowArguments(x, cols, g, images)
        switch try rowsVariant(variant, on: x.device, sideBySide: sideBySide) {
        case .elementwise: try x.device.launch("conv", "im2col", global: [g.outputPlane, images.count * rows], arguments)
        case .rows: try x.device.launch("conv", "im2col_rows", global: [rows, images.count], local: [1, 1],
                                        arguments + columnSteps(g, rows: rows, images: images.count, sideBySide: sideBySide))
        }
        return cols
    }

    /// The kernel variant to run, refusing side-by-side columns on the GPU-style kernels.
    private static func rowsVariant(_ variant: KernelVariant?, on device: Device, sideBySide: Bool) throws -> KernelVariant {
        let variant = variant ?? KernelVariant.default(for: device)
        if sideBySide && variant != .rows {
            throw LumenError.shapeMismatch("side-by-side im2col columns are made by the CPU-style kernels only")
        }
        return variant
    }

    /// im2col_rows' and col2im_planes' image and row steps through the column matrix.
    private static func columnSteps(_ g: WindowGeometry, rows: Int, images: Int, sideBySide: Bool) -> [KernelArgument] {
        sideBySide ? [.size(g.outputPlane), .size(images * g.outputPlane)] : [.size(rows * g.outputPlane), .size(g.outputPlane)]
    }

    /// The im2col matrix transposed, pixels by rows.  x: [N, C, H, W]  ->  colsT: [count, OH·OW, C·KH·KW]
    public static func im2colTransposed(_ x: Tensor, _ g: WindowGeometry, images: Range<Int>? = nil, into reused: Tensor? = nil,
                                        variant: KernelVariant? = nil) throws -> Tensor {
        let images = images ?? 0..<g.batch
        let rows = g.channels * g.kernelHeight * g.kernelWidth
        let colsT = try reused ?? Tensor(uninitializedOn: x.device, shape: [images.count, g.outputPlane, rows])
        guard images.count * rows * g.outputPlane > 0 else { return colsT }
        let variant = variant ?? KernelVariant.default(for: x.device)
        if g.isPointwise {
            // Each image's [C, P] plane transposed: 16 × 16 blocks, read and written in runs.
            try GemmKernels.transpose(x, offset: images.lowerBound * rows * g.outputPlane, ld: g.outputPlane,
                                      stride: rows * g.outputPlane, rows: rows, cols: g.outputPlane, sets: images.count,
                                      into: colsT, staged: variant == .elementwise)
            return colsT
        }
        let arguments = windowArguments(x, colsT, g, images)
        switch variant {
        case .elementwise:
            try x.device.launch("conv", "im2col_transposed", global: [rows, images.count * g.outputPlane], arguments)
        case .rows:
            try x.device.launch("conv", "im2col_transposed_rows", global: [g.outHeight, images.count], local: [1, 1], arguments)
        }
        return colsT
    }

    /// The adjoint of im2col, written into the images `images` of dx (all of a new one by default).
    ///                                              cols: [count, C·KH·KW, OH·OW]  ->  dx: [N, C, H, W]
    /// With `sideBySide`, cols is laid out as side-by-side im2col writes it.
    @discardableResult
    public static func col2im(_ cols: Tensor, _ g: WindowGeometry, images: Range<Int>? = nil, into target: Tensor? = nil,
                              variant: KernelVariant? = nil, sideBySide: Bool = false) throws -> Tensor {
        let images = images ?? 0..<g.batch
        let dx = try target ?? Tensor(uninitializedOn: cols.device, shape: [g.batch, g.channels, g.height, g.width])
        guard images.count * g.channels * g.inputPlane > 0 else { return dx }
        let arguments = windowArguments(cols, dx, g, images)
        switch try rowsVariant(variant, on: cols.device, sideBySide: sideBySide) {
        case .elementwise: try cols.device.launch("conv", "col2im", global: [g.inputPlane, images.count * g.channels], arguments)
        case .rows:
            let rows = g.channels * g.kernelHeight * g.kernelWidth
            try cols.device.launch("conv", "col2im_planes", global: [images.count * g.channels], local: [1],
                                   arguments + columnSteps(g, rows: rows, images: images.count, sideBySide: sideBySide))
        }
        return dx
    }

    /// What im2col and col2im take: the two tensors, the images (count, first), C and the window.
    private static func windowArguments(_ from: Tensor, _ to: Tensor, _ g: WindowGeometry, _ images: Range<Int>) -> [KernelArgument] {
        [.tensor(from), .tensor(to), .size(images.count), .size(images.lowerBound), .size(g.channels)] + g.kernelArguments
    }

    /// Runs `body` over the batch in groups of `imagesPerGroup` images, handing it each
    /// group's image range and a column buffer for a whole group (reused from group to
    /// group, the last group using its start; nil for a pointwise window, whose columns
    /// are x itself, unless `columnsOfPointwise`: the transposed columns are a copy).
    static func eachGroup(_ g: WindowGeometry, rows: Int, variant: KernelVariant?, on device: Device,
                          columnsOfPointwise: Bool = false, _ body: (Range<Int>, Tensor?) throws -> Void) throws {
        let group = imagesPerGroup(g, rows: rows, variant: variant ?? KernelVariant.default(for: device))
        let cols = g.isPointwise && !columnsOfPointwise ? nil : try Tensor(uninitializedOn: device, shape: [group, rows, g.outputPlane])
        for first in stride(from: 0, to: g.batch, by: group) {
            let images = first..<min(g.batch, first + group)
            try body(images, cols)
        }
    }

    /// Images per im2col group: on CPU-style kernels, as many as keep a group's column
    /// matrix within `columnBudget` floats (at least one), so the GEMM reads the columns
    /// im2col just wrote from cache rather than memory; on GPU-style kernels, the whole batch.
    static func imagesPerGroup(_ g: WindowGeometry, rows: Int, variant: KernelVariant) -> Int {
        guard variant == .rows else { return g.batch }
        return max(1, min(g.batch, columnBudget / max(1, rows * g.outputPlane)))
    }

    /// 2M floats (8 MB): a share of a CPU's last-level cache.
    static let columnBudget = 2 << 20

    /// Whether a group of images runs as one GEMM over their outputs side by side
    /// ([rows, G·P] columns) rather than one GEMM per image: on CPU-style kernels, for
    /// planes under 256 outputs that are not a whole number of 32-column register tiles,
    /// where each image's last tile would leave much of its work unused (7 × 7 = 49
    /// outputs fill 77% of the 64 computed), and only when a group holds more than one
    /// image. (InceptionV3's 8 × 8 planes, whole tiles, trained 6% slower side by side.)
    static func sideBySide(_ g: WindowGeometry, variant: KernelVariant?, on device: Device) -> Bool {
        let variant = variant ?? KernelVariant.default(for: device)
        return variant == .rows && g.outputPlane < 256 && g.outputPlane % 32 != 0
            && imagesPerGroup(g, rows: g.channels * g.kernelHeight * g.kernelWidth, variant: variant) > 1
    }

    /// A group's columns side by side: im2col's, or for a pointwise window x's images
    /// with their leading axes swapped.               ->  [C·KH·KW, count·OH·OW] in `buffer`
    static func sideBySideColumns(_ x: Tensor, _ g: WindowGeometry, images: Range<Int>, into buffer: Tensor) throws -> Tensor {
        guard g.isPointwise else { return try im2col(x, g, images: images, into: buffer, variant: .rows, sideBySide: true) }
        try Layout.swapLeadingAxes(x, from: images.lowerBound * g.channels * g.outputPlane, a: images.count, b: g.channels,
                                   r: g.outputPlane, into: buffer)
        return buffer
    }

    /// The images `images` of dy side by side.    dy: [N, O, OH, OW]  ->  [O, count·OH·OW]
    static func sideBySideGradient(_ dy: Tensor, _ g: WindowGeometry, images: Range<Int>, outChannels: Int) throws -> Tensor {
        let gathered = try Tensor(uninitializedOn: dy.device, shape: [outChannels, images.count * g.outputPlane])
        try Layout.swapLeadingAxes(dy, from: images.lowerBound * outChannels * g.outputPlane, a: images.count, b: outChannels,
                                   r: g.outputPlane, into: gathered)
        return gathered
    }

    /// y[n, c, …] += bias[c].                       y: [N, C, …]  bias: [C]
    public static func addChannelBias(_ y: Tensor, _ bias: Tensor) throws {
        let channels = y.shape[1]
        let plane = y.shape.dropFirst(2).reduce(1, *)
        guard bias.count == channels else { throw LumenError.shapeMismatch("bias \(bias.shape) for \(y.shape)") }
        guard y.count > 0 else { return }
        try y.device.launch("conv", "add_channel_bias", global: [y.count],
                            [.tensor(y), .tensor(bias), .size(channels), .size(plane), .size(y.count)])
    }

    /// Σ over N and the plane of dy: the bias gradient.   dy: [N, C, …]  ->  [C]
    public static func channelSums(_ dy: Tensor) throws -> Tensor {
        let flat = try dy.reshaped([dy.shape[0], dy.shape[1], dy.shape.dropFirst(2).reduce(1, *)])
        return try Reduce.sum(Reduce.sum(flat, axis: 2), axis: 0)
    }

    /// Forward, with the bias added and `activation` (linear, ReLU or ReLU6) applied by the GEMM.
    ///                                              x: [N, C, H, W]  weight: [O, C, KH, KW]  bias: [O]
    ///                                              ->  y: [N, O, OH, OW]
    /// 3 × 3 windows at stride 1 may run as Winograd instead (`ConvolutionPlan`).
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: WindowGeometry, activation: ActivationKind = .linear,
                               variant: KernelVariant? = nil) throws -> Tensor {
        let plan = try ConvolutionPlan.chosen(.forward, g, outChannels: weight.shape[0], variant: variant, on: x.device) {
            _ = try forward(x, weight: weight, bias: bias, g, activation: activation, variant: variant, plan: $0)
        }
        return try forward(x, weight: weight, bias: bias, g, activation: activation, variant: variant, plan: plan)
    }

    static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: WindowGeometry, activation: ActivationKind,
                        variant: KernelVariant?, plan: ConvolutionPlan) throws -> Tensor {
        if let tile = plan.winogradTile { return try Winograd.forward(x, weight: weight, bias: bias, g, activation: activation, tile: tile) }
        if plan == .direct { return try directForward(x, weight: weight, bias: bias, g, activation: activation) }
        let outChannels = weight.shape[0]
        let rows = g.channels * g.kernelHeight * g.kernelWidth
        let y = try Tensor(uninitializedOn: x.device, shape: [g.batch, outChannels, g.outHeight, g.outWidth])
        guard y.count > 0 else { return y }
        // y_n[O, P] = W[O, rows] · cols_n[rows, P] + bias[O], the weight shared across the
        // batch; a pointwise window's im2col matrix is x itself. Small planes side by side:
        // Y[O, G·P] = W · cols[rows, G·P], then Y's images moved to y.
        let plane = g.outputPlane
        if sideBySide(g, variant: variant, on: x.device) {
            try eachGroup(g, rows: rows, variant: variant, on: x.device, columnsOfPointwise: true) { images, buffer in
                let cols = try sideBySideColumns(x, g, images: images, into: buffer!)
                let product = try Tensor(uninitializedOn: x.device, shape: [outChannels, images.count * plane])
                try Gemm.multiplyBatched(m: outChannels, n: images.count * plane, k: rows, MatrixOperand(weight), strideA: 0,
                                         MatrixOperand(cols), strideB: 0, into: MatrixOperand(product), strideC: 0, batch: 1,
                                         rowBias: bias, activation: activation)
                try Layout.swapLeadingAxes(product, a: outChannels, b: images.count, r: plane,
                                           into: y, at: images.lowerBound * outChannels * plane)
            }
            return y
        }
        try eachGroup(g, rows: rows, variant: variant, on: x.device) { images, cols in
            let b = g.isPointwise ? MatrixOperand(x, offset: images.lowerBound * rows * g.outputPlane)
                : MatrixOperand(try im2col(x, g, images: images, into: cols, variant: variant))
            try Gemm.multiplyBatched(m: outChannels, n: g.outputPlane, k: rows,
                                     MatrixOperand(weight), strideA: 0, b, strideB: rows * g.outputPlane,
                                     into: MatrixOperand(y, offset: images.lowerBound * outChannels * g.outputPlane),
                                     strideC: outChannels * g.outputPlane, batch: images.count, rowBias: bias, activation: activation)
        }
        return y
    }

    /// Backward: the input gradient (when asked) and the weight gradient. With `adding`,
    /// the input gradient may be added into that tensor, which is then returned as dx
    /// (`backwardData`).
    ///                                              dy: [N, O, OH, OW]  x: the forward's input [N, C, H, W]
    ///                                              ->  dx: [N, C, H, W], dweight: [O, C, KH, KW]
    public static func backward(_ dy: Tensor, x: Tensor, weight: Tensor, _ g: WindowGeometry,
                                needInputGradient: Bool, adding soFar: Tensor? = nil) throws -> (dx: Tensor?, dweight: Tensor) {
        let dweight = try backwardFilter(dy, x: x, weightShape: weight.shape, g)
        return (needInputGradient ? try backwardData(dy, weight: weight, g, adding: soFar) : nil, dweight)
    }

    /// The weight gradient, summed over the batch. With 32 or more rows (C·KH·KW) the
    /// plan (`FilterGradientPlan`) is timed on first use for the shape and remembered;
    /// with fewer (a first layer on RGB) the direct plan serves untimed: the plain im2col
    /// matrix in one A·Bᵀ GEMM per group that sums over its images.
    ///                                              dy: [N, O, OH, OW]  x: [N, C, H, W]  ->  dweight: [O, C, KH, KW]
    public static func backwardFilter(_ dy: Tensor, x: Tensor, weightShape: [Int], _ g: WindowGeometry,
                                      variant: KernelVariant? = nil) throws -> Tensor {
        let outChannels = weightShape[0]
        let rows = g.channels * g.kernelHeight * g.kernelWidth
        let plane = g.outputPlane
        if g.batch == 0 || plane == 0 { return try Tensor.zeros(on: dy.device, shape: weightShape) }
        if rows >= 32 {
            let planner = GemmPlanner.of(dy.device)
            let winograd = ConvolutionPlan.winogradApplies(g, outChannels: outChannels, variant: variant, on: dy.device)
            let shape = FilterGradientShape(outChannels: outChannels, rows: rows, plane: plane, batch: g.batch,
                                            pointwise: g.isPointwise, winograd: winograd)
            // The remembered plan; else, with a forced GEMM backend, nothing is timed: per sample.
            let plan = try planner.remembered(FilterGradientPlan.self, for: shape)
                ?? (planner.settings.forced != nil ? .perSample : planner.decision(for: shape, among: FilterGradientPlan.allCases.filter {
                    ($0 != .sideBySide || sideBySide(g, variant: variant, on: dy.device))
                        && (($0 != .winograd && $0 != .winograd4x4) || winograd)
                        && ($0 != .directConvolution || directApplies(g, variant: variant, on: dy.device))
                }) {
                    _ = try $0.run(dy, x: x, weightShape: weightShape, g, variant: variant)
                })
            return try plan.run(dy, x: x, weightShape: weightShape, g, variant: variant)
        }
        return try FilterGradientPlan.direct.run(dy, x: x, weightShape: weightShape, g, variant: variant)
    }

    /// Ways to form dW[O, rows] = Σ_n dy_n[O, P] · colsT_n[P, rows]. `perSample`: one
    /// product per sample, then their sum, so a panel of colsT stays in cache while every
    /// row block of dy passes over it (large planes). `summed`: one GEMM whose work-items
    /// sum over the samples themselves, with no partial products written (small planes
    /// and large batches). `direct`: dy · colsᵀ summed over the batch on the plain im2col
    /// matrix (for pointwise windows x itself), no transposed copy; `directTransposed`:
    /// the same product as dWᵀ = Σ_n cols_n · dy_nᵀ, then turned (the GEMM's copy of its
    /// transposed B is then dy's O·P floats an image, not the columns' rows·P). `sideBySide`: a
    /// group's images side by side (`sideBySide(_:variant:on:)`, small planes on CPU-style
    /// kernels), one dY[O, G·P] · cols[rows, G·P]ᵀ per group. `winograd`, `winograd4x4`:
    /// Winograd's F(2×2, 3×3) or F(4×4, 3×3) transforms (`Winograd.backwardFilter`, where
    /// `ConvolutionPlan` would time Winograd). `directConvolution`: no column matrix, x
    /// read in place (`ConvOps.directFilterGradient`, stride 1 on CPU-style kernels).
    /// Which is faster depends on the shape and the device's caches.
    enum FilterGradientPlan: String, CaseIterable, PlannedDecision {
        case perSample = "per-sample"
        case summed
        case direct
        case directTransposed = "direct-transposed"
        case sideBySide = "side-by-side"
        case winograd
        case winograd4x4
        case directConvolution = "direct-convolution"

        /// The transposed im2col matrix is built a group of images at a time (`eachGroup`).
        /// dy: [N, O, OH, OW]  x: [N, C, H, W]  ->  dweight: [O, C, KH, KW]
        func run(_ dy: Tensor, x: Tensor, weightShape: [Int], _ g: WindowGeometry, variant: KernelVariant? = nil) throws -> Tensor {
            let (outChannels, rows, plane) = (weightShape[0], weightShape.dropFirst().reduce(1, *), g.outputPlane)
            switch self {
            case .sideBySide where ConvOps.sideBySide(g, variant: variant, on: dy.device):
                let dweight = try Tensor(uninitializedOn: dy.device, shape: weightShape)
                try eachGroup(g, rows: rows, variant: variant, on: dy.device, columnsOfPointwise: true) { images, buffer in
                    let cols = try sideBySideColumns(x, g, images: images, into: buffer!)
                    let gathered = try sideBySideGradient(dy, g, images: images, outChannels: outChannels)
                    try Gemm.multiplyBatched(transposeB: true, m: outChannels, n: rows, k: images.count * plane,
                                             MatrixOperand(gathered), strideA: 0, MatrixOperand(cols), strideB: 0,
                                             beta: images.lowerBound == 0 ? 0 : 1, into: MatrixOperand(dweight), strideC: 0, batch: 1)
                }
                return dweight
            case .winograd where ConvolutionPlan.winogradApplies(g, outChannels: outChannels, variant: variant, on: dy.device),
                 .winograd4x4 where ConvolutionPlan.winogradApplies(g, outChannels: outChannels, variant: variant, on: dy.device):
                return try Winograd.backwardFilter(dy, x: x, weightShape: weightShape, g, tile: self == .winograd ? .two : .four)
            case .directConvolution where ConvOps.directApplies(g, variant: variant, on: dy.device):
                return try ConvOps.directFilterGradient(dy, x: x, weightShape: weightShape, g)
            case .direct, .directTransposed, .sideBySide, .winograd, .winograd4x4, .directConvolution:
                // (Side by side, Winograd or the direct convolution where they do not apply:
                // as direct.) Pointwise: x is the column matrix. Otherwise im2col a group at a
                // time, each group's sum added to the groups' before it. Transposed: dWᵀ[rows,
                // O] = Σ_n cols_n · dy_nᵀ, then turned, so a GEMM that copies its Bᵀ into
                // panels copies dy (O·P floats an image) rather than the columns (rows·P).
                let transposed = self == .directTransposed
                let sum = try Tensor(uninitializedOn: dy.device, shape: transposed ? [rows, outChannels] : weightShape)
                try eachGroup(g, rows: rows, variant: variant, on: dy.device) { images, buffer in
                    let cols = g.isPointwise ? MatrixOperand(x, offset: images.lowerBound * rows * plane)
                        : MatrixOperand(try im2col(x, g, images: images, into: buffer, variant: variant))
                    let gradient = MatrixOperand(dy, offset: images.lowerBound * outChannels * plane)
                    let (a, strideA, b, strideB) = transposed ? (cols, rows * plane, gradient, outChannels * plane)
                        : (gradient, outChannels * plane, cols, rows * plane)
                    try Gemm.multiplyBatched(transposeB: true, m: transposed ? rows : outChannels, n: transposed ? outChannels : rows,
                                             k: plane, a, strideA: strideA, b, strideB: strideB,
                                             beta: images.lowerBound == 0 ? 0 : 1,
                                             into: MatrixOperand(sum), strideC: 0, batch: 1, sumOver: images.count)
                }
                guard transposed else { return sum }
                let dweight = try Tensor(uninitializedOn: dy.device, shape: weightShape)
                try GemmKernels.transpose(sum, offset: 0, ld: outChannels, stride: 0, rows: rows, cols: outChannels, sets: 1,
                                          into: dweight, staged: (variant ?? KernelVariant.default(for: dy.device)) == .elementwise)
                return dweight
            case .perSample:
                let partial = try Tensor(uninitializedOn: dy.device, shape: [g.batch, outChannels * rows])
                try eachGroup(g, rows: rows, variant: variant, on: dy.device, columnsOfPointwise: true) { images, buffer in
                    let colsT = try im2colTransposed(x, g, images: images, into: buffer, variant: variant)
                    try Gemm.multiplyBatched(m: outChannels, n: rows, k: plane,
                                             MatrixOperand(dy, offset: images.lowerBound * outChannels * plane),
                                             strideA: outChannels * plane, MatrixOperand(colsT), strideB: plane * rows,
                                             into: MatrixOperand(partial, offset: images.lowerBound * outChannels * rows),
                                             strideC: outChannels * rows, batch: images.count)
                }
                return try Reduce.sum(partial, axis: 0).reshaped(weightShape)
            case .summed:
                // Each group's sum added to the groups' before it (beta 1 after the first).
                let dweight = try Tensor(uninitializedOn: dy.device, shape: weightShape)
                try eachGroup(g, rows: rows, variant: variant, on: dy.device, columnsOfPointwise: true) { images, buffer in
                    let colsT = try im2colTransposed(x, g, images: images, into: buffer, variant: variant)
                    try Gemm.multiplyBatched(m: outChannels, n: rows, k: plane,
                                             MatrixOperand(dy, offset: images.lowerBound * outChannels * plane),
                                             strideA: outChannels * plane, MatrixOperand(colsT), strideB: plane * rows,
                                             beta: images.lowerBound == 0 ? 0 : 1,
                                             into: MatrixOperand(dweight), strideC: 0, batch: 1, sumOver: images.count)
                }
                return dweight
            }
        }

        var storedName: String { rawValue }
        init?(storedName: String) { self.init(rawValue: storedName) }
    }

    /// The shape a `FilterGradientPlan` is chosen for.
    struct FilterGradientShape: PlannedShape {
        let outChannels: Int, rows: Int, plane: Int, batch: Int
        var pointwise = false
        /// Winograd is among the candidates (a 3 × 3 window at stride 1).
        var winograd = false
        var text: String {
            "conv weight gradient \(outChannels)x\(rows)x\(plane) x\(batch)" + (pointwise ? " pointwise" : "") + (winograd ? " 3x3/1" : "")
        }
    }

    /// The input gradient.                          dy: [N, O, OH, OW]  weight: [O, C, KH, KW]  ->  dx: [N, C, H, W]
    /// 3 × 3 windows at stride 1 may run as Winograd instead (`ConvolutionPlan`). With
    /// `adding` (a gradient the input already has, [N, C, H, W]), a pointwise window's
    /// GEMM adds dx into it (beta = 1) and returns it, where a separate sum would read
    /// both and write a third tensor; other windows return a new dx and leave it alone.
    public static func backwardData(_ dy: Tensor, weight: Tensor, _ g: WindowGeometry, variant: KernelVariant? = nil,
                                    adding soFar: Tensor? = nil) throws -> Tensor {
        let plan = try ConvolutionPlan.chosen(.inputGradient, g, outChannels: weight.shape[0], variant: variant, on: dy.device) {
            _ = try backwardData(dy, weight: weight, g, variant: variant, plan: $0)
        }
        return try backwardData(dy, weight: weight, g, variant: variant, plan: plan, adding: soFar)
    }

    static func backwardData(_ dy: Tensor, weight: Tensor, _ g: WindowGeometry, variant: KernelVariant?,
                             plan: ConvolutionPlan, adding soFar: Tensor? = nil) throws -> Tensor {
        if let tile = plan.winogradTile { return try Winograd.backwardData(dy, weight: weight, g, tile: tile) }
        // (The direct plan is a forward one: as transposed, whose forward is planned.)
        if plan == .transposed || plan == .direct { return try backwardDataAsForward(dy, weight: weight, g, variant: variant) }
        let outChannels = weight.shape[0]
        let rows = g.channels * g.kernelHeight * g.kernelWidth
        let plane = g.outputPlane
        let shape = [g.batch, g.channels, g.height, g.width]
        let planesSideBySide = sideBySide(g, variant: variant, on: dy.device)
        // The sum to add into: a pointwise window's GEMM writes dx itself, apart from
        // side-by-side planes (whose product is turned round into dx afterwards).
        let sum = g.isPointwise && !planesSideBySide ? soFar.flatMap { $0.shape == shape ? $0 : nil } : nil
        let dx = try sum ?? Tensor(uninitializedOn: dy.device, shape: shape)
        guard dx.count > 0 else { return dx }
        // dcols_n[rows, P] = W[O, rows]^T · dy_n[O, P]; for a pointwise window col2im is
        // the identity, so the product is dx itself. Small planes side by side:
        // dcols[rows, G·P] = Wᵀ · dY[O, G·P], dY gathered from dy's images.
        if planesSideBySide {
            try eachGroup(g, rows: rows, variant: variant, on: dy.device, columnsOfPointwise: true) { images, dcols in
                let gathered = try sideBySideGradient(dy, g, images: images, outChannels: outChannels)
                try Gemm.multiplyBatched(transposeA: true, m: rows, n: images.count * plane, k: outChannels,
                                         MatrixOperand(weight), strideA: 0, MatrixOperand(gathered), strideB: 0,
                                         into: MatrixOperand(dcols!), strideC: 0, batch: 1)
                if g.isPointwise {
                    try Layout.swapLeadingAxes(dcols!, a: rows, b: images.count, r: plane, into: dx, at: images.lowerBound * rows * plane)
                } else {
                    try col2im(dcols!, g, images: images, into: dx, variant: .rows, sideBySide: true)
                }
            }
            return dx
        }
        try eachGroup(g, rows: rows, variant: variant, on: dy.device) { images, dcols in
            let target = g.isPointwise ? MatrixOperand(dx, offset: images.lowerBound * rows * plane) : MatrixOperand(dcols!)
            try Gemm.multiplyBatched(transposeA: true, m: rows, n: plane, k: outChannels,
                                     MatrixOperand(weight), strideA: 0,
                                     MatrixOperand(dy, offset: images.lowerBound * outChannels * plane), strideB: outChannels * plane,
                                     beta: sum == nil ? 0 : 1, into: target, strideC: rows * plane, batch: images.count)
            if !g.isPointwise { try col2im(dcols!, g, images: images, into: dx, variant: variant) }
        }
        return dx
    }

    /// The input gradient as a forward convolution (`ConvolutionPlan.transposed`, stride 1):
    /// dx[n, c, h, w] = Σ dy[n, o, h − K + 1 + P + i, …] · W[o, c, K − 1 − i, …] over o and
    /// the taps i, dy padded by K − 1 − P before.
    ///                                              dy: [N, O, OH, OW]  weight: [O, C, KH, KW]  ->  dx: [N, C, H, W]
    static func backwardDataAsForward(_ dy: Tensor, weight: Tensor, _ g: WindowGeometry, variant: KernelVariant?) throws -> Tensor {
        let (outChannels, taps) = (weight.shape[0], g.kernelHeight * g.kernelWidth)
        let flipped = try Tensor(uninitializedOn: dy.device, shape: [g.channels, outChannels, g.kernelHeight, g.kernelWidth])
        try dy.device.launch("conv", "flip_filters", global: [weight.count],
                             [.tensor(weight), .tensor(flipped), .size(outChannels), .size(g.channels), .size(taps)])
        return try forward(dy, weight: flipped, bias: nil, ConvolutionPlan.transposedGeometry(g, outChannels: outChannels),
                           variant: variant)
    }

    // MARK: - Depthwise

    /// Depthwise forward with multiplier M, adding `bias` and applying `activation` (linear,
    /// ReLU or ReLU6) as each output is stored; with `inputReLU`, of max(x, 0) (a ReLU
    /// layer below whose output nothing else reads, applied as x is loaded).
    ///                                              x: [N, C, H, W]  weight: [C·M, 1, KH, KW]  bias: [C·M]
    ///                                              ->  [N, C·M, OH, OW]
    /// Direct: CPU-style one output row per work-item, GPU-style one output per work-item.
    public static func depthwiseForward(_ x: Tensor, weight: Tensor, multiplier: Int, _ g: WindowGeometry, bias: Tensor? = nil,
                                        activation: ActivationKind = .linear, inputReLU: Bool = false,
                                        variant: KernelVariant? = nil) throws -> Tensor {
        let outChannels = g.channels * multiplier
        if let bias, bias.count != outChannels { throw LumenError.shapeMismatch("bias \(bias.shape) for \(outChannels) channels") }
        let y = try Tensor(uninitializedOn: x.device, shape: [g.batch, outChannels, g.outHeight, g.outWidth])
        guard y.count > 0 else { return y }
        // Without a bias the kernel is handed the weight (as the GEMM kernels are A): a
        // written buffer, should a compiler hoist the unused load.
        let arguments: [KernelArgument] = [.tensor(x), .tensor(weight), .tensor(y)] + depthwiseSizes(g, multiplier)
            + [.tensor(bias ?? weight), .int(try GemmKernels.epilogue(rowBias: bias, activation) | (inputReLU ? 8 : 0))]
        switch variant ?? KernelVariant.default(for: x.device) {
        case .rows where g.stride == 1 && g.outHeight == g.height && g.outWidth == g.width && g.width < 16:
            // Rows narrower than a chunk: a whole plane per work-item, by flat chunks.
            try x.device.launch("conv", "depthwise_forward_plane", global: [g.batch * outChannels], local: [1], arguments)
        case .rows:
            let rows = KernelVariant.rowsPerWorkItem(rows: g.outHeight, width: g.outWidth)
            try x.device.launch("conv", "depthwise_forward_rows", global: [(g.outHeight + rows - 1) / rows, g.batch * outChannels],
                                local: [1, 1], arguments + [.size(rows)])
        case .elementwise:
            try x.device.launch("conv", "depthwise_forward", global: [g.outputPlane, g.batch * outChannels], arguments)
        }
        return y
    }

    /// Depthwise backward.                          dy: [N, C·M, OH, OW]  ->  dx: [N, C, H, W], dweight: [C·M, 1, KH, KW]
    /// CPU-style: a block of input-gradient rows per work-item, and each channel's whole filter
    /// gradient in one work-item (windows up to 7 × 7); GPU-style: one input-gradient
    /// element per work-item, and each weight's gradient summed by a work-group.
    public static func depthwiseBackward(_ dy: Tensor, x: Tensor, weight: Tensor, multiplier: Int, _ g: WindowGeometry,
                                         needInputGradient: Bool, variant: KernelVariant? = nil) throws -> (dx: Tensor?, dweight: Tensor) {
        let shared = depthwiseSizes(g, multiplier)
        let rows = (variant ?? KernelVariant.default(for: dy.device)) == .rows
        let dweight = try Tensor(uninitializedOn: dy.device, shape: weight.shape)
        if rows && g.kernelHeight * g.kernelWidth <= 49 {
            try dy.device.launch("conv", "depthwise_backward_filter_rows", global: [g.channels * multiplier], local: [1],
                                 [.tensor(x), .tensor(dy), .tensor(dweight)] + shared)
        } else {
            let weights = g.channels * multiplier * g.kernelHeight * g.kernelWidth
            let (global, local) = try ReductionGroups.onePer(weights, kernel: "depthwise_backward_filter", program: "conv", on: dy.device)
            try dy.device.launch("conv", "depthwise_backward_filter", global: global, local: local,
                                 [.tensor(x), .tensor(dy), .tensor(dweight)] + shared)
        }
        guard needInputGradient else { return (nil, dweight) }
        let dx = try Tensor(uninitializedOn: dy.device, shape: x.shape)
        if dx.count > 0 {
            if rows {
                let rows = KernelVariant.rowsPerWorkItem(rows: g.height, width: g.width)
                try dy.device.launch("conv", "depthwise_backward_data_rows", global: [(g.height + rows - 1) / rows, g.batch * g.channels],
                                     local: [1, 1], [.tensor(dy), .tensor(weight), .tensor(dx)] + shared + [.size(rows)])
            } else {
                try dy.device.launch("conv", "depthwise_backward_data", global: [g.inputPlane, g.batch * g.channels],
                                     [.tensor(dy), .tensor(weight), .tensor(dx)] + shared)
            }
        }
        return (dx, dweight)
    }

    /// N, C, H, W, M and the window: what every depthwise kernel takes after its tensors.
    private static func depthwiseSizes(_ g: WindowGeometry, _ multiplier: Int) -> [KernelArgument] {
        [.size(g.batch), .size(g.channels), .size(g.height), .size(g.width), .size(multiplier)] + Array(g.kernelArguments.dropFirst(2))
    }
}
