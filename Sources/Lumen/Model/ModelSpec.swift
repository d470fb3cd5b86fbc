/// One layer of a model spec, with Keras' class and argument names, so a spec reads
/// like the Keras code it replaces. Stored in checkpoints and written as YAML or JSON.
public struct LayerSpec: Codable, Equatable, Sendable {
    /// Keras' class name: Conv2D, DepthwiseConv2D, SeparableConv2D, MaxPooling2D,
    /// AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, BatchNormalization,
    /// Dense, Dropout, Flatten, Reshape, Activation, ReLU, LeakyReLU, Softmax, Add,
    /// Multiply, Concatenate, ZeroPadding2D, Cropping2D, Rescaling, or Residual.
    public var type: String
    public var name: String?
    /// The layers whose outputs this layer takes, by name (the model's input by its
    /// `input_name`); absent, the layer before it in the list (the model's input for the
    /// first), which makes a Sequential model's spec a graph's.
    public var inputs: [String]?
    public var filters: Int?
    public var kernelSize: WindowSize?
    public var strides: WindowSize?
    public var padding: Padding?
    public var useBias: Bool?
    public var activation: ActivationKind?
    public var units: Int?
    public var rate: Float?
    public var seed: Int?
    public var poolSize: WindowSize?
    public var momentum: Float?
    public var epsilon: Float?
    /// BatchNormalization's flag (gamma or not), Rescaling's factor.
    public var scale: ScaleArgument?
    public var offset: Float?
    public var depthMultiplier: Int?
    public var alpha: Float?
    /// ReLU's cap: 6 gives ReLU6 (MobileNet); absent, none.
    public var maxValue: Float?
    /// Cropping2D's margins, in ZeroPadding2D's forms.
    public var cropping: Padding?
    /// Reshape's target, per sample in Keras' channels-last order.
    public var targetShape: [Int]?
    /// Global pooling that keeps 1 × 1 spatial dimensions.
    public var keepdims: Bool?
    /// Concatenate's axis in Keras' channels-last numbering: -1 or 3 (channels).
    public var axis: Int?
    /// glorot_uniform (Keras' default) or he_normal, for Conv2D and Dense kernels.
    public var kernelInitializer: Initializer?
    /// A Residual block's main path and shortcut.
    public var layers: [LayerSpec]?
    public var shortcut: [LayerSpec]?

    public init(type: String, name: String? = nil) {
        self.type = type
        self.name = name
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, name, inputs, filters, units, rate, seed, padding, activation, momentum, epsilon, scale, offset, alpha
        case layers, shortcut, cropping, keepdims, axis
        case kernelSize = "kernel_size", strides, useBias = "use_bias", poolSize = "pool_size", maxValue = "max_value"
        case depthMultiplier = "depth_multiplier", kernelInitializer = "kernel_initializer", targetShape = "target_shape"
    }

    /// The arguments each layer class takes besides `type` and `name`; nil for a class
    /// Lumen does not know (the model builder names it).
    static func arguments(of type: String) -> [CodingKeys]? {
        switch type {
        case "Conv2D": return [.filters, .kernelSize, .strides, .padding, .useBias, .activation, .kernelInitializer]
        case "DepthwiseConv2D": return [.kernelSize, .strides, .padding, .depthMultiplier, .useBias, .activation]
        case "SeparableConv2D":
            return [.filters, .kernelSize, .strides, .padding, .depthMultiplier, .useBias, .activation, .kernelInitializer]
        case "MaxPooling2D", "AveragePooling2D": return [.poolSize, .strides, .padding]
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D": return [.keepdims]
        case "Flatten", "Softmax", "Add", "Multiply": return []
        case "ReLU": return [.maxValue]
        case "Concatenate": return [.axis]
        case "ZeroPadding2D": return [.padding]
        case "Cropping2D": return [.cropping]
        case "Rescaling": return [.scale, .offset]
        case "Reshape": return [.targetShape]
        case "BatchNormalization": return [.momentum, .epsilon, .scale]
        case "Dense": return [.units, .activation, .useBias, .kernelInitializer]
        case "Dropout": return [.rate, .seed]
        case "Activation": return [.activation, .alpha]
        case "LeakyReLU": return [.alpha]
        case "Residual": return [.layers, .shortcut, .activation]
        default: return nil
        }
    }

