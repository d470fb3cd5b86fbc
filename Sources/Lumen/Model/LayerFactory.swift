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
        /// One stride for both axes, as Lumen's window kernels take.
        func stride(default fallback: Int?) throws -> Int? {
            guard let strides = spec.strides else { return fallback }
            guard strides.isSquare else {
                throw LumenError.invalidModelSpec("layer '\(name)' (\(spec.type)): strides \(strides) differ between the axes; Lumen takes one stride")
            }
            return strides.height
        }
        let activation = spec.activation ?? .linear
        switch spec.type {
        case "Conv2D":
            return Conv2D(name: name, filters: try required(spec.filters, "filters"),
                          kernelSize: try required(spec.kernelSize, "kernel_size"), stride: try stride(default: 1)!,
                          padding: spec.padding ?? .valid, useBias: spec.useBias ?? true, activation: activation,
                          kernelInitializer: spec.kernelInitializer ?? .glorotUniform)
        case "DepthwiseConv2D":
            return DepthwiseConv2D(name: name, kernelSize: try required(spec.kernelSize, "kernel_size"),
                                   stride: try stride(default: 1)!, padding: spec.padding ?? .valid,
                                   depthMultiplier: spec.depthMultiplier ?? 1, useBias: spec.useBias ?? true,
                                   activation: activation)
        case "SeparableConv2D":
            return SeparableConv2D(name: name, filters: try required(spec.filters, "filters"),
                                   kernelSize: try required(spec.kernelSize, "kernel_size"), stride: try stride(default: 1)!,
                                   padding: spec.padding ?? .valid, depthMultiplier: spec.depthMultiplier ?? 1,
                                   useBias: spec.useBias ?? true, activation: activation,
                                   kernelInitializer: spec.kernelInitializer ?? .glorotUniform)
        case "MaxPooling2D", "AveragePooling2D":
            return Pooling2D(name: name, mode: spec.type == "MaxPooling2D" ? .max : .average,
                             poolSize: spec.poolSize ?? 2, stride: try stride(default: nil), padding: spec.padding ?? .valid)
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
            return GlobalPooling2D(name: name, mode: spec.type == "GlobalMaxPooling2D" ? .max : .average,
                                   keepsDimensions: spec.keepdims ?? false)
        case "BatchNormalization":
            return BatchNormalization(name: name, momentum: spec.momentum ?? 0.99, epsilon: spec.epsilon ?? 1e-3,
                                      scale: try flag(spec.scale, "scale", name) ?? true)
        case "Dense":
            return Dense(name: name, units: try required(spec.units, "units"), activation: activation,
                         useBias: spec.useBias ?? true, kernelInitializer: spec.kernelInitializer ?? .glorotUniform)
        case "Dropout":
            let seed = spec.seed.map { UInt32(truncatingIfNeeded: $0) }
                ?? DropoutOps.mix32(UInt32(truncatingIfNeeded: self.seed) &+ UInt32(position))
            return Dropout(name: name, rate: try required(spec.rate, "rate"), seed: seed)
        case "Flatten":
            return Flatten(name: name)
        case "Reshape":
            return Reshape(name: name, targetShape: try required(spec.targetShape, "target_shape"))
        case "Activation":
            return ActivationLayer(name: name, kind: try required(spec.activation, "activation"), alpha: spec.alpha ?? 0.3)
        case "ReLU":
            switch spec.maxValue {
            case nil: return ActivationLayer(name: name, kind: .relu)
            case 6: return ActivationLayer(name: name, kind: .relu6)
            case let other?: throw LumenError.invalidModelSpec("layer '\(name)' (ReLU): max_value \(other) is not supported; Lumen caps ReLU at 6 or not at all")
            }
        case "LeakyReLU":
            return ActivationLayer(name: name, kind: .leakyRelu, alpha: spec.alpha ?? 0.3)
        case "Softmax":
            return ActivationLayer(name: name, kind: .softmax)
        case "Add", "Multiply", "Concatenate":
            if let axis = spec.axis, axis != -1, axis != 3 {
                throw LumenError.invalidModelSpec("layer '\(name)' (Concatenate): axis \(axis) is not supported; Lumen concatenates channels (axis -1 or 3)")
            }
            return Merge(name: name, kind: Merge.Kind(rawValue: spec.type)!)
        case "ZeroPadding2D":
            return try Margins2D(name: name, mode: .pad, margins: spec.padding ?? .explicit(1))
        case "Cropping2D":
            return try Margins2D(name: name, mode: .crop, margins: spec.cropping ?? .explicit(0))
        case "Rescaling":
            guard let factor = spec.scale?.factor else {
                throw LumenError.invalidModelSpec("layer '\(name)' (Rescaling) needs a number for 'scale'")
            }
            return Rescaling(name: name, scale: factor, offset: spec.offset ?? 0)
        case "Residual":
            return Layer(name: name)  // replaced by the caller once the inner layers exist
        default:
            throw LumenError.invalidModelSpec("layer '\(name)' has unknown type '\(spec.type)'")
        }
    }

    /// A yes/no argument given as a number is an error naming it.
    private func flag(_ value: ScaleArgument?, _ argument: String, _ name: String) throws -> Bool? {
        guard let value else { return nil }
        guard let flag = value.flag else { throw LumenError.invalidModelSpec("layer '\(name)': '\(argument)' must be true or false") }
        return flag
    }
}
