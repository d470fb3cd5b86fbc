/// The window operations of `KernelChecks` (convolution, depthwise convolution, pooling)
/// on maps from 1×1 to 4×4, where windows overhang the image on both sides, and on one
/// wide map that takes the kernels' vector paths and their tails.
extension KernelChecks {
    /// [2, channels, h, w] inputs with h, w in 1…4, plus 7 × 37, 32 × 32 and `moreMaps`,
    /// for each window, stride and padding that fits.
    static func geometries(kernels: [(Int, Int)], channels: Int, moreMaps: [(Int, Int)] = []) -> [WindowGeometry] {
        let maps = (1...4).flatMap { h in (1...4).map { w in (h, w) } } + [(7, 37), (32, 32)] + moreMaps
        var result: [WindowGeometry] = []
        for (h, w) in maps {
            for kernel in kernels {
                for stride in [1, 2] {
                    for padding in [Padding.valid, .same] {
                        if let g = try? WindowGeometry(input: [2, channels, h, w], kernel: kernel, stride: stride, padding: padding) {
                            result.append(g)
                        }
                    }
                }
            }
        }
        return result
    }

    /// One convolution check's seeded values (seeds from its index), on the host and on
    /// the device: input, weight, bias and an output gradient.
    struct ConvolutionCase {
        let x: [Float], weight: [Float], bias: [Float], dy: [Float]
        let xt: Tensor, wt: Tensor, dyt: Tensor

        init(_ g: WindowGeometry, outChannels: Int, index: Int, on device: Device) throws {
            let shape = [g.batch, g.channels, g.height, g.width]
            let weightShape = [outChannels, g.channels, g.kernelHeight, g.kernelWidth]
            x = checkValues(shape.reduce(1, *), seed: UInt64(index) * 4 + 1)
            weight = checkValues(weightShape.reduce(1, *), seed: UInt64(index) * 4 + 2)
            bias = checkValues(outChannels, seed: UInt64(index) * 4 + 3)
            dy = checkValues(g.batch * outChannels * g.outputPlane, seed: UInt64(index) * 4 + 4)
            xt = try Tensor(on: device, shape: shape, values: x)
            wt = try Tensor(on: device, shape: weightShape, values: weight)
            dyt = try Tensor(on: device, shape: [g.batch, outChannels, g.outHeight, g.outWidth], values: dy)
        }
    }

    static func describe(_ g: WindowGeometry) -> String {
        "\(g.height)×\(g.width) window \(g.kernelHeight)×\(g.kernelWidth) stride \(g.stride) pad (\(g.padTop), \(g.padLeft))"
    }

    static func convolution(on device: Device) -> [KernelCheck] {
        var forward = KernelCheck(family: device.kernelStyle, name: "conv2d forward (im2col + GEMM + bias)", tolerance: 1e-5)
        var data = KernelCheck(family: device.kernelStyle, name: "conv2d backward data (GEMM + col2im)", tolerance: 1e-5)
        var filter = KernelCheck(family: device.kernelStyle, name: "conv2d backward filter", tolerance: 1e-5)
        var transposed = KernelCheck(family: device.kernelStyle, name: "conv2d backward data as a forward conv of dy", tolerance: 1e-5)
        let outChannels = 3
        do {
            for (index, g) in geometries(kernels: [(1, 1), (3, 3), (7, 7), (1, 7), (7, 1)], channels: 2).enumerated() {
                let values = try ConvolutionCase(g, outChannels: outChannels, index: index, on: device)
                let (x, weight, bias, dy) = (values.x, values.weight, values.bias, values.dy)
                let (xt, wt, dyt, weightShape) = (values.xt, values.wt, values.dyt, values.wt.shape)
                let taps = Float(g.channels * g.kernelHeight * g.kernelWidth)
                let (dx, dweight) = HostReference.conv2dBackward(dy, x: x, weight: weight, outChannels: outChannels, g)
                forward.compare(describe(g), { try ConvOps.forward(xt, weight: wt, bias: try Tensor(on: device, shape: [outChannels], values: bias), g).toArray() },
                                HostReference.conv2d(x, weight: weight, bias: bias, outChannels: outChannels, g), floor: taps)
                data.compare(describe(g), { try ConvOps.backwardData(dyt, weight: wt, g).toArray() }, dx, floor: Float(outChannels * 4))
                filter.compare(describe(g), { try ConvOps.backwardFilter(dyt, x: xt, weightShape: weightShape, g).toArray() }, dweight,
                               floor: Float(g.batch * g.outputPlane))
                if ConvolutionPlan.transposedFits(g) {
                    transposed.compare(describe(g), { try ConvOps.backwardData(dyt, weight: wt, g, variant: nil, plan: .transposed).toArray() },
                                       dx, floor: Float(outChannels * 4))
                }
            }
        } catch {
            return finished([forward, data, filter, transposed], error: error)
        }
        return finished([forward, data, filter, transposed])
    }

