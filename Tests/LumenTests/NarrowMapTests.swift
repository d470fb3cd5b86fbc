import Testing
@testable import Lumen

/// Window ops on maps of every height and width from 1 to 4, where kernels overhang the
/// image on both sides (the shapes a 13×13 input reaches after a few stride-2 layers),
/// forward and backward, every kernel variant, against the host references.
@Suite struct NarrowMapTests {
    static let sizes = Array(1...4)

    /// Comparisons of many cases: the largest difference, and each case past its tolerance.
    /// Prints one line at the end instead of one per case (thousands run).
    struct Tally {
        var failures: [String] = [], largest: Float = 0, cases = 0

        /// Adds |a − e| / (|e| + floor) over each (label, actual, expected).
        mutating func compare(_ checks: [(String, [Float], [Float])], floor: Float, tolerance: Float, _ place: String) {
            for (what, actual, expected) in checks {
                var worst: Float = actual.count == expected.count ? 0 : .infinity
                for (a, e) in zip(actual, expected) {
                    let d = abs(a - e) / (abs(e) + floor)
                    if !(d <= worst) { worst = d.isNaN ? .infinity : d }
                }
                largest = max(largest, worst)
                if !(worst <= tolerance) { failures.append("\(what) \(place): \(worst)") }
            }
            cases += 1
        }