    /// Refuses a key its layer's class does not take (a misspelling, or a Keras argument
    /// Lumen does not implement, such as dilation_rate) in the `layers:` list `list` and in
    /// the blocks inside it, naming the key and the layer, so the model built is the model
    /// written. Classes Lumen does not know are left to the model builder to name.
    static func checkArguments(in list: inout UnkeyedDecodingContainer) throws {
        func key(_ text: String) -> AnyCodingKey { AnyCodingKey(stringValue: text) }
        var position = 0
        while !list.isAtEnd {
            position += 1
            let layer = try list.nestedContainer(keyedBy: AnyCodingKey.self)
            let type = try layer.decode(String.self, forKey: key("type"))
            if let allowed = arguments(of: type) {
                let known = Set((allowed + [.type, .name, .inputs]).map(\.rawValue))
                if let unknown = layer.allKeys.map(\.stringValue).first(where: { !known.contains($0) }) {
                    let which = try layer.decodeIfPresent(String.self, forKey: key("name")).map { "layer '\($0)'" } ?? "layer \(position)"
                    let takes = allowed.isEmpty ? "takes no arguments" : "takes \(allowed.map(\.rawValue).joined(separator: ", "))"
                    throw LumenError.invalidModelSpec("\(which) (\(type)): unknown argument '\(unknown)'; \(type) \(takes)")
                }
            }
            for block in ["layers", "shortcut"] where layer.contains(key(block)) {
                var inner = try layer.nestedUnkeyedContainer(forKey: key(block))
                try checkArguments(in: &inner)
            }
        }
    }
}

/// Any key a mapping holds, to list what a file wrote.
struct AnyCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) { (self.stringValue, self.intValue) = (stringValue, nil) }
    init?(intValue: Int) { (self.stringValue, self.intValue) = (String(intValue), intValue) }
}

/// A model: input size, the name of its input, and its layers (a graph through their `inputs`).
public struct ModelSpec: Codable, Equatable, Sendable {
    public var name: String
    /// Keras' input_shape order: height, width, channels.
    public var inputShape: [Int]
    /// The name layers use in `inputs:` for the model's input; absent, "input".
    public var inputName: String?
    public var layers: [LayerSpec]

    public init(name: String, inputShape: [Int], layers: [LayerSpec], inputName: String? = nil) {
        self.name = name
        self.inputShape = inputShape
        self.layers = layers
        self.inputName = inputName
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, inputShape = "input_shape", inputName = "input_name", layers
    }

    /// What layers call the model's input.
    public var resolvedInputName: String { inputName ?? "input" }

    /// Decodes strictly: a key other than name, input_shape and layers is an error, and so
    /// is a key a layer's class does not take (`LayerSpec.checkArguments`).
    public init(from decoder: Decoder) throws {
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = try decoder.container(keyedBy: AnyCodingKey.self).allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw LumenError.invalidModelSpec("unknown key '\(unknown.stringValue)' in the model spec; it takes name, input_shape, input_name and layers")
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        inputShape = try container.decode([Int].self, forKey: .inputShape)
        inputName = try container.decodeIfPresent(String.self, forKey: .inputName)
        var list = try container.nestedUnkeyedContainer(forKey: .layers)
        try LayerSpec.checkArguments(in: &list)
        layers = try container.decode([LayerSpec].self, forKey: .layers)
    }

    /// The per-sample input in Lumen's layout, [C, H, W].
    public var channelsFirstInput: [Int] { [inputShape[2], inputShape[0], inputShape[1]] }
}

/// A window's height and width: one number for a square, or [height, width] as Keras
/// writes (3, 3) or (1, 7).
public struct WindowSize: Codable, Equatable, Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var height: Int, width: Int

    public init(_ height: Int, _ width: Int) { (self.height, self.width) = (height, width) }
    public init(_ side: Int) { self.init(side, side) }
    public init(integerLiteral side: Int) { self.init(side) }

    public var isSquare: Bool { height == width }
    public var area: Int { height * width }
    public var description: String { isSquare ? String(height) : "(\(height), \(width))" }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let side = try? container.decode(Int.self) { self.init(side); return }
        let pair = try container.decode([Int].self)
        guard pair.count == 2 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a window size is a number or [height, width], got \(pair)")
        }
        self.init(pair[0], pair[1])
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if isSquare { try container.encode(height) } else { try container.encode([height, width]) }
    }
}

/// Keras' `scale` argument: a flag for BatchNormalization (whether it has gamma), a
/// factor for Rescaling.
public enum ScaleArgument: Codable, Equatable, Sendable {
    case flag(Bool)
    case factor(Float)

    public var flag: Bool? { if case .flag(let value) = self { return value } else { return nil } }
    public var factor: Float? { if case .factor(let value) = self { return value } else { return nil } }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) { self = .flag(value) } else { self = .factor(try container.decode(Float.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .flag(let value): try container.encode(value)
        case .factor(let value): try container.encode(value)
        }
    }
}