    /// The direct convolution (`ConvOps.directForward` with bias and ReLU, and
    /// `ConvOps.directFilterGradient`; the same kernels in either family): every stride-1
    /// geometry of `geometries` and margins of 1 and 2 cells, with 3 output channels (fewer
    /// than a work-item's block) and 11 (blocks and a tail), on maps whose rows are shorter
    /// and longer than a run of outputs, the weight gradient in one group of images and, for
    /// 11 channels, in groups of one.
    static func direct(on device: Device) -> [KernelCheck] {
        var check = KernelCheck(family: device.kernelStyle, name: "conv2d direct forward (bias + ReLU)", tolerance: 1e-5)
        var filter = KernelCheck(family: device.kernelStyle, name: "conv2d direct backward filter", tolerance: 1e-5)
        do {
            var cases = geometries(kernels: [(3, 3), (7, 7), (1, 7), (7, 1), (2, 2)], channels: 2, moreMaps: [(13, 13), (5, 11)])
            for (h, w) in [(13, 13), (3, 40), (2, 2)] {
                for padding in [Padding.explicit(1), .explicit(2)] {
                    cases.append(try WindowGeometry(input: [2, 2, h, w], kernel: (3, 3), stride: 1, padding: padding))
                }
            }
            for (index, g) in cases.enumerated() where ConvOps.directApplies(g, variant: .rows, on: device) {
                for outChannels in [3, 11] {
                    let values = try ConvolutionCase(g, outChannels: outChannels, index: index, on: device)
                    let bias = try Tensor(on: device, shape: [outChannels], values: values.bias)
                    check.compare(describe(g) + " to \(outChannels) channels", {
                        try ConvOps.directForward(values.xt, weight: values.wt, bias: bias, g, activation: .relu).toArray()
                    }, HostReference.conv2d(values.x, weight: values.weight, bias: values.bias, outChannels: outChannels, g)
                        .map { max($0, 0) }, floor: Float(g.channels * g.kernelHeight * g.kernelWidth))
                    let dweight = HostReference.conv2dBackward(values.dy, x: values.x, weight: values.weight,
                                                               outChannels: outChannels, g).dweight
                    let group = outChannels == 11 ? 1 : nil
                    filter.compare(describe(g) + " to \(outChannels) channels" + (group == nil ? "" : " in groups of 1"), {
                        try ConvOps.directFilterGradient(values.dyt, x: values.xt, weightShape: values.wt.shape, g,
                                                         imagesPerGroup: group).toArray()
                    }, dweight, floor: Float(g.batch * g.outputPlane))
                }
            }
        } catch {
            return finished([check, filter], error: error)
        }
        return finished([check, filter])
    }

