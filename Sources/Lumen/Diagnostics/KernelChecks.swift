import Foundation

/// Every kernel Lumen launches, run on one device in its kernel family (`KernelStyle`)
/// on small shapes and compared with the plain-Swift twins in `HostReference`: what
/// `lumen self-test --full` prints, one `KernelCheck` a line.
public enum KernelChecks {
    /// The checks by group, in the order they run: `lumen self-test --full --only NAME`
    /// runs some of them.
    public static let groups: [(name: String, run: (Device) -> [KernelCheck])] = [
        ("gemm", gemm), ("conv2d", convolution), ("direct", direct), ("winograd", winograd), ("depthwise", depthwise), ("pooling", pooling),
        ("global-pooling", globalPooling), ("batchnorm", batchNorm), ("activations", activations),
        ("reductions", reductions), ("layout", layout), ("elementwise", elementwise), ("dropout", dropout), ("loss", loss),
    ]

    /// Runs the checks of the groups named in `only` (every group when nil) on
    /// `device`, telling `progress` each result as it is known.
    public static func run(on device: Device, only: Set<String>? = nil, progress: (KernelCheck) -> Void = { _ in }) -> [KernelCheck] {
        var results: [KernelCheck] = []
        for group in groups where only?.contains(group.name) ?? true {
            for check in group.run(device) {
                progress(check)
                results.append(check)
            }
        }
        return results
    }

    /// Settles each check's verdict; an error that stopped them fails those still open.
    static func finished(_ checks: [KernelCheck], error: Error? = nil) -> [KernelCheck] {
        checks.map { check in
            var check = check
            if let error { check.fail("stopped: \(error)") }
            check.finish()
            return check
        }
    }

    /// Each GEMM kernel of the device's family with every transpose it takes, batched,
    /// summing pairs of operands, with and without the bias + ReLU epilogue and beta;
    /// then `Gemm`'s own choice per shape (CLBlast unless it failed its check or a Lumen
    /// kernel is forced).
    static func gemm(on device: Device) -> [KernelCheck] {
        // (9, 150, 20): three 64-column panels, the last part-filled.
        let shapes = [(1, 1, 1), (2, 3, 5), (17, 33, 40), (65, 31, 70), (9, 150, 20)]
        var tiles: [GemmBackend] = GemmKernels.Tile.allCases.filter { $0.suits(device) }.map { .lumen($0) }
        tiles.append(.clblast)
        return tiles.map { backend in
            let name = backend.tile.map { "GEMM lumen-\($0.rawValue)" } ?? "GEMM as planned (CLBlast or the fastest Lumen tile)"
            return KernelCheck.run(name, on: device, tolerance: 1e-5) { check in
                for (index, (m, n, k)) in shapes.enumerated() {
                    for transposeA in [false, true] {
                        for transposeB in [false, true] {
                            if let tile = backend.tile, !tile.supports(transposeA: transposeA, transposeB: transposeB) { continue }
                            // Shapes 1 and 3 add a bias and apply ReLU, then ReLU6.
                            let epilogue: ActivationKind? = index % 2 == 0 ? nil : index == 1 ? .relu : .relu6
                            try compareGemm(&check, on: device, tile: backend.tile, m: m, n: n, k: k, transposeA: transposeA,
                                            transposeB: transposeB, epilogue: epilogue, seed: UInt64(index * 4 + 1))
                        }
                    }
                }
            }
        }
    }

