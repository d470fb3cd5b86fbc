/// Keras' `MaxPooling2D` and `AveragePooling2D`: square windows, stride defaulting to
/// the pool size.
public final class Pooling2D: Layer {
    public enum Mode: String, Sendable { case max, average }
    public let mode: Mode
    public let poolSize: Int, stride: Int
    public let padding: Padding
    private var cache: (geometry: WindowGeometry, max: (argmax: Tensor, x: Tensor)?)?
    /// Set by `Sequential.backward` when the layer below ends in ReLU: this layer's
    /// backward then applies that ReLU's derivative too, and the layer below skips it.
    var appliesReLUBelow = false

    public init(name: String, mode: Mode, poolSize: Int = 2, stride: Int? = nil, padding: Padding = .valid) {
        self.mode = mode
        self.poolSize = poolSize
        self.stride = stride ?? poolSize
        self.padding = padding
        super.init(name: name)
    }

    public override var typeName: String { mode == .max ? "MaxPooling2D" : "AveragePooling2D" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        let g = try geometry([1] + input)
        return [input[0], g.outHeight, g.outWidth]
    }

    /// The window over `shape`. Explicit padding is at most half the window, as PyTorch
    /// requires, so no window lies wholly in the padding.
    private func geometry(_ shape: [Int]) throws -> WindowGeometry {
        if case .explicit(let cells) = padding, cells > poolSize / 2 {
            throw LumenError.invalidModelSpec("\(typeName) '\(name)': padding \(cells) is more than half of pool_size \(poolSize)")
        }
        return try WindowGeometry(input: shape, kernel: (poolSize, poolSize), stride: stride, padding: padding)
    }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.poolSize = poolSize
        spec.strides = stride
        spec.padding = padding
        return spec
    }

    // x: [N, C, H, W]  ->  [N, C, OH, OW]
    public override func forwardCore(_ x: Tensor, training: Bool) throws -> Tensor {
        let g = try geometry(x.shape)
        switch mode {
        case .max:
            let (y, argmax) = try Pooling.maxForward(x, g)
            cache = training || recordsForBackward ? (g, (argmax, x)) : nil
            return y
        case .average:
            cache = training || recordsForBackward ? (g, nil) : nil
            return try Pooling.averageForward(x, g)
        }
    }

    public override func backwardCore(_ dy: Tensor) throws -> Tensor? {
        guard let cache else { throw missingCache() }
        guard needsInputGradient else { return nil }
        if let (argmax, x) = cache.max {
            return try Pooling.maxBackward(dy, argmax: argmax, cache.geometry, reluInput: appliesReLUBelow ? x : nil)
        }
        return try Pooling.averageBackward(dy, cache.geometry)
    }

    public override func clearCache() { super.clearCache(); cache = nil }
}

/// Keras' `GlobalAveragePooling2D` and `GlobalMaxPooling2D`: [N, C, H, W] -> [N, C].
public final class GlobalPooling2D: Layer {
    public let mode: Pooling2D.Mode
    private var cache: (shape: [Int], argmax: Tensor?)?

    public init(name: String, mode: Pooling2D.Mode) {
        self.mode = mode
        super.init(name: name)
    }

    public override var typeName: String { mode == .max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw LumenError.shapeMismatch("\(name) needs [C, H, W] inputs, got \(input)") }
        return [input[0]]
    }

    public override func forwardCore(_ x: Tensor, training: Bool) throws -> Tensor {
        switch mode {
        case .max:
            let (y, argmax) = try Pooling.globalMaxForward(x)
            cache = training || recordsForBackward ? (x.shape, argmax) : nil
            return y
        case .average:
            cache = training || recordsForBackward ? (x.shape, nil) : nil
            return try Pooling.globalAverageForward(x)
        }
    }

    public override func backwardCore(_ dy: Tensor) throws -> Tensor? {
        guard let cache else { throw missingCache() }
        guard needsInputGradient else { return nil }
        if let argmax = cache.argmax { return try Pooling.globalMaxBackward(dy, argmax: argmax, inputShape: cache.shape) }
        return try Pooling.globalAverageBackward(dy, inputShape: cache.shape)
    }

    public override func clearCache() { super.clearCache(); cache = nil }
}