    /// Winograd F(2×2, 3×3): forward with bias and ReLU, the input and weight gradients, on the
    /// 3 × 3 stride-1 geometries (valid, same, 2 cells), one map wide enough for the
    /// interior vector paths and their tails, in one group and in groups of one image, and
    /// one map with 18 input and 20 output channels (the filter transforms' 16 filters at a
    /// time and their tails, both ways round); F(4×4, 3×3)'s on the same.
    static func winograd(on device: Device) -> [KernelCheck] {
        var forward = KernelCheck(family: device.kernelStyle, name: "conv2d winograd forward (bias + ReLU)", tolerance: 1e-5)
        var data = KernelCheck(family: device.kernelStyle, name: "conv2d winograd backward data", tolerance: 1e-5)
        var filter = KernelCheck(family: device.kernelStyle, name: "conv2d winograd backward filter", tolerance: 1e-5)
        var forward4 = KernelCheck(family: device.kernelStyle, name: "conv2d winograd 4x4 forward (bias + ReLU6)", tolerance: 1e-5)
        var data4 = KernelCheck(family: device.kernelStyle, name: "conv2d winograd 4x4 backward data", tolerance: 1e-5)
        var filter4 = KernelCheck(family: device.kernelStyle, name: "conv2d winograd 4x4 backward filter", tolerance: 1e-5)
        let (channels, outChannels) = (3, 4)
        do {
            var cases = geometries(kernels: [(3, 3)], channels: channels).filter { $0.stride == 1 }.map { ($0, outChannels) }
            for (h, w) in [(6, 75), (5, 5), (9, 40)] {
                for padding in [Padding.explicit(2), .same, .valid] {
                    cases.append((try WindowGeometry(input: [2, channels, h, w], kernel: (3, 3), stride: 1, padding: padding), outChannels))
                }
            }
            cases.append((try WindowGeometry(input: [2, 18, 5, 9], kernel: (3, 3), stride: 1, padding: .same), 20))
            for (index, (g, outChannels)) in cases.enumerated() where Winograd.fits(g) {
                let values = try ConvolutionCase(g, outChannels: outChannels, index: index, on: device)
                let (x, weight, bias, dy) = (values.x, values.weight, values.bias, values.dy)
                let (xt, wt, dyt) = (values.xt, values.wt, values.dyt)
                let bt = try Tensor(on: device, shape: [outChannels], values: bias)
                let group = index % 2 == 0 ? 1 : nil
                let place = describe(g) + (group == nil ? "" : " in groups of 1")
                forward.compare(place, {
                    try Winograd.forward(xt, weight: wt, bias: bt, g, activation: .relu, imagesPerGroup: group).toArray()
                }, HostReference.conv2d(x, weight: weight, bias: bias, outChannels: outChannels, g).map { max($0, 0) },
                    floor: Float(g.channels * 9))
                let (dx, dweight) = HostReference.conv2dBackward(dy, x: x, weight: weight, outChannels: outChannels, g)
                data.compare(place, { try Winograd.backwardData(dyt, weight: wt, g, imagesPerGroup: group).toArray() }, dx,
                             floor: Float(outChannels * 4))
                filter.compare(place, {
                    try Winograd.backwardFilter(dyt, x: xt, weightShape: wt.shape, g, imagesPerGroup: group).toArray()
                }, dweight, floor: Float(g.batch * g.outputPlane))
                // Another bias than F(2×2)'s, so a cell F(4×4) leaves unwritten cannot pass by
                // holding the value F(2×2) left in memory the device hands out again.
                let bias4 = bias.map { 0.5 - $0 }
                let bt4 = try Tensor(on: device, shape: [outChannels], values: bias4)
                forward4.compare(place, {
                    try Winograd.forward(xt, weight: wt, bias: bt4, g, activation: .relu6, tile: .four, imagesPerGroup: group).toArray()
                }, HostReference.conv2d(x, weight: weight, bias: bias4, outChannels: outChannels, g).map { min(max($0, 0), 6) },
                    floor: Float(g.channels * 9))
                data4.compare(place, { try Winograd.backwardData(dyt, weight: wt, g, tile: .four, imagesPerGroup: group).toArray() },
                              dx, floor: Float(outChannels * 4))
                filter4.compare(place, {
                    try Winograd.backwardFilter(dyt, x: xt, weightShape: wt.shape, g, tile: .four, imagesPerGroup: group).toArray()
                }, dweight, floor: Float(g.batch * g.outputPlane))
            }
        } catch {
            return finished([forward, data, filter, forward4, data4, filter4], error: error)
        }
        return finished([forward, data, filter, forward4, data4, filter4])
    }

