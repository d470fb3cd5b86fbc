import Foundation

/// Plain-Swift batch normalisation and activation gradients, for the kernel checks.
/// Images are [N, C, P] row-major arrays (P = H·W).
extension HostReference {
    /// y = gamma·(x − mean)/√(variance + ε) + beta, then the fused activation (ReLU or
    /// ReLU6, or none with `.linear`).
    static func batchNorm(_ x: [Float], n: Int, c: Int, p: Int, gamma: [Float], beta: [Float], mean: [Float],
                          variance: [Float], epsilon: Float, activation: ActivationKind) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        for sample in 0..<n {
            for channel in 0..<c {
                let inv = 1 / (Double(variance[channel]) + Double(epsilon)).squareRoot()
                for i in 0..<p {
                    let at = (sample * c + channel) * p + i
                    let z = Double(gamma[channel]) * (Double(x[at]) - Double(mean[channel])) * inv + Double(beta[channel])
                    y[at] = clamp(Float(z), activation)
                }
            }
        }
        return y
    }

    /// The gradients of `batchNorm` for the batch's own statistics (`training`) or for
    /// fixed ones (frozen), with the activation's mask taken at the pre-activation.
    static func batchNormBackward(_ dy: [Float], x: [Float], n: Int, c: Int, p: Int, gamma: [Float], beta: [Float],
                                  mean: [Float], variance: [Float], epsilon: Float, training: Bool,
                                  activation: ActivationKind) -> (dx: [Float], dgamma: [Float], dbeta: [Float]) {
        var dx = [Float](repeating: 0, count: x.count), dgamma = [Float](repeating: 0, count: c), dbeta = dgamma
        let count = Double(n * p)
        for channel in 0..<c {
            let inv = 1 / (Double(variance[channel]) + Double(epsilon)).squareRoot()
            var places: [Int] = [], xhat: [Double] = [], g: [Double] = []
            for sample in 0..<n {
                for i in 0..<p {
                    let at = (sample * c + channel) * p + i
                    let normalized = (Double(x[at]) - Double(mean[channel])) * inv
                    let z = Float(Double(gamma[channel]) * normalized + Double(beta[channel]))
                    places.append(at)
                    xhat.append(normalized)
                    g.append(passes(z, activation) ? Double(dy[at]) : 0)
                }
            }
            let sumG = g.reduce(0, +), sumGX = zip(g, xhat).map(*).reduce(0, +)
            dbeta[channel] = Float(sumG)
            dgamma[channel] = Float(sumGX)
            for (index, at) in places.enumerated() {
                let value = training ? (g[index] - sumG / count - xhat[index] * sumGX / count) : g[index]
                dx[at] = Float(Double(gamma[channel]) * inv * value)
            }
        }
        return (dx, dgamma, dbeta)
    }

    /// The activation's gradient from its output y, as the kernels take it.
    static func activationBackward(_ dy: [Float], y: [Float], _ kind: ActivationKind, alpha: Float, cols: Int) -> [Float] {
        switch kind {
        case .relu: return zip(dy, y).map { $1 > 0 ? $0 : 0 }
        case .relu6: return zip(dy, y).map { $1 > 0 && $1 < 6 ? $0 : 0 }
        case .leakyRelu: return zip(dy, y).map { $1 > 0 ? $0 : alpha * $0 }
        case .sigmoid: return zip(dy, y).map { $0 * $1 * (1 - $1) }
        case .tanh: return zip(dy, y).map { $0 * (1 - $1 * $1) }
        case .linear: return dy
        case .softmax:
            return stride(from: 0, to: y.count, by: cols).flatMap { start -> [Float] in
                let row = start..<(start + cols)
                let dot = zip(dy[row], y[row]).map { Double($0) * Double($1) }.reduce(0, +)
                return zip(dy[row], y[row]).map { Float(Double($1) * (Double($0) - dot)) }
            }
        }
    }

    private static func clamp(_ z: Float, _ activation: ActivationKind) -> Float {
        switch activation {
        case .relu: return max(z, 0)
        case .relu6: return min(max(z, 0), 6)
        default: return z
        }
    }

    /// Whether a fused ReLU/ReLU6 passes the gradient at pre-activation z.
    private static func passes(_ z: Float, _ activation: ActivationKind) -> Bool {
        switch activation {
        case .relu: return z > 0
        case .relu6: return z > 0 && z < 6
        default: return true
        }
    }
}
