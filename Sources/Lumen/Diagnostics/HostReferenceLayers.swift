import Foundation

/// Plain-Swift twins of the layer kernels, written for clarity, not speed. Images are
/// [N, C, H, W] row-major arrays.
extension HostReference {
    static func im2col(_ x: [Float], _ g: WindowGeometry) -> [Float] {
        let rows = g.channels * g.kernelHeight * g.kernelWidth, plane = g.outHeight * g.outWidth
        var cols = [Float](repeating: 0, count: g.batch * rows * plane)
        for n in 0..<g.batch {
            for c in 0..<g.channels {
                for kh in 0..<g.kernelHeight {
                    for kw in 0..<g.kernelWidth {
                        let row = (c * g.kernelHeight + kh) * g.kernelWidth + kw
                        for oh in 0..<g.outHeight {
                            for ow in 0..<g.outWidth {
                                let h = oh * g.stride - g.padTop + kh, w = ow * g.stride - g.padLeft + kw
                                guard h >= 0, h < g.height, w >= 0, w < g.width else { continue }
                                cols[(n * rows + row) * plane + oh * g.outWidth + ow] =
                                    x[((n * g.channels + c) * g.height + h) * g.width + w]
                            }
                        }
                    }
                }
            }
        }
        return cols
    }

    /// Direct convolution.                          weight: [O, C, KH, KW]  ->  [N, O, OH, OW]
    static func conv2d(_ x: [Float], weight: [Float], bias: [Float]?, outChannels: Int, _ g: WindowGeometry) -> [Float] {
        windowSums(x, weight: weight, bias: bias, outChannels: outChannels, g) { c in
            (0..<outChannels).map { o in (o, o * g.channels + c) }
        }
    }

    /// Depthwise convolution.                       weight: [C·M, 1, KH, KW]  ->  [N, C·M, OH, OW]
    static func depthwise(_ x: [Float], weight: [Float], multiplier m: Int, _ g: WindowGeometry) -> [Float] {
        windowSums(x, weight: weight, bias: nil, outChannels: g.channels * m, g) { c in (c * m..<(c * m + m)).map { o in (o, o) } }
    }

    /// Σ over each output's taps of x · weight, plus the bias: `filters(c)` lists the
    /// output channels input channel c feeds, each with the index of its KH × KW plane
    /// in `weight`.
    private static func windowSums(_ x: [Float], weight: [Float], bias: [Float]?, outChannels: Int, _ g: WindowGeometry,
                                   filters: (Int) -> [(output: Int, plane: Int)]) -> [Float] {
        var y = [Double](repeating: 0, count: g.batch * outChannels * g.outputPlane)
        for (index, _) in y.enumerated() { y[index] = Double(bias?[index / g.outputPlane % outChannels] ?? 0) }
        forEachTap(g) { n, c, oh, ow, kh, kw, h, w in
            let value = Double(x[((n * g.channels + c) * g.height + h) * g.width + w])
            for (o, plane) in filters(c) {
                y[((n * outChannels + o) * g.outHeight + oh) * g.outWidth + ow] +=
                    value * Double(weight[(plane * g.kernelHeight + kh) * g.kernelWidth + kw])
            }
        }
        return y.map(Float.init)
    }

    /// Max or average pooling over the cells inside the image.
    static func pool(_ x: [Float], max isMax: Bool, _ g: WindowGeometry) -> [Float] {
        var y: [Float] = []
        for plane in 0..<(g.batch * g.channels) {
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    var cells: [Float] = []
                    for kh in 0..<g.kernelHeight {
                        for kw in 0..<g.kernelWidth {
                            let h = oh * g.stride - g.padTop + kh, w = ow * g.stride - g.padLeft + kw
                            if h >= 0, h < g.height, w >= 0, w < g.width { cells.append(x[(plane * g.height + h) * g.width + w]) }
                        }
                    }
                    y.append(isMax ? cells.max()! : cells.reduce(0, +) / Float(cells.count))
                }
            }
        }
        return y
    }

    /// Biased per-channel mean and variance of [N, C, P].
    static func channelStatistics(_ x: [Float], n: Int, c: Int, p: Int) -> (mean: [Float], variance: [Float]) {
        var mean = [Float](repeating: 0, count: c), variance = [Float](repeating: 0, count: c)
        for channel in 0..<c {
            var values: [Double] = []
            for sample in 0..<n { for i in 0..<p { values.append(Double(x[(sample * c + channel) * p + i])) } }
            let m = values.reduce(0, +) / Double(values.count)
            mean[channel] = Float(m)
            variance[channel] = Float(values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count))
        }
        return (mean, variance)
    }

    static func activation(_ x: [Float], _ kind: ActivationKind, alpha: Float, cols: Int) -> [Float] {
        switch kind {
        case .relu: return x.map { max($0, 0) }
        case .relu6: return x.map { min(max($0, 0), 6) }
        case .leakyRelu: return x.map { $0 > 0 ? $0 : alpha * $0 }
        case .sigmoid: return x.map { 1 / (1 + exp(-$0)) }
        case .tanh: return x.map { Foundation.tanh($0) }
        case .linear: return x
        case .softmax:
            return stride(from: 0, to: x.count, by: cols).flatMap { start -> [Float] in
                let row = x[start..<(start + cols)]
                let top = row.max()!
                let e = row.map { exp(Double($0 - top)) }
                let total = e.reduce(0, +)
                return e.map { Float($0 / total) }
            }
        }
    }

    /// Lumen's dropout mask for a kernel seed: 1/(1 − rate) where kept, else 0.
    static func dropoutMask(count: Int, rate: Float, seed: UInt32) -> [Float] {
        let key = DropoutOps.mix32(seed)
        return (0..<count).map { i in
            let u = Float(DropoutOps.mix32(UInt32(i) ^ key) >> 8) * (1 / 16_777_216)
            return u >= rate ? 1 / (1 - rate) : 0
        }
    }

    /// Keras' batch loss from logits: mean over samples of the weighted per-sample loss.
    static func loss(_ kind: LossKind, logits: [Float], outputs k: Int, labels: [Int], smoothing: Float, weights: [Float]?) -> Double {
        let targets = Loss.targets(labels: labels, outputs: k, kind: kind, smoothing: smoothing)
        var total: Double = 0
        for (n, label) in labels.enumerated() {
            let z = logits[(n * k)..<(n * k + k)].map(Double.init)
            let t = targets[(n * k)..<(n * k + k)].map(Double.init)
            var sample: Double
            if kind == .binaryCrossentropy {
                sample = zip(z, t).map { z, t in -(t * log(1 / (1 + exp(-z))) + (1 - t) * log(1 - 1 / (1 + exp(-z)))) }
                    .reduce(0, +) / Double(k)
            } else {
                let top = z.max()!
                let logTotal = log(z.map { exp($0 - top) }.reduce(0, +)) + top
                sample = -zip(z, t).map { z, t in t * (z - logTotal) }.reduce(0, +)
            }
            total += sample * Double(weights?[label] ?? 1)
        }
        return total / Double(labels.count)
    }
}