    /// One batched product of 2 outputs, each the sum of 2 operand pairs.
    private static func compareGemm(_ check: inout KernelCheck, on device: Device, tile: GemmKernels.Tile?, m: Int, n: Int, k: Int,
                                    transposeA: Bool, transposeB: Bool, epilogue: ActivationKind?, seed: UInt64) throws {
        let (batch, sumOver) = (2, 2)
        let sets = batch * sumOver
        let a = checkValues(sets * m * k, seed: seed), b = checkValues(sets * k * n, seed: seed + 1)
        // The bias spreads values across 0 and 6, so both of ReLU6's bounds apply.
        let c = checkValues(batch * m * n, seed: seed + 2), bias = checkValues(m, seed: seed + 3).map { $0 * 8 }
        let (alpha, beta): (Float, Float) = epilogue != nil ? (0.5, 1) : (1, 0)
        var expected = [Float](repeating: 0, count: c.count)
        for z in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var total: Double = 0
                    for s in 0..<sumOver {
                        let (ao, bo) = ((z * sumOver + s) * m * k, (z * sumOver + s) * k * n)
                        for p in 0..<k {
                            let av = transposeA ? a[ao + p * m + i] : a[ao + i * k + p]
                            let bv = transposeB ? b[bo + j * k + p] : b[bo + p * n + j]
                            total += Double(av) * Double(bv)
                        }
                    }
                    let at = (z * m + i) * n + j
                    var value = Double(alpha) * total + Double(beta) * Double(c[at])
                    if let epilogue { value = min(max(value + Double(bias[i]), 0), epilogue == .relu6 ? 6 : .infinity) }
                    expected[at] = Float(value)
                }
            }
        }
        let at = try Tensor(on: device, shape: [sets * m * k], values: a)
        let bt = try Tensor(on: device, shape: [sets * k * n], values: b)
        let ct = try Tensor(on: device, shape: [batch * m * n], values: c)
        let biasTensor = epilogue != nil ? try Tensor(on: device, shape: [m], values: bias) : nil
        let place = "\(m)×\(n)×\(k)\(transposeA ? " Aᵀ" : "")\(transposeB ? " Bᵀ" : "")\(epilogue.map { " with bias, \($0.rawValue) and beta" } ?? "")"
        check.compare(place, {
            if let tile {
                try GemmKernels.multiply(tile: tile, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                         MatrixOperand(at), strideA: m * k, MatrixOperand(bt), strideB: k * n, beta: beta,
                                         into: MatrixOperand(ct), strideC: m * n, batch: batch, sumOver: sumOver,
                                         rowBias: biasTensor, activation: epilogue ?? .linear)
            } else {
                try Gemm.multiplyBatched(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                         MatrixOperand(at), strideA: m * k, MatrixOperand(bt), strideB: k * n, beta: beta,
                                         into: MatrixOperand(ct), strideC: m * n, batch: batch, sumOver: sumOver,
                                         rowBias: biasTensor, activation: epilogue ?? .linear)
            }
            return try ct.toArray()
        }, expected, floor: Float(k))
    }

    static func globalPooling(on device: Device) -> [KernelCheck] {
        let shapes = [[2, 3, 1, 1], [2, 3, 2, 3], [3, 5, 7, 9], [2, 3, 17, 19]]
        return [
            KernelCheck.run("global average pool forward and backward", on: device, tolerance: 1e-6) { check in
                for (index, shape) in shapes.enumerated() {
                    let (planes, plane) = (shape[0] * shape[1], shape[2] * shape[3])
                    let x = checkValues(planes * plane, seed: UInt64(index) + 1), dy = checkValues(planes, seed: UInt64(index) + 11)
                    let xt = try Tensor(on: device, shape: shape, values: x)
                    let dyt = try Tensor(on: device, shape: [shape[0], shape[1]], values: dy)
                    check.compare("\(shape) forward", { try Pooling.globalAverageForward(xt).toArray() },
                                  (0..<planes).map { p in x[(p * plane)..<(p * plane + plane)].reduce(0, +) / Float(plane) })
                    check.compare("\(shape) backward", { try Pooling.globalAverageBackward(dyt, inputShape: shape).toArray() },
                                  (0..<(planes * plane)).map { dy[$0 / plane] / Float(plane) })
                }
            },
            KernelCheck.run("global max pool forward and backward", on: device, tolerance: 0) { check in
                for (index, shape) in shapes.enumerated() {
                    let (planes, plane) = (shape[0] * shape[1], shape[2] * shape[3])
                    // Whole numbers on the last shape: ties, where the first maximum wins.
                    let x = checkValues(planes * plane, seed: UInt64(index) + 21).map { index == shapes.count - 1 ? ($0 * 2).rounded() : $0 }
                    let dy = checkValues(planes, seed: UInt64(index) + 31)
                    let xt = try Tensor(on: device, shape: shape, values: x)
                    let dyt = try Tensor(on: device, shape: [shape[0], shape[1]], values: dy)
                    let (y, argmax) = try Pooling.globalMaxForward(xt)
                    let best = (0..<planes).map { p in (p * plane..<(p * plane + plane)).max { x[$0] < x[$1] }! }
                    check.compare("\(shape) forward", { try y.toArray() }, best.map { x[$0] })
                    var dx = [Float](repeating: 0, count: x.count)
                    for (p, at) in best.enumerated() { dx[at] = dy[p] }
                    check.compare("\(shape) backward", { try Pooling.globalMaxBackward(dyt, argmax: argmax, inputShape: shape).toArray() }, dx)
                }
            },
        ]
    }

    /// Statistics, normalisation (alone and with a fused ReLU or ReLU6) and both backward
    /// passes, on channels of 1 to 294 values.
    static func batchNorm(on device: Device) -> [KernelCheck] {
        let shapes = [(2, 3, 1), (1, 2, 1), (2, 3, 6), (3, 5, 42), (2, 4, 147), (4, 16, 1024)]
        let activations: [ActivationKind] = [.linear, .relu, .relu6]
        let epsilon: Float = 1e-3
        var statistics = KernelCheck(family: device.kernelStyle, name: "batchnorm statistics", tolerance: 1e-5)
        var normalize = KernelCheck(family: device.kernelStyle, name: "batchnorm normalize (+ ReLU, ReLU6)", tolerance: 1e-5)
        var training = KernelCheck(family: device.kernelStyle, name: "batchnorm backward, batch statistics", tolerance: 1e-4)
        var frozen = KernelCheck(family: device.kernelStyle, name: "batchnorm backward, frozen", tolerance: 1e-5)
        do {
            for (index, (n, c, p)) in shapes.enumerated() {
                let seed = UInt64(index * 8)
                let x = checkValues(n * c * p, seed: seed + 1).map { $0 * 3 + 1 }
                let dy = checkValues(n * c * p, seed: seed + 2)
                let gamma = checkValues(c, seed: seed + 3).map { $0 * 4 }, beta = checkValues(c, seed: seed + 4).map { $0 * 3 + 1 }
                let xt = try Tensor(on: device, shape: [n, c, p], values: x), dyt = try Tensor(on: device, shape: [n, c, p], values: dy)
                let gt = try Tensor(on: device, shape: [c], values: gamma), bt = try Tensor(on: device, shape: [c], values: beta)
                let host = HostReference.channelStatistics(x, n: n, c: c, p: p)
                let (mean, variance) = try BatchNormOps.statistics(xt)
                statistics.compare("[\(n), \(c), \(p)] mean", { try mean.toArray() }, host.mean)
                statistics.compare("[\(n), \(c), \(p)] variance", { try variance.toArray() }, host.variance)
                let mt = try Tensor(on: device, shape: [c], values: host.mean), vt = try Tensor(on: device, shape: [c], values: host.variance)
                for activation in activations {
                    let place = "[\(n), \(c), \(p)]" + (activation == .linear ? "" : " with \(activation)")
                    let expectedY = HostReference.batchNorm(x, n: n, c: c, p: p, gamma: gamma, beta: beta, mean: host.mean,
                                                            variance: host.variance, epsilon: epsilon, activation: activation)
                    normalize.compare(place, {
                        try BatchNormOps.normalize(xt, gamma: gt, beta: bt, mean: mt, variance: vt, epsilon: epsilon,
                                                   activation: activation).toArray()
                    }, expectedY, floor: 1)
                    // The statistics and the output in one go (one kernel on CPU-style devices).
                    let together = try BatchNormOps.normalizeWithBatchStatistics(xt, gamma: gt, beta: bt, epsilon: epsilon,
                                                                                 activation: activation)
                    statistics.compare("\(place), with the output, mean", { try together.mean.toArray() }, host.mean)
                    statistics.compare("\(place), with the output, variance", { try together.variance.toArray() }, host.variance)
                    normalize.compare("\(place), with the statistics", { try together.y.toArray() }, expectedY, floor: 1)
                    for isTraining in [true, false] {
                        let expected = HostReference.batchNormBackward(dy, x: x, n: n, c: c, p: p, gamma: gamma, beta: beta,
                                                                       mean: host.mean, variance: host.variance, epsilon: epsilon,
                                                                       training: isTraining, activation: activation)
                        let result = try BatchNormOps.backward(dyt, x: xt, gamma: gt, beta: bt, mean: mt, variance: vt, epsilon: epsilon,
                                                               training: isTraining, activation: activation)
                        for (what, tensor, values, scale) in [("dx", result.dx, expected.dx, Float(4)),
                                                              ("dgamma", result.dgamma, expected.dgamma, Float(n * p)),
                                                              ("dbeta", result.dbeta, expected.dbeta, Float(n * p))] {
                            if isTraining {
                                training.compare("\(place) \(what)", { try tensor.toArray() }, values, floor: scale)
                            } else {
                                frozen.compare("\(place) \(what)", { try tensor.toArray() }, values, floor: scale)
                            }
                        }
                        // Synchronised BatchNorm's path (sums reduced across processes; here one, whose
                        // sums are the global ones), which runs the sums and dx as two kernels.
                        if isTraining {
                            let summed = try BatchNormOps.backward(dyt, x: xt, gamma: gt, beta: bt, mean: mt, variance: vt,
                                                                   epsilon: epsilon, training: true, activation: activation,
                                                                   sum: { $0 })
                            training.compare("\(place) dx, sums across one process", { try summed.dx.toArray() }, expected.dx, floor: 4)
                        }
                    }
                }
            }
        } catch {
            return finished([statistics, normalize, training, frozen], error: error)
        }
        return finished([statistics, normalize, training, frozen])
    }

    static func activations(on device: Device) -> [KernelCheck] {
        ActivationKind.allCases.filter { $0 != .linear }.map { kind in
            KernelCheck.run("\(kind.rawValue) forward and backward", on: device, tolerance: 1e-5) { check in
                for (rows, cols) in [(1, 1), (3, 2), (5, 37)] {
                    let x = checkValues(rows * cols, seed: UInt64(rows * cols)).map { $0 * 8 }
                    let dy = checkValues(rows * cols, seed: UInt64(rows * cols) + 1)
                    let xt = try Tensor(on: device, shape: [rows, cols], values: x)
                    let y = HostReference.activation(x, kind, alpha: 0.2, cols: cols)
                    check.compare("[\(rows), \(cols)] forward", { try ActivationOps.forward(xt, kind, alpha: 0.2).toArray() }, y)
                    let yt = try Tensor(on: device, shape: [rows, cols], values: y)
                    let dyt = try Tensor(on: device, shape: [rows, cols], values: dy)
                    check.compare("[\(rows), \(cols)] backward", { try ActivationOps.backward(dyt, y: yt, kind, alpha: 0.2).toArray() },
                                  HostReference.activationBackward(dy, y: y, kind, alpha: 0.2, cols: cols))
                }
            }
        }
    }

    static func reductions(on device: Device) -> [KernelCheck] {
        let shapes = [[1, 1, 1], [2, 3, 4], [3, 5, 37], [4, 33, 17], [3, 2, 300]]
        return [
            KernelCheck.run("sum over an axis", on: device, tolerance: 1e-5) { check in
                for (index, shape) in shapes.enumerated() {
                    let x = checkValues(shape.reduce(1, *), seed: UInt64(index) + 41)
                    let xt = try Tensor(on: device, shape: shape, values: x)
                    for axis in 0..<3 {
                        check.compare("\(shape) axis \(axis)", { try Reduce.sum(xt, axis: axis).toArray() },
                                      HostReference.sum(x, shape: shape, axis: axis), floor: Float(shape[axis]))
                    }
                }
            },
            KernelCheck.run("transpose of the last two axes", on: device, tolerance: 0) { check in
                for (index, shape) in shapes.enumerated() {
                    let x = checkValues(shape.reduce(1, *), seed: UInt64(index) + 51)
                    let xt = try Tensor(on: device, shape: shape, values: x)
                    check.compare("\(shape)", { try Transpose.lastTwo(xt).toArray() },
                                  HostReference.transpose(x, batch: shape[0], rows: shape[1], cols: shape[2]))
                }
            },
        ]
    }

    /// Concatenation and split along channels, and padding/cropping windows.
    static func layout(on device: Device) -> [KernelCheck] {
        [
            KernelCheck.run("concatenate and split channels", on: device, tolerance: 0) { check in
                for (index, (n, plane)) in [(1, 1), (2, 6), (3, 37)].enumerated() {
                    let sizes = [1, 3, 2]
                    let parts = sizes.enumerated().map { checkValues(n * $0.element * plane, seed: UInt64(index * 8 + $0.offset)) }
                    let tensors = try zip(sizes, parts).map { try Tensor(on: device, shape: [n, $0, plane], values: $1) }
                    var joined: [Float] = []
                    for sample in 0..<n {
                        for (size, part) in zip(sizes, parts) { joined += part[(sample * size * plane)..<((sample + 1) * size * plane)] }
                    }
                    let whole = try Layout.concatenate(tensors)
                    check.compare("[\(n), 6, \(plane)] concatenate", { try whole.toArray() }, joined)
                    let pieces = try Layout.split(whole, sizes: sizes)
                    for (piece, part) in zip(pieces, parts) { check.compare("[\(n), 6, \(plane)] split", { try piece.toArray() }, part) }
                }
            },
            KernelCheck.run("zero padding and cropping windows", on: device, tolerance: 0) { check in
                for (h, w) in [(1, 1), (2, 3), (5, 37)] {
                    let x = checkValues(2 * 3 * h * w, seed: UInt64(h * 100 + w))
                    let xt = try Tensor(on: device, shape: [2, 3, h, w], values: x)
                    for (dy, dx, height, width) in [(-1, -2, h + 3, w + 2), (0, 0, h, w), (h / 2, w / 2, h - h / 2, w - w / 2)] {
                        var expected: [Float] = []
                        for plane in 0..<6 {
                            for row in 0..<height {
                                for column in 0..<width {
                                    let (r, c) = (row + dy, column + dx)
                                    expected.append(r >= 0 && r < h && c >= 0 && c < w ? x[(plane * h + r) * w + c] : 0)
                                }
                            }
                        }
                        check.compare("\(h)×\(w) window at (\(dy), \(dx)) of \(height)×\(width)",
                                      { try Layout.window(xt, dy: dy, dx: dx, height: height, width: width).toArray() }, expected)
                    }
                }
            },
        ]
    }

    static func elementwise(on device: Device) -> [KernelCheck] {
        [KernelCheck.run("add, scale, axpy, multiply, affine, fill", on: device, tolerance: 1e-6) { check in
            for count in [1, 7, 1000, 70_000] {
                let a = checkValues(count, seed: UInt64(count)), b = checkValues(count, seed: UInt64(count) + 1)
                let at = try Tensor(on: device, shape: [count], values: a), bt = try Tensor(on: device, shape: [count], values: b)
                check.compare("add of \(count)", { try Elementwise.add(at, bt).toArray() }, zip(a, b).map(+))
                check.compare("scale of \(count)", { try Elementwise.scale(at, by: -2.5).toArray() }, a.map { $0 * -2.5 })
                check.compare("multiply of \(count)", { try Elementwise.multiply(at, bt).toArray() }, zip(a, b).map(*))
                check.compare("affine of \(count)", { try Elementwise.affine(at, scale: 2, offset: -1).toArray() }, a.map { $0 * 2 - 1 })
                check.compare("axpy of \(count)", {
                    let y = try Tensor(on: device, shape: [count], values: b)
                    try Elementwise.axpy(0.5, at, y)
                    return try y.toArray()
                }, zip(a, b).map { 0.5 * $0 + $1 })
                check.compare("zeros + x of \(count)", { try Elementwise.add(try Tensor.zeros(on: device, shape: [count]), at).toArray() }, a)
                check.compare("fill of \(count)", {
                    let y = try Tensor(uninitializedOn: device, shape: [count])
                    try Elementwise.fill(y, with: 0.25)
                    return try y.toArray()
                }, [Float](repeating: 0.25, count: count))
            }
        }]
    }

    static func dropout(on device: Device) -> [KernelCheck] {
        [KernelCheck.run("dropout forward and backward", on: device, tolerance: 0) { check in
            for (count, offset) in [(1, 0), (1000, 0), (999, 37)] {
                let x = checkValues(count, seed: UInt64(count)), dy = checkValues(count, seed: UInt64(count) + 1)
                let (y, mask) = try DropoutOps.forward(try Tensor(on: device, shape: [count], values: x), rate: 0.3, seed: 99,
                                                       offset: offset)
                let expected = Array(HostReference.dropoutMask(count: count + offset, rate: 0.3, seed: 99).dropFirst(offset))
                check.compare("\(count) values from \(offset) mask", { try mask.toArray() }, expected)
                check.compare("\(count) values from \(offset) forward", { try y.toArray() }, zip(x, expected).map(*))
                let dyt = try Tensor(on: device, shape: [count], values: dy)
                check.compare("\(count) values from \(offset) backward", { try DropoutOps.backward(dyt, mask: mask).toArray() },
                              zip(dy, expected).map(*))
            }
        }]
    }

    static func loss(on device: Device) -> [KernelCheck] {
        [KernelCheck.run("cross-entropy losses", on: device, tolerance: 1e-5) { check in
            for kind in [LossKind.binaryCrossentropy, .categoricalCrossentropy] {
                for (rows, outputs) in [(1, 1), (6, 3)] where kind == .binaryCrossentropy || outputs > 1 {
                    let logits = checkValues(rows * outputs, seed: UInt64(rows)).map { $0 * 5 }
                    let labels = (0..<rows).map { $0 % max(outputs, 2) }
                    let weights: [Float] = outputs == 1 ? [0.5, 2] : [0.5, 1, 3]
                    let loss = Loss(kind, labelSmoothing: 0.1, classWeights: weights)
                    let logitsTensor = try Tensor(on: device, shape: [rows, outputs], values: logits)
                    let expected = HostReference.loss(kind, logits: logits, outputs: outputs, labels: labels, smoothing: 0.1,
                                                      weights: weights)
                    check.compare("\(kind) [\(rows), \(outputs)]", { [try loss.evaluate(logits: logitsTensor, labels: labels).loss] },
                                  [Float(expected)])
                }
            }
        }]
    }
}
