import Testing
@testable import Lumen

/// The layer kernels against the plain-Swift references in HostReferenceLayers.swift.
@Suite struct KernelHostTests {
    static let windows: [(kernel: Int, stride: Int, padding: Padding)] = [
        (3, 1, .valid), (3, 2, .same), (1, 2, .same), (5, 1, .same), (7, 2, .same), (2, 2, .valid),
        (3, 2, .explicit(1)), (7, 2, .explicit(3)), (1, 2, .explicit(0)),
    ]

    @Test(arguments: windows.indices)
    func im2colAndConvolutionMatchHost(_ index: Int) throws {
        let (k, s, padding) = KernelHostTests.windows[index]
        // 37 wide: at stride 1 the row variant copies 16 columns at a time, then the rest.
        let shape = [2, 3, 10, 37]
        let g = try WindowGeometry(input: shape, kernel: (k, k), stride: s, padding: padding)
        let x = randomValues(shape.reduce(1, *), seed: 30)
        let xt = try Tensor(on: testDevice, shape: shape, values: x)
        for variant in [KernelVariant.elementwise, .rows] {
            #expect(try ConvOps.im2col(xt, g, variant: variant).toArray() == HostReference.im2col(x, g))
            let rows = 3 * k * k
            #expect(try ConvOps.im2colTransposed(xt, g, variant: variant).toArray()
                    == HostReference.transpose(HostReference.im2col(x, g), batch: 2, rows: rows, cols: g.outputPlane))
        }

