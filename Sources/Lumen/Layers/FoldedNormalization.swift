import Foundation

/// A convolution's weight and bias with the BatchNormalization that reads it folded in,
/// for passes where that layer normalises with its running statistics:
///
///     scale[o] = gamma[o] / sqrt(var[o] + eps)
///     weight'[o, …] = weight[o, …] · scale[o]
///     bias'[o] = (bias[o] − mean[o]) · scale[o] + beta[o]
///
/// so one convolution gives what convolution then normalisation gave. Made on the host
/// in double precision, once; it stays current until a tensor it came from is used by
/// anything that may have changed it (`Tensor.uses`): an optimizer step, a load, a
/// training forward of the normalisation.
struct FoldedNormalization {
    let weight: Tensor
    let bias: Tensor
    /// The tensors it was made from, with their use counts once it was made.
    private let sources: [(tensor: Tensor, uses: Int)]

    /// weight: [O, …] (O output channels, each a run of the rest), bias: [O] or none.
    init(weight: Tensor, bias: Tensor?, _ norm: BatchNormalization) throws {
        let channels = weight.shape[0]
        guard norm.beta.value.count == channels else {
            throw LumenError.shapeMismatch("\(norm.name) normalises \(norm.beta.value.count) channels; the layer it folds into has \(channels)")
        }
        let inputs = Self.inputs(weight, bias, norm)
        let values = try inputs.map { try $0?.toArray() }
        let (w, gamma, beta, mean, variance) = (values[0]!, values[2], values[3]!, values[4]!, values[5]!)
        let run = channels == 0 ? 0 : w.count / channels
        var folded = [Float](repeating: 0, count: w.count), shift = [Float](repeating: 0, count: channels)
        for o in 0..<channels {
            let scale = Double(gamma?[o] ?? 1) / (Double(variance[o]) + Double(norm.epsilon)).squareRoot()
            for at in (o * run)..<(o * run + run) { folded[at] = Float(Double(w[at]) * scale) }
            shift[o] = Float((Double(values[1]?[o] ?? 0) - Double(mean[o])) * scale + Double(beta[o]))
        }
        self.weight = try Tensor(on: weight.device, shape: weight.shape, values: folded)
        self.bias = try Tensor(on: weight.device, shape: [channels], values: shift)
        // Counted after the reads above, which are uses too.
        sources = inputs.compactMap { $0 }.map { ($0, $0.uses) }
    }

    /// Whether it was made from exactly these tensors and none has been used since.
    func isCurrent(weight: Tensor, bias: Tensor?, _ norm: BatchNormalization) -> Bool {
        let inputs = Self.inputs(weight, bias, norm).compactMap { $0 }
        return inputs.count == sources.count && zip(inputs, sources).allSatisfy { $0 === $1.tensor && $0.uses == $1.uses }
    }

    /// What a fold is made from, in a fixed order: weight, bias, gamma, beta, mean, variance
    /// (nil for an absent bias or gamma).
    private static func inputs(_ weight: Tensor, _ bias: Tensor?, _ norm: BatchNormalization) -> [Tensor?] {
        [weight, bias, norm.gamma?.value, norm.beta.value, norm.runningMean.value, norm.runningVariance.value]
    }
}