    static func depthwise(on device: Device) -> [KernelCheck] {
        var forward = KernelCheck(family: device.kernelStyle, name: "depthwise conv forward", tolerance: 1e-5)
        var data = KernelCheck(family: device.kernelStyle, name: "depthwise conv backward data", tolerance: 1e-5)
        var filter = KernelCheck(family: device.kernelStyle, name: "depthwise conv backward filter", tolerance: 1e-5)
        do {
            for multiplier in [1, 2] {
                // 16- and 19-wide maps: 3-wide "same" rows as one chunk, or two that overlap.
                for (index, g) in geometries(kernels: [(3, 3), (5, 5)], channels: 3, moreMaps: [(3, 16), (5, 19)]).enumerated() {
                    let seed = UInt64(index * 8 + multiplier * 4)
                    let shape = [g.batch, g.channels, g.height, g.width]
                    let weightShape = [g.channels * multiplier, 1, g.kernelHeight, g.kernelWidth]
                    let x = checkValues(shape.reduce(1, *), seed: seed + 1)
                    let weight = checkValues(weightShape.reduce(1, *), seed: seed + 2)
                    let dy = checkValues(g.batch * g.channels * multiplier * g.outputPlane, seed: seed + 3)
                    let xt = try Tensor(on: device, shape: shape, values: x)
                    let wt = try Tensor(on: device, shape: weightShape, values: weight)
                    let dyt = try Tensor(on: device, shape: [g.batch, g.channels * multiplier, g.outHeight, g.outWidth], values: dy)
                    // With a multiplier of 2 the forward adds a bias and applies ReLU or ReLU6 as it
                    // stores (a bias spread over ±4, so outputs fall on both sides of 0 and 6).
                    let activation: ActivationKind = multiplier == 1 ? .linear : index % 2 == 0 ? .relu6 : .relu
                    let bias = multiplier == 1 ? nil : checkValues(g.channels * multiplier, seed: seed + 4).map { $0 * 4 }
                    let bt = try bias.map { try Tensor(on: device, shape: [$0.count], values: $0) }
                    // Each map reads its input through a ReLU (a ReLU layer below, fused) with
                    // one of the two multipliers.
                    let inputReLU = (index + multiplier) % 2 == 0
                    let place = describe(g) + ", multiplier \(multiplier)" + (bias == nil ? "" : ", bias and \(activation.rawValue)")
                        + (inputReLU ? ", input ReLU" : "")
                    let taps = Float(g.kernelHeight * g.kernelWidth)
                    let plane = g.outputPlane
                    let seen = inputReLU ? x.map { max($0, 0) } : x
                    let expectedY = HostReference.depthwise(seen, weight: weight, multiplier: multiplier, g).enumerated().map { at, value in
                        let shifted = value + (bias?[at / plane % (g.channels * multiplier)] ?? 0)
                        return activation == .linear ? shifted : min(max(shifted, 0), activation == .relu6 ? 6 : .infinity)
                    }
                    forward.compare(place, {
                        try ConvOps.depthwiseForward(xt, weight: wt, multiplier: multiplier, g, bias: bt, activation: activation,
                                                     inputReLU: inputReLU).toArray()
                    }, expectedY, floor: taps)
                    let expected = HostReference.depthwiseBackward(dy, x: x, weight: weight, multiplier: multiplier, g)
                    let (dx, dweight) = try ConvOps.depthwiseBackward(dyt, x: xt, weight: wt, multiplier: multiplier, g,
                                                                      needInputGradient: true)
                    data.compare(place, { try dx?.toArray() ?? [] }, expected.dx, floor: taps)
                    filter.compare(place, { try dweight.toArray() }, expected.dweight, floor: Float(g.batch * g.outputPlane))
                }
            }
        } catch {
            return finished([forward, data, filter], error: error)
        }
        return finished([forward, data, filter])
    }

