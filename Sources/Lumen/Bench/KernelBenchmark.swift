import Foundation

/// Kernel speeds on one device: GEMM in GFLOP/s for every backend (CLBlast and each of
/// Lumen's tiles) on a model's im2col shapes and 1024³; convolution forward,
/// backward-data and backward-filter in GFLOP/s at the model's layers; memory-bound ops
/// in GB/s; and how long a kernel program takes to compile, cold and warm.
public enum KernelBenchmark {
    public struct GemmResult: Encodable {
        public let shape: String
        public let m: Int, n: Int, k: Int
        /// GFLOP/s per backend name (`clblast`, `lumen-8x32`, …).
        public internal(set) var gflops: [String: Double]
    }

    public struct ConvResult: Encodable {
        public let layer: String
        public let batch: Int
        public let forwardGFLOPs: Double, backwardDataGFLOPs: Double, backwardFilterGFLOPs: Double
        enum CodingKeys: String, CodingKey {
            case layer, batch, forwardGFLOPs = "forward_gflops", backwardDataGFLOPs = "backward_data_gflops"
            case backwardFilterGFLOPs = "backward_filter_gflops"
        }
    }

    public struct BandwidthResult: Encodable {
        public let op: String
        public let gigabytesPerSecond: Double
        enum CodingKeys: String, CodingKey { case op, gigabytesPerSecond = "gb_per_second" }
    }

    public struct Report: Encodable {
        public let device: String
        public let firstKernelSeconds: Double
        public let compileColdSeconds: Double, compileWarmSeconds: Double
        public let gemm: [GemmResult]
        public let conv: [ConvResult]
        public let bandwidth: [BandwidthResult]
        enum CodingKeys: String, CodingKey {
            case device, gemm, conv, bandwidth, firstKernelSeconds = "first_kernel_seconds"
            case compileColdSeconds = "compile_cold_seconds", compileWarmSeconds = "compile_warm_seconds"
        }
    }

    /// One convolution of a model: its input [C, H, W] and its layer.
    public struct ConvShape {
        public let name: String
        public let input: [Int]
        public let filters: Int, kernelSize: WindowSize, stride: Int
        public let padding: Padding
    }

    /// The model's convolutions, in order.
    public static func convShapes(for spec: ModelSpec) throws -> [ConvShape] {
        var shapes: [ConvShape] = []
        var factory = LayerFactory(seed: 0)
        let made = try spec.layers.map { try factory.make($0) }
        let inputs = try Model.connections(made.map(\.0), inputName: spec.resolvedInputName)
        var outputs: [[Int]] = []
        /// The layer's convolutions, a residual block's paths included, for an input of `shape`.
        func collect(_ layer: Layer, _ shape: [Int]) throws {
            if let conv = layer as? Conv2D {
                shapes.append(ConvShape(name: conv.name, input: shape, filters: conv.filters, kernelSize: conv.kernelSize,
                                        stride: conv.stride, padding: conv.padding))
            } else if let block = layer as? Residual {
                for path in [block.main, block.shortcut] {
                    _ = try path.reduce(shape) { shape, inner in
                        try collect(inner, shape)
                        return try inner.outputShape(for: shape)
                    }
                }
            }
        }
        for ((_, layer), sources) in zip(made, inputs) {
            let given = sources.map { $0 < 0 ? spec.channelsFirstInput : outputs[$0] }
            try collect(layer, given[0])
            outputs.append(try layer.outputShape(forInputs: given))
        }
        return shapes
    }

    /// The forward GEMMs of the model's convolutions (M = filters, N = output pixels,
    /// K = C·KH·KW) as one sample of a batch sees them, plus 1024³.
    public static func gemmShapes(for convolutions: [ConvShape]) throws -> [(String, Int, Int, Int)] {
        try convolutions.map { conv in
            let g = try WindowGeometry(input: [1] + conv.input, kernel: (conv.kernelSize.height, conv.kernelSize.width),
                                       stride: conv.stride, padding: conv.padding)
            return ("\(conv.name) forward", conv.filters, g.outputPlane, conv.input[0] * conv.kernelSize.area)
        } + [("square", 1024, 1024, 1024)]
    }

