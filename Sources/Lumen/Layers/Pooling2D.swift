/// Keras' `MaxPooling2D` and `AveragePooling2D`: windows with one stride, defaulting to
/// the pool size. Average pooling divides by the cells inside the image, as Keras does
/// with "same" padding.
public final class Pooling2D: Layer {
    public enum Mode: String, Sendable { case max, average }
    public let mode: Mode
    public let poolSize: WindowSize, stride: Int
    public let padding: Padding
    private var cache: (geometry: WindowGeometry, max: (argmax: Tensor, x: Tensor)?)?

    public init(name: String, mode: Mode, poolSize: WindowSize = 2, stride: Int? = nil, padding: Padding = .valid) {
        self.mode = mode
        self.poolSize = poolSize
        self.stride = stride ?? poolSize.height
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
        if let m = padding.margins, max(m.top, m.bottom) > poolSize.height / 2 || max(m.left, m.right) > poolSize.width / 2 {
            throw LumenError.invalidModelSpec("\(typeName) '\(name)': padding \(padding.rawValue) is more than half of pool_size \(poolSize)")
        }
        return try WindowGeometry(input: shape, kernel: (poolSize.height, poolSize.width), stride: stride, padding: padding)
    }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.poolSize = poolSize
        spec.strides = WindowSize(stride)
        spec.padding = padding
        return spec
    }

    // x: [N, C, H, W]  ->  [N, C, OH, OW]
    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        let g = try geometry(x.shape)
        switch mode {
        case .max:
            guard pass.keepsForBackward else {
                cache = nil
                return try Pooling.maxForwardWithoutArgmax(x, g)
            }
            let (y, argmax) = try Pooling.maxForward(x, g)
            cache = (g, (argmax, x))
            return y
        case .average:
            cache = pass.keepsForBackward ? (g, nil) : nil
            return try Pooling.averageForward(x, g)
        }
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        guard let cache else { throw missingCache() }
        guard pass.needsInputGradient else { return nil }
        if let (argmax, x) = cache.max {
            return try Pooling.maxBackward(dy, argmax: argmax, cache.geometry, reluInput: pass.masksReLUBelow ? x : nil)
        }
        return try Pooling.averageBackward(dy, cache.geometry, adding: pass.gradientSoFar)
    }

    public override func clearCache() { super.clearCache(); cache = nil }
}

/// Keras' `GlobalAveragePooling2D` and `GlobalMaxPooling2D`: [N, C, H, W] -> [N, C], or
/// [N, C, 1, 1] with `keepdims` (MobileNet's head).
public final class GlobalPooling2D: Layer {
    public let mode: Pooling2D.Mode
    public let keepsDimensions: Bool
    private var cache: (shape: [Int], argmax: Tensor?)?

    public init(name: String, mode: Pooling2D.Mode, keepsDimensions: Bool = false) {
        self.mode = mode
        self.keepsDimensions = keepsDimensions
        super.init(name: name)
    }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        if keepsDimensions { spec.keepdims = true }
        return spec
    }

    public override var typeName: String { mode == .max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw LumenError.shapeMismatch("\(name) needs [C, H, W] inputs, got \(input)") }
        return keepsDimensions ? [input[0], 1, 1] : [input[0]]
    }

    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        let y: Tensor
        switch mode {
        case .max:
            let argmax: Tensor
            (y, argmax) = try Pooling.globalMaxForward(x)
            cache = pass.keepsForBackward ? (x.shape, argmax) : nil
        case .average:
            cache = pass.keepsForBackward ? (x.shape, nil) : nil
            y = try Pooling.globalAverageForward(x)
        }
        return keepsDimensions ? try y.reshaped(y.shape + [1, 1]) : y
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        guard let cache else { throw missingCache() }
        guard pass.needsInputGradient else { return nil }
        let dy = keepsDimensions ? try dy.reshaped(Array(dy.shape.prefix(2))) : dy
        if let argmax = cache.argmax { return try Pooling.globalMaxBackward(dy, argmax: argmax, inputShape: cache.shape) }
        return try Pooling.globalAverageBackward(dy, inputShape: cache.shape)
    }

    public override func clearCache() { super.clearCache(); cache = nil }
}
