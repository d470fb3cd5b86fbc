/// Keras' `ZeroPadding2D` and `Cropping2D`: margins added (zeros) or cut on each side of
/// the spatial axes, ((top, bottom), (left, right)) when asymmetric.
public final class Margins2D: Layer {
    public enum Mode: String, Sendable { case pad = "ZeroPadding2D", crop = "Cropping2D" }
    public let mode: Mode
    public let top: Int, bottom: Int, left: Int, right: Int
    private var inputShape: [Int]?

    public init(name: String, mode: Mode, margins: Padding) throws {
        guard let m = margins.margins else {
            throw LumenError.invalidModelSpec("layer '\(name)' (\(mode.rawValue)) takes a number of cells, [rows, columns] or [[top, bottom], [left, right]], got \(margins.rawValue)")
        }
        self.mode = mode
        (top, bottom, left, right) = (m.top, m.bottom, m.left, m.right)
        super.init(name: name)
    }

    public override var typeName: String { mode.rawValue }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        let margins = Padding.cells(top: top, bottom: bottom, left: left, right: right)
        if mode == .pad { spec.padding = margins } else { spec.cropping = margins }
        return spec
    }

    /// +1 for padding, −1 for cropping.
    private var sign: Int { mode == .pad ? 1 : -1 }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw LumenError.shapeMismatch("layer '\(name)' (\(typeName)) needs [C, H, W] inputs, got \(input)") }
        let shape = [input[0], input[1] + sign * (top + bottom), input[2] + sign * (left + right)]
        guard shape[1] > 0, shape[2] > 0 else {
            throw LumenError.shapeMismatch("layer '\(name)' (Cropping2D) crops more than the \(input[1])×\(input[2]) map")
        }
        return shape
    }

    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        let out = try outputShape(for: Array(x.shape.dropFirst()))
        inputShape = x.shape
        return try Layout.window(x, dy: -sign * top, dx: -sign * left, height: out[1], width: out[2])
    }

    /// The gradient is the forward's inverse window: crop what padding added, pad what cropping cut.
    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        guard let inputShape else { throw missingCache() }
        guard pass.needsInputGradient else { return nil }
        return try Layout.window(dy, dy: sign * top, dx: sign * left, height: inputShape[2], width: inputShape[3])
    }
}
