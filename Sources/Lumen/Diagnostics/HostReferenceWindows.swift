
/// Plain-Swift backward passes of the window ops (convolution, depthwise, pooling),
/// written as the forward's taps run in reverse. Images are [N, C, H, W] row-major.
extension HostReference {
    /// Calls `tap` for every (sample, channel, output pixel, kernel cell) whose input
    /// cell (h, w) lies inside the image, in window order.
    static func forEachTap(_ g: WindowGeometry, channels: Int? = nil,
                           _ tap: (_ n: Int, _ c: Int, _ oh: Int, _ ow: Int, _ kh: Int, _ kw: Int, _ h: Int, _ w: Int) -> Void) {
        for n in 0..<g.batch {
            for c in 0..<(channels ?? g.channels) {
                for oh in 0..<g.outHeight {
                    for ow in 0..<g.outWidth {
                        for kh in 0..<g.kernelHeight {
                            for kw in 0..<g.kernelWidth {
                                let h = oh * g.stride - g.padTop + kh, w = ow * g.stride - g.padLeft + kw
                                if h >= 0, h < g.height, w >= 0, w < g.width { tap(n, c, oh, ow, kh, kw, h, w) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of im2col: each column entry added back to the pixel it came from.
    ///                                              cols: [N, C·KH·KW, OH·OW]  ->  [N, C, H, W]
    static func col2im(_ cols: [Float], _ g: WindowGeometry) -> [Float] {
        let rows = g.channels * g.kernelHeight * g.kernelWidth
        var dx = [Double](repeating: 0, count: g.batch * g.channels * g.height * g.width)
        forEachTap(g) { n, c, oh, ow, kh, kw, h, w in
            let row = (c * g.kernelHeight + kh) * g.kernelWidth + kw
            dx[((n * g.channels + c) * g.height + h) * g.width + w] +=
                Double(cols[(n * rows + row) * g.outputPlane + oh * g.outWidth + ow])
        }
        return dx.map(Float.init)
    }

    /// Convolution's input and weight gradients.    dy: [N, O, OH, OW]  weight: [O, C, KH, KW]
    static func conv2dBackward(_ dy: [Float], x: [Float], weight: [Float], outChannels: Int,
                               _ g: WindowGeometry) -> (dx: [Float], dweight: [Float]) {
        var dx = [Double](repeating: 0, count: x.count), dweight = [Double](repeating: 0, count: weight.count)
        forEachTap(g) { n, c, oh, ow, kh, kw, h, w in
            let at = ((n * g.channels + c) * g.height + h) * g.width + w
            for o in 0..<outChannels {
                let g1 = Double(dy[((n * outChannels + o) * g.outHeight + oh) * g.outWidth + ow])
                let k = ((o * g.channels + c) * g.kernelHeight + kh) * g.kernelWidth + kw
                dx[at] += g1 * Double(weight[k])
                dweight[k] += g1 * Double(x[at])
            }
        }
        return (dx.map(Float.init), dweight.map(Float.init))
    }

    /// Depthwise convolution's gradients (multiplier m).  dy: [N, C·M, OH, OW]  weight: [C·M, 1, KH, KW]
    static func depthwiseBackward(_ dy: [Float], x: [Float], weight: [Float], multiplier m: Int,
                                  _ g: WindowGeometry) -> (dx: [Float], dweight: [Float]) {
        var dx = [Double](repeating: 0, count: x.count), dweight = [Double](repeating: 0, count: weight.count)
        forEachTap(g) { n, c, oh, ow, kh, kw, h, w in
            let at = ((n * g.channels + c) * g.height + h) * g.width + w
            for o in (c * m)..<(c * m + m) {
                let g1 = Double(dy[((n * g.channels * m + o) * g.outHeight + oh) * g.outWidth + ow])
                let k = (o * g.kernelHeight + kh) * g.kernelWidth + kw
                dx[at] += g1 * Double(weight[k])
                dweight[k] += g1 * Double(x[at])
            }
        }
        return (dx.map(Float.init), dweight.map(Float.init))
    }

    /// Pooling's input gradient: max routes each output's gradient to the first largest
    /// cell of its window, average spreads it over the window's cells inside the image.
    static func poolBackward(_ dy: [Float], x: [Float], max isMax: Bool, _ g: WindowGeometry) -> [Float] {
        var dx = [Double](repeating: 0, count: x.count)
        var taps: [Int: [Int]] = [:]   // output index -> input indices, in window order
        forEachTap(g) { n, c, oh, ow, _, _, h, w in
            let plane = n * g.channels + c
            taps[(plane * g.outHeight + oh) * g.outWidth + ow, default: []].append((plane * g.height + h) * g.width + w)
        }
        for (output, cells) in taps {
            if isMax {
                var best = cells[0]
                for cell in cells.dropFirst() where x[cell] > x[best] { best = cell }
                dx[best] += Double(dy[output])
            } else {
                for cell in cells { dx[cell] += Double(dy[output]) / Double(cells.count) }
            }
        }
        return dx.map(Float.init)
    }
}
