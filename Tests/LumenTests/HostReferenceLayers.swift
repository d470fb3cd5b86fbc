import Foundation
@testable import Lumen

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
        var y = [Float](repeating: 0, count: g.batch * outChannels * g.outHeight * g.outWidth)
        for n in 0..<g.batch {
            for o in 0..<outChannels {
                for oh in 0..<g.outHeight {
                    for ow in 0..<g.outWidth {
                        var total = Double(bias?[o] ?? 0)
                        for c in 0..<g.channels {
                            for kh in 0..<g.kernelHeight {
                                for kw in 0..<g.kernelWidth {
                                    let h = oh * g.stride - g.padTop + kh, w = ow * g.stride - g.padLeft + kw
                                    guard h >= 0, h < g.height, w >= 0, w < g.width else { continue }
                                    total += Double(x[((n * g.channels + c) * g.height + h) * g.width + w])
                                        * Double(weight[((o * g.channels + c) * g.kernelHeight + kh) * g.kernelWidth + kw])
                                }
                            }
                        }
                        y[((n * outChannels + o) * g.outHeight + oh) * g.outWidth + ow] = Float(total)
                    }
                }
            }
        }
        return y
    }

    /// Depthwise convolution.                       weight: [C·M, 1, KH, KW]  ->  [N, C·M, OH, OW]
    static func depthwise(_ x: [Float], weight: [Float], multiplier m: Int, _ g: WindowGeometry) -> [Float] {
        let outChannels = g.channels * m
        var y = [Float](repeating: 0, count: g.batch * outChannels * g.outHeight * g.outWidth)
        for n in 0..<g.batch {
            for o in 0..<outChannels {
                let c = o / m
                for oh in 0..<g.outHeight {
                    for ow in 0..<g.outWidth {
                        var total: Double = 0
                        for kh in 0..<g.kernelHeight {
                            for kw in 0..<g.kernelWidth {
                                let h = oh * g.stride - g.padTop + kh, w = ow * g.stride - g.padLeft + kw
                                guard h >= 0, h < g.height, w >= 0, w < g.width else { continue }
                                total += Double(x[((n * g.channels + c) * g.height + h) * g.width + w])
                                    * Double(weight[(o * g.kernelHeight + kh) * g.kernelWidth + kw])
                            }
                        }
                        y[((n * outChannels + o) * g.outHeight + oh) * g.outWidth + ow] = Float(total)
                    }
                }
            }
        }
        return y
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
