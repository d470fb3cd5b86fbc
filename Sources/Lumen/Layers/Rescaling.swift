/// Keras' `Rescaling`: y = scale·x + offset, inside the model (preprocessing layers of
/// Keras 3 models).
public final class Rescaling: Layer {
    public let scale: Float, offset: Float

    public init(name: String, scale: Float, offset: Float = 0) {
        self.scale = scale
        self.offset = offset
        super.init(name: name)
    }

    public override var typeName: String { "Rescaling" }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.scale = .factor(scale)
        spec.offset = offset
        return spec
    }

    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        try Elementwise.affine(x, scale: scale, offset: offset)
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        pass.needsInputGradient ? try Elementwise.scale(dy, by: scale) : nil
    }
}
