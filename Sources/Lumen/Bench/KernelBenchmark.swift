import Foundation

/// Kernel speeds on one device: GEMM in GFLOP/s for each backend (CLBlast, Lumen's own)
/// on square shapes and a model's im2col shapes, and memory-bound ops in GB/s.
public enum KernelBenchmark {
    public struct GemmResult: Encodable {
        public let shape: String
        public let m: Int, n: Int, k: Int
        public let clblastGFLOPs: Double
        public let lumenGFLOPs: Double
        enum CodingKeys: String, CodingKey {
            case shape, m, n, k, clblastGFLOPs = "clblast_gflops", lumenGFLOPs = "lumen_gflops"
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
        public let gemm: [GemmResult]
        public let bandwidth: [BandwidthResult]
        enum CodingKeys: String, CodingKey { case device, gemm, bandwidth, firstKernelSeconds = "first_kernel_seconds" }
    }

    /// The GEMMs of a model's convolutions (M = filters, N = output pixels, K = C·KH·KW),
    /// as one sample of a batch sees them, plus 1024³.
    public static func gemmShapes(for spec: ModelSpec) throws -> [(String, Int, Int, Int)] {
        var shapes: [(String, Int, Int, Int)] = []
        var input = spec.channelsFirstInput
        var factory = LayerFactory(seed: 0)
        for layerSpec in spec.layers {
            let (_, layer) = try factory.make(layerSpec)
            let output = try layer.outputShape(for: input)
            if let conv = layer as? Conv2D {
                shapes.append(("\(conv.name) forward", output[0], output[1] * output[2], input[0] * conv.kernelSize * conv.kernelSize))
            }
            input = output
        }
        return shapes + [("square", 1024, 1024, 1024)]
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

    public static func run(device: Device, shapes: [(String, Int, Int, Int)], runs: Int = 3) throws -> Report {
        let started = Date()
        try Elementwise.fill(try Tensor(uninitializedOn: device, shape: [16]), with: 0)
        try device.synchronize()
        let firstKernel = Date().timeIntervalSince(started)
        try GemmSelfCheck.require(on: device)
        var gemm: [GemmResult] = []
        for (name, m, n, k) in shapes {
            let a = try Tensor(on: device, shape: [m * k], repeating: 0.5)
            let b = try Tensor(on: device, shape: [k * n], repeating: 0.25)
            let c = try Tensor(uninitializedOn: device, shape: [m * n])
            let flops = 2.0 * Double(m) * Double(n) * Double(k)
            func measure(_ backend: GemmChooser.Backend) throws -> Double {
                let call = {
                    switch backend {
                    case .clblast:
                        try Gemm.multiplyUnchecked(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1,
                                                   MatrixOperand(a), MatrixOperand(b), beta: 0, into: MatrixOperand(c), temp: nil)
                    case .lumen:
                        try LumenGemm.multiply(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, MatrixOperand(a),
                                               strideA: 0, MatrixOperand(b), strideB: 0, beta: 0, into: MatrixOperand(c),
                                               strideC: 0, batch: 1)
                    }
                    try device.synchronize()
                }
                try call()  // warm-up (and compilation)
                return flops / 1e9 / (try medianSeconds(runs, call))
            }
            gemm.append(GemmResult(shape: "\(name) \(m)x\(n)x\(k)", m: m, n: n, k: k,
                                   clblastGFLOPs: try measure(.clblast), lumenGFLOPs: try measure(.lumen)))
        }
        // Memory-bound ops on 16M floats (64 MB per tensor).
        let count = 16 << 20
        let x = try Tensor(on: device, shape: [count], repeating: 1), y = try Tensor(on: device, shape: [count], repeating: 2)
        var bandwidth: [BandwidthResult] = []
        func rate(_ op: String, bytes: Double, _ body: @escaping () throws -> Void) throws {
            try body()
            try device.synchronize()
            let seconds = try medianSeconds(runs) { try body(); try device.synchronize() }
            bandwidth.append(BandwidthResult(op: op, gigabytesPerSecond: bytes / 1e9 / seconds))
        }
        let bytes = Double(count) * 4
        try rate("axpy (y += a·x)", bytes: 3 * bytes) { try Elementwise.axpy(0.5, x, y) }
        try rate("relu forward", bytes: 2 * bytes) { _ = try ActivationOps.forward(x, .relu) }
        let images = try x.reshaped([16, 64, 128, 128])
        let window = try WindowGeometry(input: images.shape, kernel: (2, 2), stride: 2, padding: .valid)
        try rate("max pool 2×2 forward", bytes: 1.5 * bytes) { _ = try Pooling.maxForward(images, window) }
        try rate("batch norm statistics", bytes: 2 * bytes) { _ = try BatchNormOps.statistics(images) }
        let parameter = Parameter(name: "p", value: x)
        parameter.gradient = y
        let adam = Adam()
        try rate("Adam update", bytes: 7 * bytes) { try adam.step([parameter]) }
        return Report(device: device.info.label, firstKernelSeconds: firstKernel, gemm: gemm, bandwidth: bandwidth)
    }
}
