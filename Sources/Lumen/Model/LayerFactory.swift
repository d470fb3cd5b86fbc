/// Builds layers from specs, naming unnamed layers as Keras does (`conv2d`, `conv2d_1`, …).
struct LayerFactory {
    private var counts: [String: Int] = [:]
    private var taken: Set<String> = []
    let seed: UInt64

    init(seed: UInt64) { self.seed = seed }

    /// Keras' default name stem for a class: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d.
    static func stem(_ type: String) -> String {
        var result = ""
        let characters = Array(type)
        for (index, character) in characters.enumerated() {
            if character.isUppercase, index > 0, characters[index - 1].isLowercase {
                result += "_"
            }
            result += character.lowercased()
        }
        return result
    }

    /// The spec with every layer named, recursively, and the layers it describes.
    mutating func make(_ spec: LayerSpec) throws -> (LayerSpec, Layer) {
        var spec = spec
        if spec.name == nil || spec.name!.isEmpty {
            let stem = LayerFactory.stem(spec.type)
            var name: String
            repeat {
                let count = counts[stem, default: 0]
                counts[stem] = count + 1
                name = count == 0 ? stem : "\(stem)_\(count)"
            } while taken.contains(name)
            spec.name = name
        }
        let name = spec.name!
        guard !taken.contains(name) else { throw LumenError.invalidModelSpec("two layers are named '\(name)'") }
        taken.insert(name)
        let layer = try build(spec, name: name, position: taken.count)
        if spec.type == "Residual" {
            var main: [LayerSpec] = [], shortcut: [LayerSpec] = []
            var mainLayers: [Layer] = [], shortcutLayers: [Layer] = []
            for inner in spec.layers ?? [] {
                let (s, l) = try make(inner)
                main.append(s)
                mainLayers.append(l)
            }
            for inner in spec.shortcut ?? [] {
                let (s, l) = try make(inner)
                shortcut.append(s)
                shortcutLayers.append(l)
            }
            spec.layers = main
            spec.shortcut = shortcut.isEmpty ? nil : shortcut
            return (spec, Residual(name: name, main: mainLayers, shortcut: shortcutLayers,
                                   activation: spec.activation ?? .linear))
        }
        return (spec, layer)
    }

    private func build(_ spec: LayerSpec, name: String, position: Int) throws -> Layer {
        func required<T>(_ value: T?, _ argument: String) throws -> T {
            guard let value else { throw LumenError.invalidModelSpec("layer '\(name)' (\(spec.type)) needs '\(argument)'") }
            return value
        }
        let activation = spec.activation ?? .linear
        switch spec.type {
        case "Conv2D":
            return Conv2D(name: name, filters: try required(spec.filters, "filters"),
                          kernelSize: try required(spec.kernelSize, "kernel_size"), stride: spec.strides ?? 1,
                          padding: spec.padding ?? .valid, useBias: spec.useBias ?? true, activation: activation,
                          kernelInitializer: spec.kernelInitializer ?? .glorotUniform)
        case "DepthwiseConv2D":
            return DepthwiseConv2D(name: name, kernelSize: try required(spec.kernelSize, "kernel_size"),
                                   stride: spec.strides ?? 1, padding: spec.padding ?? .valid,
                                   depthMultiplier: spec.depthMultiplier ?? 1, useBias: spec.useBias ?? true,
                                   activation: activation)
        case "MaxPooling2D", "AveragePooling2D":
            return Pooling2D(name: name, mode: spec.type == "MaxPooling2D" ? .max : .average,
                             poolSize: spec.poolSize ?? 2, stride: spec.strides, padding: spec.padding ?? .valid)
        case "GlobalAveragePooling2D":
            return GlobalPooling2D(name: name, mode: .average)
        case "GlobalMaxPooling2D":
            return GlobalPooling2D(name: name, mode: .max)
        case "BatchNormalization":
            return BatchNormalization(name: name, momentum: spec.momentum ?? 0.99, epsilon: spec.epsilon ?? 1e-3,
                                      scale: spec.scale ?? true)
        case "Dense":
            return Dense(name: name, units: try required(spec.units, "units"), activation: activation,
                         useBias: spec.useBias ?? true, kernelInitializer: spec.kernelInitializer ?? .glorotUniform)
        case "Dropout":
            let seed = spec.seed.map { UInt32(truncatingIfNeeded: $0) }
                ?? DropoutOps.mix32(UInt32(truncatingIfNeeded: self.seed) &+ UInt32(position))
            return Dropout(name: name, rate: try required(spec.rate, "rate"), seed: seed)
        case "Flatten":
            return Flatten(name: name)
        case "Activation":
            return ActivationLayer(name: name, kind: try required(spec.activation, "activation"), alpha: spec.alpha ?? 0.3)
        case "ReLU":
            return ActivationLayer(name: name, kind: .relu)
        case "LeakyReLU":
            return ActivationLayer(name: name, kind: .leakyRelu, alpha: spec.alpha ?? 0.3)
        case "Softmax":
            return ActivationLayer(name: name, kind: .softmax)
        case "Residual":
            return Layer(name: name)  // replaced by the caller once the inner layers exist
        default:
            throw LumenError.invalidModelSpec("layer '\(name)' has unknown type '\(spec.type)'")
        }
    }
}