        func expectAllMatched(_ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
            print("\(label) on narrow maps: \(cases) cases, maxdiff \(largest)")
            #expect(cases > 0, sourceLocation: sourceLocation)
            #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(8).joined(separator: "; "))",
                    sourceLocation: sourceLocation)
        }
    }

    /// Every geometry of a k×k window on [2, 2, h, w] maps, h and w in 1…4, that the
    /// padding allows (valid needs the window to fit).
    private func geometries(kernel k: Int, paddings: [Padding], channels: Int = 2) -> [WindowGeometry] {
        var result: [WindowGeometry] = []
        for h in Self.sizes {
            for w in Self.sizes {
                for stride in [1, 2] {
                    for padding in paddings {
                        if let g = try? WindowGeometry(input: [2, channels, h, w], kernel: (k, k), stride: stride, padding: padding) {
                            result.append(g)
                        }
                    }
                }
            }
        }
        return result
    }

    private func describe(_ g: WindowGeometry) -> String {
        "\(g.height)×\(g.width) k\(g.kernelHeight) s\(g.stride) pad(\(g.padTop),\(g.padLeft)) -> \(g.outHeight)×\(g.outWidth)"
    }

    @Test(arguments: 1...7)
    func convolutionOnNarrowMapsMatchesHost(kernel k: Int) throws {
        var tally = Tally()
        let outChannels = 3
        for g in geometries(kernel: k, paddings: [.valid, .same, .explicit(k / 2), .explicit(k - 1)]) {
            let shape = [g.batch, g.channels, g.height, g.width]
            let rows = g.channels * k * k
            let x = randomValues(shape.reduce(1, *), seed: UInt64(100 + g.height * 10 + g.width))
            let weight = randomValues(outChannels * rows, seed: 7), bias = randomValues(outChannels, seed: 8)
            let dy = randomValues(g.batch * outChannels * g.outputPlane, seed: 9)
            let xt = try Tensor(on: testDevice, shape: shape, values: x)
            let wt = try Tensor(on: testDevice, shape: [outChannels, g.channels, k, k], values: weight)
            let dyt = try Tensor(on: testDevice, shape: [g.batch, outChannels, g.outHeight, g.outWidth], values: dy)
            let cols = HostReference.im2col(x, g)
            let colsT = HostReference.transpose(cols, batch: g.batch, rows: rows, cols: g.outputPlane)
            let c = randomValues(cols.count, seed: 10)
            let ct = try Tensor(on: testDevice, shape: [g.batch, rows, g.outputPlane], values: c)
            let y = HostReference.conv2d(x, weight: weight, bias: bias, outChannels: outChannels, g)
            let (dx, dweight) = HostReference.conv2dBackward(dy, x: x, weight: weight, outChannels: outChannels, g)
            for variant in [KernelVariant.elementwise, .rows] {
                let checks: [(String, [Float], [Float])] = [
                    ("im2col", try ConvOps.im2col(xt, g, variant: variant).toArray(), cols),
                    ("im2col transposed", try ConvOps.im2colTransposed(xt, g, variant: variant).toArray(), colsT),
                    ("col2im", try ConvOps.col2im(ct, g, variant: variant).toArray(), HostReference.col2im(c, g)),
                    ("forward", try ConvOps.forward(xt, weight: wt, bias: try Tensor(on: testDevice, shape: [outChannels], values: bias),
                                                        g, variant: variant).toArray(), y),
                    ("backward data", try ConvOps.backwardData(dyt, weight: wt, g, variant: variant).toArray(), dx),
                    ("backward filter", try ConvOps.backwardFilter(dyt, x: xt, weightShape: wt.shape, g,
                                                                        variant: variant).toArray(), dweight),
                ]
                tally.compare(checks, floor: Float(rows), tolerance: 1e-5, "\(variant) \(describe(g))")
            }
        }
        tally.expectAllMatched("conv k\(k)")
    }

    @Test(arguments: 1...7)
    func depthwiseOnNarrowMapsMatchesHost(kernel k: Int) throws {
        var tally = Tally()
        for m in [1, 2] {
            for g in geometries(kernel: k, paddings: [.valid, .same, .explicit(k / 2), .explicit(k - 1)]) {
                let shape = [g.batch, g.channels, g.height, g.width]
                let x = randomValues(shape.reduce(1, *), seed: UInt64(200 + g.height * 10 + g.width))
                let weight = randomValues(g.channels * m * k * k, seed: 11)
                let dy = randomValues(g.batch * g.channels * m * g.outputPlane, seed: 12)
                let xt = try Tensor(on: testDevice, shape: shape, values: x)
                let wt = try Tensor(on: testDevice, shape: [g.channels * m, 1, k, k], values: weight)
                let dyt = try Tensor(on: testDevice, shape: [g.batch, g.channels * m, g.outHeight, g.outWidth], values: dy)
                let (dx, dweight) = HostReference.depthwiseBackward(dy, x: x, weight: weight, multiplier: m, g)
                let y = HostReference.depthwise(x, weight: weight, multiplier: m, g)
                for variant in [KernelVariant.elementwise, .rows] {
                    let back = try ConvOps.depthwiseBackward(dyt, x: xt, weight: wt, multiplier: m, g, needInputGradient: true,
                                                             variant: variant)
                    let checks: [(String, [Float], [Float])] = [
                        ("forward", try ConvOps.depthwiseForward(xt, weight: wt, multiplier: m, g, variant: variant).toArray(), y),
                        ("backward data", try back.dx!.toArray(), dx),
                        ("backward filter", try back.dweight.toArray(), dweight),
                    ]
                    tally.compare(checks, floor: Float(k * k), tolerance: 1e-5, "\(variant) m\(m) \(describe(g))")
                }
            }
        }
        tally.expectAllMatched("depthwise k\(k)")
    }

    @Test(arguments: 1...7)
    func poolingOnNarrowMapsMatchesHost(kernel k: Int) throws {
        var tally = Tally()
        // Explicit padding up to half the window, as PyTorch allows for pooling.
        for g in geometries(kernel: k, paddings: [.valid, .same, .explicit(k / 2)], channels: 3) {
            let shape = [g.batch, g.channels, g.height, g.width]
            let x = randomValues(shape.reduce(1, *), seed: UInt64(300 + g.height * 10 + g.width))
            let dy = randomValues(g.batch * g.channels * g.outputPlane, seed: 13)
            let xt = try Tensor(on: testDevice, shape: shape, values: x)
            let dyt = try Tensor(on: testDevice, shape: [g.batch, g.channels, g.outHeight, g.outWidth], values: dy)
            var checks: [(String, [Float], [Float])] = [
                ("average forward", try Pooling.averageForward(xt, g).toArray(), HostReference.pool(x, max: false, g)),
                ("average backward", try Pooling.averageBackward(dyt, g).toArray(),
                 HostReference.poolBackward(dy, x: x, max: false, g)),
            ]
            let maxY = HostReference.pool(x, max: true, g), maxDx = HostReference.poolBackward(dy, x: x, max: true, g)
            for variant in [KernelVariant.elementwise, .rows] {
                let (y, argmax) = try Pooling.maxForward(xt, g, variant: variant)
                checks.append(("max forward \(variant)", try y.toArray(), maxY))
                checks.append(("max backward \(variant)", try Pooling.maxBackward(dyt, argmax: argmax, g, variant: variant).toArray(), maxDx))
            }
            tally.compare(checks, floor: 1, tolerance: 1e-6, describe(g))
        }
        tally.expectAllMatched("pooling k\(k)")
    }

    /// Explicit pooling padding of more than half the window would leave windows with no
    /// image cell; the layer refuses it, naming itself, as PyTorch does.
    @Test func poolingRefusesPaddingBeyondHalfTheWindow() throws {
        let layer = Pooling2D(name: "pool_wide", mode: .max, poolSize: 2, padding: .explicit(2))
        #expect(throws: LumenError.self) { _ = try layer.outputShape(for: [3, 4, 4]) }
        #expect(try Pooling2D(name: "ok", mode: .max, poolSize: 3, stride: 2, padding: .explicit(1)).outputShape(for: [3, 4, 4]) == [3, 2, 2])
    }
}