        let weight = randomValues(4 * 3 * k * k, seed: 31), bias = randomValues(4, seed: 32)
        let y = try ConvOps.forward(xt, weight: try Tensor(on: testDevice, shape: [4, 3, k, k], values: weight),
                                             bias: try Tensor(on: testDevice, shape: [4], values: bias), g)
        let expected = HostReference.conv2d(x, weight: weight, bias: bias, outChannels: 4, g)
        #expect(maxRelativeDifference("conv k\(k) s\(s) \(padding)", try y.toArray(), expected, floor: Float(3 * k * k)) <= 1e-6)
    }

    /// col2im is im2col's adjoint: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩.
    @Test(arguments: windows.indices)
    func col2imIsTheAdjointOfIm2col(_ index: Int) throws {
        let (k, s, padding) = KernelHostTests.windows[index]
        // 37 wide: at stride 1 the plane variant adds 16 columns at a time, then the rest.
        let shape = [2, 2, 8, 37]
        let g = try WindowGeometry(input: shape, kernel: (k, k), stride: s, padding: padding)
        let x = randomValues(shape.reduce(1, *), seed: 40)
        let cols = HostReference.im2col(x, g)
        let c = randomValues(cols.count, seed: 41)
        let ct = try Tensor(on: testDevice, shape: [g.batch, 2 * k * k, g.outHeight * g.outWidth], values: c)
        let left = zip(cols, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        var results: [[Float]] = []
        for variant in [KernelVariant.elementwise, .rows] {
            let back = try ConvOps.col2im(ct, g, variant: variant).toArray()
            let right = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            print("col2im adjoint k\(k) s\(s) \(variant): \(left) vs \(right)")
            #expect(abs(left - right) <= 1e-4 * max(abs(left), 1))
            results.append(back)
        }
        #expect(maxRelativeDifference("col2im variants k\(k) s\(s)", results[1], results[0]) <= 1e-6)
    }

    /// The row kernels copy and add a row's cells in pieces of 16, 8, 4, 2 and 1: every
    /// row width from 1 to 40 cells, each starting and ending at the margins' offsets,
    /// against the host (im2col exactly, col2im to rounding).
    @Test func im2colAndCol2imMatchHostOnEveryRowWidth() throws {
        var checked = 0
        for width in 1...40 {
            for (stride, padding) in [(1, Padding.valid), (1, .explicit(1)), (1, .explicit(2)), (2, .valid), (2, .explicit(1))] {
                let shape = [2, 2, 3, width]
                guard let g = try? WindowGeometry(input: shape, kernel: (3, 3), stride: stride, padding: padding),
                      g.outputPlane > 0 else { continue }
                let x = randomValues(shape.reduce(1, *), seed: UInt64(60 + width))
                let cols = HostReference.im2col(x, g)
                let c = randomValues(cols.count, seed: UInt64(160 + width))
                let label = "width \(width) s\(stride) \(padding)"
                let xt = try Tensor(on: testDevice, shape: shape, values: x)
                #expect(try ConvOps.im2col(xt, g, variant: .rows).toArray() == cols, "im2col \(label)")
                let ct = try Tensor(on: testDevice, shape: [2, 2 * 9, g.outputPlane], values: c)
                #expect(maxRelativeDifference("col2im \(label)", try ConvOps.col2im(ct, g, variant: .rows).toArray(),
                                              HostReference.col2im(c, g)) <= 1e-6)
                checked += 1
            }
        }
        #expect(checked > 150)
    }

    /// Every convolution plan on CPU-style kernels, forward (bias and ReLU) and input
    /// gradient, against the host: 9 channels to 10 on 13 × 13 maps, valid and "same"
    /// (the direct plan reads x in place, then a padded copy). The direct plan's input
    /// gradient is the transposed one (a planned forward convolution of dy).
    @Test(arguments: [Padding.valid, .same])
    func everyConvolutionPlanMatchesHost(padding: Padding) throws {
        let shape = [3, 9, 13, 13], filters = 10
        let g = try WindowGeometry(input: shape, kernel: (3, 3), stride: 1, padding: padding)
        let device = device(for: .cpu)
        let x = randomValues(shape.reduce(1, *), seed: 71), w = randomValues(filters * 81, seed: 72)
        let bias = randomValues(filters, seed: 73), dy = randomValues(3 * filters * g.outputPlane, seed: 74)
        let xt = try Tensor(on: device, shape: shape, values: x), wt = try Tensor(on: device, shape: [filters, 9, 3, 3], values: w)
        let bt = try Tensor(on: device, shape: [filters], values: bias)
        let dyt = try Tensor(on: device, shape: [3, filters, g.outHeight, g.outWidth], values: dy)
        let y = HostReference.conv2d(x, weight: w, bias: bias, outChannels: filters, g).map { max($0, 0) }
        let dx = HostReference.conv2dBackward(dy, x: x, weight: w, outChannels: filters, g).dx
        for plan in ConvolutionPlan.allCases {
            if plan != .transposed {
                let forward = try ConvOps.forward(xt, weight: wt, bias: bt, g, activation: .relu, variant: .rows, plan: plan)
                #expect(maxRelativeDifference("\(plan) forward \(padding)", try forward.toArray(), y, floor: 81) <= 1e-5)
            }
            let data = try ConvOps.backwardData(dyt, weight: wt, g, variant: .rows, plan: plan)
            #expect(maxRelativeDifference("\(plan) input gradient \(padding)", try data.toArray(), dx, floor: Float(filters * 4)) <= 1e-5)
        }
    }

    /// Both weight-gradient paths: fewer than 32 rows (A·Bᵀ on im2col) and 32 or more
    /// (untransposed GEMM on the transposed im2col), against Σ_n dy_n · cols_nᵀ on the host.
    @Test(arguments: [3, 4])
    func convolutionWeightGradientMatchesHost(channels: Int) throws {
        let shape = [3, channels, 11, 10]
        let g = try WindowGeometry(input: shape, kernel: (3, 3), stride: 1, padding: .same)
        let (rows, plane, filters) = (channels * 9, g.outputPlane, 5)
        let x = randomValues(shape.reduce(1, *), seed: 31), dy = randomValues(3 * filters * plane, seed: 32)
        let dweight = try ConvOps.backwardFilter(try Tensor(on: testDevice, shape: [3, filters, g.outHeight, g.outWidth], values: dy),
                                                     x: try Tensor(on: testDevice, shape: shape, values: x),
                                                     weightShape: [filters, channels, 3, 3], g)
        let cols = HostReference.im2col(x, g)
        var expected = [Float](repeating: 0, count: filters * rows)
        for n in 0..<3 {
            HostReference.gemm(transposeA: false, transposeB: true, m: filters, n: rows, k: plane, alpha: 1,
                               a: dy, aOffset: n * filters * plane, lda: plane, b: cols, bOffset: n * rows * plane, ldb: plane,
                               beta: 1, c: &expected, cOffset: 0, ldc: rows)
        }
        #expect(maxRelativeDifference("conv weight gradient, \(rows) rows", try dweight.toArray(), expected,
                                      floor: Float(3 * plane)) <= 1e-6)
        guard rows >= 32 else { return }
        // Every plan, whichever the timing picked above.
        let xt = try Tensor(on: testDevice, shape: shape, values: x)
        for plan in ConvOps.FilterGradientPlan.allCases {
            let planned = try plan.run(try Tensor(on: testDevice, shape: [3, filters, g.outHeight, g.outWidth], values: dy),
                                       x: xt, weightShape: [filters, channels, 3, 3], g)
            #expect(maxRelativeDifference("conv weight gradient, \(plan)", try planned.toArray(), expected,
                                          floor: Float(3 * plane)) <= 1e-6)
        }
    }

    /// CPU-style kernels run im2col + GEMM a group of images at a time (the column matrix
    /// kept cache-sized): here groups of 3, 3 and 1 of 7 images, each of whose column
    /// matrices alone is 64·9 × 32·32 floats. Forward, input gradient and every
    /// weight-gradient plan (in both kernel families) against the host.
    @Test func convolutionInGroupsOfImagesMatchesHost() throws {
        let shape = [7, 64, 34, 34], filters = 3
        let g = try WindowGeometry(input: shape, kernel: (3, 3), stride: 1, padding: .valid)
        let rows = 64 * 9
        #expect(ConvOps.imagesPerGroup(g, rows: rows, variant: .rows) == 3)
        #expect(ConvOps.imagesPerGroup(g, rows: rows, variant: .elementwise) == 7)
        let device = device(for: .cpu)
        let x = randomValues(shape.reduce(1, *), seed: 41), w = randomValues(filters * rows, seed: 42)
        let bias = randomValues(filters, seed: 43), dy = randomValues(7 * filters * g.outputPlane, seed: 44)
        let xt = try Tensor(on: device, shape: shape, values: x), wt = try Tensor(on: device, shape: [filters, 64, 3, 3], values: w)
        let dyt = try Tensor(on: device, shape: [7, filters, g.outHeight, g.outWidth], values: dy)
        let y = try ConvOps.forward(xt, weight: wt, bias: try Tensor(on: device, shape: [filters], values: bias), g, variant: .rows)
        #expect(maxRelativeDifference("grouped conv forward", try y.toArray(),
                                      HostReference.conv2d(x, weight: w, bias: bias, outChannels: filters, g), floor: Float(rows)) <= 1e-5)
        let (dx, dweight) = HostReference.conv2dBackward(dy, x: x, weight: w, outChannels: filters, g)
        #expect(maxRelativeDifference("grouped conv backward data", try ConvOps.backwardData(dyt, weight: wt, g, variant: .rows).toArray(),
                                      dx, floor: Float(filters * 9)) <= 1e-5)
        // Every plan in both kernel families (the GPU-style one turns direct-transposed's
        // product through local memory).
        for variant in [KernelVariant.rows, .elementwise] {
            for plan in ConvOps.FilterGradientPlan.allCases {
                let planned = try plan.run(dyt, x: xt, weightShape: [filters, 64, 3, 3], g, variant: variant)
                #expect(maxRelativeDifference("grouped conv weight gradient, \(plan), \(variant)", try planned.toArray(), dweight,
                                              floor: Float(7 * g.outputPlane)) <= 1e-5)
            }
        }
    }

    /// Planes under 256 outputs run side by side on CPU-style kernels (one GEMM per group
    /// of images): a 3 × 3 layer on 7 × 7 maps in groups of 9 and 2 of 11 images, and a
    /// pointwise one (x's images swapped side by side, no im2col). Forward with bias and
    /// ReLU, input gradient and every weight-gradient plan, against the host.
    @Test(arguments: [([11, 512, 7, 7], 3), ([3, 40, 5, 6], 1)])
    func smallPlanesSideBySideMatchHost(shape: [Int], k: Int) throws {
        let g = try WindowGeometry(input: shape, kernel: (k, k), stride: 1, padding: .same)
        let device = device(for: .cpu), filters = 3, rows = shape[1] * k * k, weightShape = [filters, shape[1], k, k]
        #expect(ConvOps.sideBySide(g, variant: .rows, on: device) && !ConvOps.sideBySide(g, variant: .elementwise, on: device))
        if k == 3 { #expect(ConvOps.imagesPerGroup(g, rows: rows, variant: .rows) == 9) }
        let x = randomValues(shape.reduce(1, *), seed: 51), w = randomValues(filters * rows, seed: 52)
        let bias = randomValues(filters, seed: 53), dy = randomValues(g.batch * filters * g.outputPlane, seed: 54)
        let xt = try Tensor(on: device, shape: shape, values: x), wt = try Tensor(on: device, shape: weightShape, values: w)
        let dyt = try Tensor(on: device, shape: [g.batch, filters, g.outHeight, g.outWidth], values: dy)
        let y = try ConvOps.forward(xt, weight: wt, bias: try Tensor(on: device, shape: [filters], values: bias), g,
                                    activation: .relu, variant: .rows)
        let expectedY = HostReference.conv2d(x, weight: w, bias: bias, outChannels: filters, g).map { max($0, 0) }
        #expect(maxRelativeDifference("side-by-side forward", try y.toArray(), expectedY, floor: Float(rows)) <= 1e-5)
        let (dx, dweight) = HostReference.conv2dBackward(dy, x: x, weight: w, outChannels: filters, g)
        #expect(maxRelativeDifference("side-by-side backward data", try ConvOps.backwardData(dyt, weight: wt, g, variant: .rows).toArray(),
                                      dx, floor: Float(filters * k * k)) <= 1e-5)
        for plan in ConvOps.FilterGradientPlan.allCases {
            let planned = try plan.run(dyt, x: xt, weightShape: weightShape, g, variant: .rows)
            #expect(maxRelativeDifference("side-by-side weight gradient, \(plan)", try planned.toArray(), dweight,
                                          floor: Float(g.batch * g.outputPlane)) <= 1e-5)
        }
    }

    /// A pointwise layer with 32 or more input channels: every weight-gradient plan,
    /// the direct one (dy · xᵀ, no transposed copy) included, against the host.
    @Test func pointwiseWeightGradientPlansMatchHost() throws {
        let shape = [3, 40, 5, 6]
        let g = try WindowGeometry(input: shape, kernel: (1, 1), stride: 1, padding: .same)
        #expect(g.isPointwise)
        let x = randomValues(shape.reduce(1, *), seed: 33), dy = randomValues(3 * 7 * 30, seed: 34), w = randomValues(7 * 40, seed: 35)
        let xt = try Tensor(on: testDevice, shape: shape, values: x)
        let dyt = try Tensor(on: testDevice, shape: [3, 7, 5, 6], values: dy)
        let (_, expected) = HostReference.conv2dBackward(dy, x: x, weight: w, outChannels: 7, g)
        for plan in ConvOps.FilterGradientPlan.allCases {
            let planned = try plan.run(dyt, x: xt, weightShape: [7, 40, 1, 1], g)
            #expect(maxRelativeDifference("pointwise weight gradient, \(plan)", try planned.toArray(), expected, floor: 90) <= 1e-6)
        }
        let chosen = try ConvOps.backwardFilter(dyt, x: xt, weightShape: [7, 40, 1, 1], g)
        #expect(maxRelativeDifference("pointwise weight gradient, chosen", try chosen.toArray(), expected, floor: 90) <= 1e-6)
    }

    @Test(arguments: [(3, 1, Padding.same, 1), (3, 2, .same, 2), (5, 2, .valid, 1)])
    func depthwiseMatchesHost(k: Int, s: Int, padding: Padding, m: Int) throws {
        let shape = [2, 3, 9, 8]
        let g = try WindowGeometry(input: shape, kernel: (k, k), stride: s, padding: padding)
        let x = randomValues(shape.reduce(1, *), seed: 50), weight = randomValues(3 * m * k * k, seed: 51)
        let y = try ConvOps.depthwiseForward(try Tensor(on: testDevice, shape: shape, values: x),
                                                 weight: try Tensor(on: testDevice, shape: [3 * m, 1, k, k], values: weight),
                                                 multiplier: m, g)
        let expected = HostReference.depthwise(x, weight: weight, multiplier: m, g)
        #expect(maxRelativeDifference("depthwise", try y.toArray(), expected, floor: Float(k * k)) <= 1e-6)
    }

    @Test(arguments: [(2, 2, Padding.valid), (3, 2, .same), (3, 1, .valid), (3, 1, .same), (2, 2, .same), (3, 3, .same), (3, 2, .explicit(1))])
    func poolingMatchesHost(k: Int, s: Int, padding: Padding) throws {
        // 37 wide: the CPU variant's 2×2 vector path covers 16 outputs of 18 in two chunks of 8, the
        // second moved back; 11 wide: its 4-wide chunks (5 whole windows), and with same padding
        // an overhanging window, cell by cell.
        for shape in [[2, 3, 7, 37], [2, 3, 5, 11]] {
            let g = try WindowGeometry(input: shape, kernel: (k, k), stride: s, padding: padding)
            let x = randomValues(shape.reduce(1, *), seed: 60)
            let xt = try Tensor(on: testDevice, shape: shape, values: x)
            let (y, argmax) = try Pooling.maxForward(xt, g)
            #expect(try y.toArray() == HostReference.pool(x, max: true, g))
            // Both forward variants pick the same cells, ties (whole numbers 0…2) included.
            let tied = try Tensor(on: testDevice, shape: shape, values: x.map { ($0 * 3).rounded(.down) })
            let (rowsY, rowsArgmax) = try Pooling.maxForward(tied, g, variant: .rows)
            let (cellsY, cellsArgmax) = try Pooling.maxForward(tied, g, variant: .elementwise)
            #expect(try rowsY.toArray() == cellsY.toArray())
            #expect(try rowsArgmax.toArray() == cellsArgmax.toArray())
            // Both backward kernels route each gradient to its window's maximum.
            let dy = try Tensor(on: testDevice, shape: y.shape, values: randomValues(y.count, seed: 61))
            let gather = try Pooling.maxBackward(dy, argmax: argmax, g, variant: .elementwise).toArray()
            let scatter = try Pooling.maxBackward(dy, argmax: argmax, g, variant: .rows).toArray()
            #expect(maxRelativeDifference("maxpool backward variants", scatter, gather) <= 1e-6)
            // Over a ReLU's output (x shifted so some windows are all ≤ 0), the fused backward
            // equals max-pool backward followed by ReLU backward, in both variants.
            let relu = try ActivationOps.forward(try Tensor(on: testDevice, shape: shape, values: x.map { $0 - 0.6 }), .relu)
            let (_, reluArgmax) = try Pooling.maxForward(relu, g)
            let separate = try ActivationOps.backward(try Pooling.maxBackward(dy, argmax: reluArgmax, g), y: relu, .relu).toArray()
            for variant in [KernelVariant.elementwise, .rows] {
                let fused = try Pooling.maxBackward(dy, argmax: reluArgmax, g, reluInput: relu, variant: variant).toArray()
                #expect(maxRelativeDifference("maxpool+relu backward \(variant)", fused, separate) <= 1e-6)
            }
            #expect(abs(gather.reduce(0, +) - (try dy.toArray()).reduce(0, +)) < 1e-3)
            #expect(maxRelativeDifference("avgpool", try Pooling.averageForward(xt, g).toArray(),
                                          HostReference.pool(x, max: false, g)) <= 1e-6)
            // Average backward, both variants (the row kernel's vector columns at stride 1).
            let expectedAverage = HostReference.poolBackward(try dy.toArray(), x: x, max: false, g)
            for variant in [KernelVariant.elementwise, .rows] {
                #expect(maxRelativeDifference("avgpool backward \(variant)", try Pooling.averageBackward(dy, g, variant: variant).toArray(),
                                              expectedAverage) <= 1e-6)
            }
        }
    }

    /// Planes of 42: the CPU variant's vector loop (16 at a time) and its scalar tail.
    @Test(arguments: [KernelVariant.elementwise, .rows])
    func batchStatisticsMatchHost(variant: KernelVariant) throws {
        let x = randomValues(4 * 5 * 42, seed: 70).map { $0 * 3 + 1 }
        let (mean, variance) = try BatchNormOps.statistics(try Tensor(on: testDevice, shape: [4, 5, 6, 7], values: x),
                                                           variant: variant)
        let expected = HostReference.channelStatistics(x, n: 4, c: 5, p: 42)
        #expect(maxRelativeDifference("bn mean \(variant)", try mean.toArray(), expected.mean) <= 1e-6)
        #expect(maxRelativeDifference("bn variance \(variant)", try variance.toArray(), expected.variance) <= 1e-6)
    }

    /// Normalize and backward: the per-plane CPU kernels give what the per-element ones
    /// give (those are checked against PyTorch in LayerParityTests on GPU-like devices,
    /// the plane kernels on this CPU device).
    @Test(arguments: [true, false])
    func batchNormVariantsAgree(training: Bool) throws {
        let shape = [3, 4, 5, 7]
        let count = shape.reduce(1, *)
        let x = try Tensor(on: testDevice, shape: shape, values: randomValues(count, seed: 71).map { $0 * 2 - 0.5 })
        let dy = try Tensor(on: testDevice, shape: shape, values: randomValues(count, seed: 72))
        let gamma = try Tensor(on: testDevice, shape: [4], values: [0.5, 1.5, -1, 2])
        let beta = try Tensor(on: testDevice, shape: [4], values: [0.1, 0, -0.2, 0.3])
        let (mean, variance) = try BatchNormOps.statistics(x)
        var outputs: [[[Float]]] = []
        for variant in [KernelVariant.elementwise, .rows] {
            let y = try BatchNormOps.normalize(x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: 1e-3,
                                               variant: variant)
            let (dx, dgamma, dbeta) = try BatchNormOps.backward(dy, x: x, gamma: gamma, beta: beta, mean: mean, variance: variance,
                                                                epsilon: 1e-3, training: training, variant: variant)
            outputs.append([try y.toArray(), try dx.toArray(), try dgamma.toArray(), try dbeta.toArray()])
        }
        for (index, name) in ["y", "dx", "dgamma", "dbeta"].enumerated() {
            #expect(maxRelativeDifference("bn \(name) variants", outputs[1][index], outputs[0][index]) <= 1e-5)
        }
    }

    /// A ReLU or ReLU6 applied inside the normalisation (forward clamps, backward masks at
    /// the recomputed pre-activation) gives what the separate activation kernels give,
    /// with each kernel variant, in training and frozen.
    @Test(arguments: [(ActivationKind.relu, true), (.relu6, true), (.relu, false), (.relu6, false)])
    func batchNormWithFusedActivationMatchesSeparatePasses(activation: ActivationKind, training: Bool) throws {
        let shape = [3, 4, 5, 7]
        let count = shape.reduce(1, *)
        let x = try Tensor(on: testDevice, shape: shape, values: randomValues(count, seed: 73).map { $0 * 2 - 0.5 })
        let dy = try Tensor(on: testDevice, shape: shape, values: randomValues(count, seed: 74).map { $0 - 0.5 })
        let gamma = try Tensor(on: testDevice, shape: [4], values: [0.5, 4, -1, 5])
        let beta = try Tensor(on: testDevice, shape: [4], values: [0.1, 2, -0.2, 3])
        let (mean, variance) = try BatchNormOps.statistics(x)
        for variant in [KernelVariant.elementwise, .rows] {
            let z = try BatchNormOps.normalize(x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: 1e-3, variant: variant)
            let a = try ActivationOps.forward(z, activation)
            let separate = try BatchNormOps.backward(try ActivationOps.backward(dy, y: a, activation), x: x, gamma: gamma, beta: beta,
                                                     mean: mean, variance: variance, epsilon: 1e-3, training: training, variant: variant)
            let fusedY = try BatchNormOps.normalize(x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: 1e-3,
                                                    activation: activation, variant: variant)
            let fused = try BatchNormOps.backward(dy, x: x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: 1e-3,
                                                  training: training, activation: activation, variant: variant)
            #expect(try a.toArray().contains { $0 == 0 } && (activation == .relu || (try a.toArray().contains { $0 == 6 })))
            #expect(maxRelativeDifference("fused \(activation) y \(variant)", try fusedY.toArray(), try a.toArray()) <= 1e-6)
            for (name, f, s) in [("dx", fused.dx, separate.dx), ("dgamma", fused.dgamma, separate.dgamma), ("dbeta", fused.dbeta, separate.dbeta)] {
                #expect(maxRelativeDifference("fused \(activation) \(name) \(variant)", try f.toArray(), try s.toArray()) <= 1e-5)
            }
        }
    }

    @Test(arguments: ActivationKind.allCases)
    func activationMatchesHost(kind: ActivationKind) throws {
        let x = randomValues(5 * 8, seed: 80).map { $0 * 8 }
        let y = try ActivationOps.forward(try Tensor(on: testDevice, shape: [5, 8], values: x), kind, alpha: 0.2)
        let expected = HostReference.activation(x, kind, alpha: 0.2, cols: 8)
        #expect(maxRelativeDifference("activation \(kind)", try y.toArray(), expected) <= 1e-6)
    }

    @Test func dropoutMaskMatchesHostAndRate() throws {
        let x = [Float](repeating: 1, count: 20_000)
        let (y, mask) = try DropoutOps.forward(try Tensor(on: testDevice, shape: [20_000], values: x), rate: 0.3, seed: 1234)
        let expected = HostReference.dropoutMask(count: 20_000, rate: 0.3, seed: 1234)
        #expect(try mask.toArray() == expected)
        #expect(try y.toArray() == expected)
        let dropped = Double(expected.filter { $0 == 0 }.count) / 20_000
        #expect(abs(dropped - 0.3) < 0.02, "dropped \(dropped)")
    }

    @Test(arguments: [LossKind.binaryCrossentropy, .categoricalCrossentropy])
    func lossMatchesHost(kind: LossKind) throws {
        let logits = randomValues(6 * 3, seed: 90).map { $0 * 5 }
        let labels = [0, 1, 2, 2, 1, 0]
        let loss = Loss(kind, labelSmoothing: 0.1, classWeights: [0.5, 1, 3])
        let value = try loss.evaluate(logits: try Tensor(on: testDevice, shape: [6, 3], values: logits), labels: labels).loss
        let expected = HostReference.loss(kind, logits: logits, outputs: 3, labels: labels, smoothing: 0.1, weights: [0.5, 1, 3])
        print("loss \(kind): \(value) vs host \(expected)")
        #expect(abs(Double(value) - expected) <= 1e-5 * max(expected, 1))
    }

    @Test func windowGeometryFollowsKerasSamePadding() throws {
        // 10 wide, kernel 3, stride 2: out 5, total pad 1, all of it after.
        let g = try WindowGeometry(input: [1, 1, 10, 9], kernel: (3, 3), stride: 2, padding: .same)
        #expect((g.outHeight, g.padTop, g.outWidth, g.padLeft) == (5, 0, 5, 1))
        let valid = try WindowGeometry(input: [1, 1, 150, 150], kernel: (3, 3), stride: 1, padding: .valid)
        #expect(valid.outHeight == 148)
        #expect(throws: LumenError.self) { try WindowGeometry(input: [1, 1, 2, 2], kernel: (3, 3), stride: 1, padding: .valid) }
        // PyTorch's padding=3 on a 7×7 stride-2 stem: 224 → 112, three cells before.
        let stem = try WindowGeometry(input: [1, 3, 224, 224], kernel: (7, 7), stride: 2, padding: .explicit(3))
        #expect((stem.outHeight, stem.padTop) == (112, 3))
        #expect(Padding(rawValue: "2") == .explicit(2) && Padding(rawValue: "-1") == nil)
    }
}