    static func pooling(on device: Device) -> [KernelCheck] {
        var maxForward = KernelCheck(family: device.kernelStyle, name: "max pool forward", tolerance: 0)
        var maxInference = KernelCheck(family: device.kernelStyle, name: "max pool forward without argmax", tolerance: 0)
        var maxBackward = KernelCheck(family: device.kernelStyle, name: "max pool backward", tolerance: 1e-6)
        var averageForward = KernelCheck(family: device.kernelStyle, name: "average pool forward", tolerance: 1e-6)
        var averageBackward = KernelCheck(family: device.kernelStyle, name: "average pool backward", tolerance: 1e-6)
        var averageAdded = KernelCheck(family: device.kernelStyle, name: "average pool backward added into a sum", tolerance: 1e-6)
        do {
            // Rows of 5–17 cells take the vector kernels' 4-wide chunks and moved-back last chunks; 37
            // rows of 20 split into blocks of rows per work-item, the last one short. 5 × 5 and 9 × 9
            // windows: the flat average kernels' widest windows and the row kernels past them.
            for (index, g) in geometries(kernels: [(2, 2), (3, 3), (5, 5), (9, 9)], channels: 3,
                                         moreMaps: [(8, 8), (3, 17), (5, 12), (37, 20)]).enumerated() {
                let shape = [g.batch, g.channels, g.height, g.width]
                let x = checkValues(shape.reduce(1, *), seed: UInt64(index) * 2 + 1)
                let dy = checkValues(g.batch * g.channels * g.outputPlane, seed: UInt64(index) * 2 + 2)
                let xt = try Tensor(on: device, shape: shape, values: x)
                let dyt = try Tensor(on: device, shape: [g.batch, g.channels, g.outHeight, g.outWidth], values: dy)
                let (y, argmax) = try Pooling.maxForward(xt, g)
                maxForward.compare(describe(g), { try y.toArray() }, HostReference.pool(x, max: true, g))
                maxInference.compare(describe(g), { try Pooling.maxForwardWithoutArgmax(xt, g).toArray() },
                                     HostReference.pool(x, max: true, g))
                // A cell of dx sums up to KH·KW gradients, in another order than the host's.
                let taps = Float(g.kernelHeight * g.kernelWidth)
                maxBackward.compare(describe(g), { try Pooling.maxBackward(dyt, argmax: argmax, g).toArray() },
                                    HostReference.poolBackward(dy, x: x, max: true, g), floor: taps)
                averageForward.compare(describe(g), { try Pooling.averageForward(xt, g).toArray() }, HostReference.pool(x, max: false, g))
                let expectedAverage = HostReference.poolBackward(dy, x: x, max: false, g)
                averageBackward.compare(describe(g), { try Pooling.averageBackward(dyt, g).toArray() }, expectedAverage, floor: taps)
                // Added into a gradient the input already has: each cell once, the kernels'
                // moved-back last chunks included.
                let held = checkValues(shape.reduce(1, *), seed: UInt64(index) * 2 + 3)
                averageAdded.compare(describe(g), {
                    try Pooling.averageBackward(dyt, g, adding: try Tensor(on: device, shape: shape, values: held)).toArray()
                }, zip(held, expectedAverage).map { $0 + $1 }, floor: taps)
            }
        } catch {
            return finished([maxForward, maxInference, maxBackward, averageForward, averageBackward, averageAdded], error: error)
        }
        return finished([maxForward, maxInference, maxBackward, averageForward, averageBackward, averageAdded])
    }
}