    static func medianSeconds(_ runs: Int, _ body: () throws -> Void) throws -> Double {
        var times: [Double] = []
        for _ in 0..<runs {
            let start = Date()
            try body()
            times.append(Date().timeIntervalSince(start))
        }
        return times.sorted()[times.count / 2]
    }

    /// A warm-up call (which also compiles), then the median of `runs` timed calls, each
    /// waiting for the device to finish.
    static func timed(_ device: Device, runs: Int, _ body: () throws -> Void) throws -> Double {
        try body()
        try device.synchronize()
        return try medianSeconds(runs) {
            try body()
            try device.synchronize()
        }
    }

    public static func run(device: Device, convolutions: [ConvShape], batch: Int = 16, runs: Int = 3,
                           progress: (String) -> Void = { _ in }) throws -> Report {
        let started = Date()
        // CLBlast's defaults are timed first; a stored tuning (lumen tune-clblast) after.
        let planner = GemmPlanner.of(device)
        planner.defersClblastTuning = true
        try Elementwise.fill(try Tensor(uninitializedOn: device, shape: [16]), with: 0)
        try device.synchronize()
        let firstKernel = Date().timeIntervalSince(started)
        progress("compile times")
        let compile = try device.measureCompile("conv")
        try planner.requireCheckedGemm()

        var gemm: [GemmResult] = []
        let shapes = try gemmShapes(for: convolutions)
        func measureGemm(_ shape: (String, Int, Int, Int), _ backend: GemmBackend) throws -> Double {
            let (_, m, n, k) = shape
            let a = try Tensor(on: device, shape: [m * k], repeating: 0.5)
            let b = try Tensor(on: device, shape: [k * n], repeating: 0.25)
            let c = try Tensor(uninitializedOn: device, shape: [m * n])
            let seconds = try timed(device, runs: runs) {
                try Gemm.Call(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: MatrixOperand(a), strideA: 0,
                              b: MatrixOperand(b), strideB: 0, c: MatrixOperand(c), strideC: 0, batch: 1)
                    .run(on: backend, beta: 0)
            }
            return 2.0 * Double(m) * Double(n) * Double(k) / 1e9 / seconds
        }
        for shape in shapes {
            progress("GEMM \(shape.0)")
            var rates: [String: Double] = [:]
            for backend in GemmBackend.allCases where backend.supports(transposeA: false, transposeB: false) {
                rates[backend.name] = try measureGemm(shape, backend)
            }
            gemm.append(GemmResult(shape: "\(shape.0) \(shape.1)x\(shape.2)x\(shape.3)", m: shape.1, n: shape.2, k: shape.3,
                                   gflops: rates))
        }
        if try planner.applyClblastTuning() != nil {
            for (index, shape) in shapes.enumerated() {
                progress("GEMM \(shape.0), tuned CLBlast")
                gemm[index].gflops["clblast-tuned"] = try measureGemm(shape, .clblast)
            }
        }

        // Convolutions as training runs them: the whole batch, the backend the chooser picks.
        var conv: [ConvResult] = []
        for shape in convolutions {
            progress("convolution \(shape.name)")
            let x = try Tensor(on: device, shape: [batch] + shape.input, repeating: 0.5)
            let g = try WindowGeometry(input: x.shape, kernel: (shape.kernelSize.height, shape.kernelSize.width), stride: shape.stride,
                                       padding: shape.padding)
            let weight = try Tensor(on: device, shape: [shape.filters, shape.input[0], shape.kernelSize.height, shape.kernelSize.width],
                                    repeating: 0.1)
            let bias = try Tensor(on: device, shape: [shape.filters], repeating: 0.1)
            let flops = 2.0 * Double(batch * g.outputPlane * shape.filters) * Double(weight.count / shape.filters) / 1e9
            let forward = try timed(device, runs: runs) { _ = try ConvOps.forward(x, weight: weight, bias: bias, g) }
            let dy = try Tensor(on: device, shape: [batch, shape.filters, g.outHeight, g.outWidth], repeating: 0.01)
            let data = try timed(device, runs: runs) { _ = try ConvOps.backwardData(dy, weight: weight, g) }
            let filter = try timed(device, runs: runs) {
                _ = try ConvOps.backwardFilter(dy, x: x, weightShape: weight.shape, g)
            }
            conv.append(ConvResult(layer: shape.name, batch: batch, forwardGFLOPs: flops / forward,
                                   backwardDataGFLOPs: flops / data, backwardFilterGFLOPs: flops / filter))
        }

        // Memory-bound ops on 16M floats (64 MB per tensor).
        progress("memory-bound ops")
        let count = 16 << 20
        let x = try Tensor(on: device, shape: [count], repeating: 1), y = try Tensor(on: device, shape: [count], repeating: 2)
        var bandwidth: [BandwidthResult] = []
        func rate(_ op: String, bytes: Double, _ body: () throws -> Void) throws {
            bandwidth.append(BandwidthResult(op: op, gigabytesPerSecond: bytes / 1e9 / (try timed(device, runs: runs, body))))
        }
        let bytes = Double(count) * 4
        try rate("axpy (y += a·x)", bytes: 3 * bytes) { try Elementwise.axpy(0.5, x, y) }
        try rate("relu forward", bytes: 2 * bytes) { _ = try ActivationOps.forward(x, .relu) }
        let images = try x.reshaped([16, 64, 128, 128])
        let window = try WindowGeometry(input: images.shape, kernel: (2, 2), stride: 2, padding: .valid)
        var argmax: Tensor?
        try rate("max pool 2×2 forward", bytes: 1.5 * bytes) { argmax = try Pooling.maxForward(images, window).argmax }
        let pooledGradient = try Tensor(on: device, shape: [16, 64, 64, 64], repeating: 1)
        try rate("max pool 2×2 backward", bytes: 1.5 * bytes) {
            _ = try Pooling.maxBackward(pooledGradient, argmax: argmax!, window)
        }
        // InceptionV3's pools: 3×3 stride 2 reductions, 3×3 stride 1 "same" averages on 17×17 maps.
        let overlapping = try WindowGeometry(input: images.shape, kernel: (3, 3), stride: 2, padding: .valid)
        try rate("max pool 3×3/2 forward", bytes: (1 + 2.0 / 4) * bytes) { _ = try Pooling.maxForward(images, overlapping) }
        try rate("max pool 3×3/2 forward, no argmax", bytes: (1 + 1.0 / 4) * bytes) {
            _ = try Pooling.maxForwardWithoutArgmax(images, overlapping)
        }
        let maps = try Tensor(on: device, shape: [32, 768, 17, 17], repeating: 1)
        let average = try WindowGeometry(input: maps.shape, kernel: (3, 3), stride: 1, padding: .same)
        let mapBytes = Double(maps.count) * 4
        try rate("avg pool 3×3/1 forward, 17² maps", bytes: 2 * mapBytes) { _ = try Pooling.averageForward(maps, average) }
        try rate("avg pool 3×3/1 backward, 17² maps", bytes: 2 * mapBytes) { _ = try Pooling.averageBackward(maps, average) }
        // A weight gradient's B (the 17² maps' columns, transposed) and a forward's B copied into 64-column panels.
        try rate("GEMM panels from Bᵀ, 768 × 289 per image", bytes: 2 * mapBytes) {
            _ = try GemmKernels.packPanels(maps, offset: 0, ld: 289, stride: 768 * 289, transposed: true, rows: 289, cols: 768,
                                           sets: 32, width: 64)
        }
        try rate("GEMM panels from B, 768 × 289 per image", bytes: 2 * mapBytes) {
            _ = try GemmKernels.packPanels(maps, offset: 0, ld: 289, stride: 768 * 289, transposed: false, rows: 768, cols: 289,
                                           sets: 32, width: 64)
        }
        let (mean, variance) = try BatchNormOps.statistics(images)
        try rate("batch norm statistics", bytes: bytes) { _ = try BatchNormOps.statistics(images) }
        let shift = try Tensor(on: device, shape: [64], repeating: 0)
        try rate("batch norm normalize", bytes: 2 * bytes) {
            _ = try BatchNormOps.normalize(images, gamma: nil, beta: shift, mean: mean, variance: variance, epsilon: 1e-3)
        }
        let parameter = Parameter(name: "p", value: x)
        parameter.gradient = y
        let adam = Adam()
        try rate("Adam update", bytes: 7 * bytes) { try adam.step([parameter]) }
        return Report(device: device.info.label, firstKernelSeconds: firstKernel, compileColdSeconds: compile.cold,
                      compileWarmSeconds: compile.warm, gemm: gemm, conv: conv, bandwidth: bandwidth)
    }
}
