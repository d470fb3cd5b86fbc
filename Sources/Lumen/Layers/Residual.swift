/// A residual block: y = activation(main(x) + shortcut(x)), the shortcut being the
/// identity when it has no layers (ResNet, MobileNetV2).
public final class Residual: Layer {
    public let main: [Layer]
    public let shortcut: [Layer]

    public init(name: String, main: [Layer], shortcut: [Layer] = [], activation: ActivationKind = .linear) {
        self.main = main
        self.shortcut = shortcut
        super.init(name: name, activation: activation)
    }

    public override var typeName: String { "Residual" }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        let mainShape = try main.reduce(input) { try $1.outputShape(for: $0) }
        let shortcutShape = try shortcut.reduce(input) { try $1.outputShape(for: $0) }
        guard mainShape == shortcutShape else {
            throw LumenError.shapeMismatch("\(name): the main path gives \(mainShape) but the shortcut \(shortcutShape)")
        }
        return mainShape
    }

    public override func build(input: [Int], device: Device, random: inout SplitMix64) throws {
        for path in [main, shortcut] {
            var shape = input
            for layer in path {
                try layer.build(input: shape, device: device, random: &random)
                shape = try layer.outputShape(for: shape)
            }
        }
    }

    public override var parameters: [Parameter] { (main + shortcut).flatMap(\.parameters) }

    public override var trainable: Bool {
        get { (main + shortcut).contains { $0.trainable } }
        set { for layer in main + shortcut { layer.trainable = newValue } }
    }

    public override var spec: LayerSpec {
        var spec = LayerSpec(type: typeName, name: name)
        spec.layers = main.map(\.spec)
        spec.shortcut = shortcut.isEmpty ? nil : shortcut.map(\.spec)
        spec.activation = activation
        return spec
    }

    public override func forwardCore(_ x: Tensor, _ pass: ForwardPass) throws -> Tensor {
        var inner = pass
        inner.appliesActivation = true
        let a = try main.reduce(x) { try $1.forward($0, inner) }
        let b = try shortcut.reduce(x) { try $1.forward($0, inner) }
        return try Elementwise.add(a, b)
    }

    public override func backwardCore(_ dy: Tensor, _ pass: BackwardPass) throws -> Tensor? {
        /// Back through one path; its first layer computes an input gradient only when the block must.
        func back(_ path: [Layer]) throws -> Tensor? {
            var gradient: Tensor? = dy
            for (index, layer) in path.enumerated().reversed() {
                guard let g = gradient else { break }
                var step = BackwardPass()
                step.needsInputGradient = index > 0 || pass.needsInputGradient
                gradient = try layer.backward(g, step).first ?? nil
            }
            return gradient
        }
        let mainGradient = try back(main), shortcutGradient = try back(shortcut)
        guard pass.needsInputGradient, let mainGradient, let shortcutGradient else { return nil }
        return try Elementwise.add(mainGradient, shortcutGradient)
    }

    public override func clearCache() {
        super.clearCache()
        for layer in main + shortcut { layer.clearCache() }
    }
}
