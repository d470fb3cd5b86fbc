/// Keras' merge layers over several inputs of one shape: `Add`, `Multiply`, and
/// `Concatenate` along the channel axis (features for flat inputs).
public final class Merge: Layer {
    public enum Kind: String, Sendable { case add = "Add", multiply = "Multiply", concatenate = "Concatenate" }
    public let kind: Kind
    /// Multiply's inputs; the input channels; an Add's output when it applied the
    /// activation above it (`ForwardPass.fusedActivation`), for that activation's derivative.
    private var cache: (inputs: [Tensor]?, channels: [Int], activated: (y: Tensor, kind: ActivationKind)?)?

    public init(name: String, kind: Kind) {
        self.kind = kind
        super.init(name: name)
    }

    public override var typeName: String { kind.rawValue }
    public override var takesSeveralInputs: Bool { true }

    public override func outputShape(forInputs inputs: [[Int]]) throws -> [Int] {
        guard inputs.count >= 2, let first = inputs.first else {
            throw LumenError.invalidModelSpec("layer '\(name)' (\(typeName)) merges at least two inputs, got \(inputs.count)")
        }
        switch kind {
        case .add, .multiply:
            guard inputs.allSatisfy({ $0 == first }) else {
                throw LumenError.shapeMismatch("layer '\(name)' (\(typeName)) needs inputs of one shape, got \(inputs.map(Layer.kerasShape))")
            }
            return first
        case .concatenate:
            guard inputs.allSatisfy({ $0.count == first.count && $0.dropFirst() == first.dropFirst() }) else {
                throw LumenError.shapeMismatch("layer '\(name)' (Concatenate) needs inputs equal but for the channels, got \(inputs.map(Layer.kerasShape))")
            }
            return [inputs.reduce(0) { $0 + $1[0] }] + first.dropFirst()
        }
    }

    public override func forwardInputs(_ xs: [Tensor], _ pass: ForwardPass) throws -> Tensor {
        let y: Tensor
        switch kind {
        case .add:
            // Summed in order; the last sum applies the ReLU or ReLU6 above when the plan fuses it here.
            let head = try xs.dropFirst().dropLast().reduce(xs[0]) { try Elementwise.add($0, $1) }
            y = try Elementwise.add(head, xs[xs.count - 1], activation: pass.fusedActivation)
        case .multiply: y = try xs.dropFirst().reduce(xs[0]) { try Elementwise.multiply($0, $1) }
        case .concatenate: y = try Layout.concatenate(xs)
        }
        cache = nil
        if pass.keepsForBackward {
            let activated: (y: Tensor, kind: ActivationKind)? = pass.fusedActivation == .linear ? nil : (y, pass.fusedActivation)
            cache = (kind == .multiply ? xs : nil, xs.map { $0.shape[1] }, activated)
        }
        return y
    }

    /// Add passes the gradient to every input; Multiply scales it by the other inputs;
    /// Concatenate gives each input its channels.
    public override func backwardInputs(_ dy: Tensor, _ pass: BackwardPass) throws -> [Tensor?] {
        guard let cache else { throw missingCache() }
        guard pass.needsInputGradient else { return cache.channels.map { _ in nil } }
        switch kind {
        case .add:
            let g = try cache.activated.map { try ActivationOps.backward(dy, y: $0.y, $0.kind) } ?? dy
            return cache.channels.map { _ in g }
        case .multiply:
            let xs = cache.inputs ?? []
            return try xs.indices.map { i in
                try xs.indices.filter { $0 != i }.reduce(dy) { try Elementwise.multiply($0, xs[$1]) }
            }
        case .concatenate:
            return try Layout.split(dy, sizes: cache.channels)
        }
    }

    public override func clearCache() { super.clearCache(); cache = nil }
}

extension Layer {
    /// "(None, 7, 7, 64)" for a per-sample [64, 7, 7]: Keras' channels-last order.
    static func kerasShape(_ shape: [Int]) -> String {
        let ordered = shape.count == 3 ? [shape[1], shape[2], shape[0]] : shape
        return "(None, " + ordered.map(String.init).joined(separator: ", ") + ")"
    }
}
