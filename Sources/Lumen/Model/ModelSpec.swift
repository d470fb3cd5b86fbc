/// One layer of a model spec, with Keras' class and argument names, so a spec reads
/// like the Keras code it replaces. Stored in checkpoints and written as YAML or JSON.
public struct LayerSpec: Codable, Equatable, Sendable {
    /// Keras' class name: Conv2D, DepthwiseConv2D, MaxPooling2D, AveragePooling2D,
    /// GlobalAveragePooling2D, GlobalMaxPooling2D, BatchNormalization, Dense, Dropout,
    /// Flatten, Activation, ReLU, LeakyReLU, Softmax, or Residual.
    public var type: String
    public var name: String?
    public var filters: Int?
    public var kernelSize: Int?
    public var strides: Int?
    public var padding: Padding?
    public var useBias: Bool?
    public var activation: ActivationKind?
    public var units: Int?
    public var rate: Float?
    public var seed: Int?
    public var poolSize: Int?
    public var momentum: Float?
    public var epsilon: Float?
    public var scale: Bool?
    public var depthMultiplier: Int?
    public var alpha: Float?
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
        case type, name, filters, units, rate, seed, padding, activation, momentum, epsilon, scale, alpha, layers, shortcut
        case kernelSize = "kernel_size", strides, useBias = "use_bias", poolSize = "pool_size"
        case depthMultiplier = "depth_multiplier", kernelInitializer = "kernel_initializer"
    }

    /// The arguments each layer class takes besides `type` and `name`; nil for a class
    /// Lumen does not know (the model builder names it).
    static func arguments(of type: String) -> [CodingKeys]? {
        switch type {
        case "Conv2D": return [.filters, .kernelSize, .strides, .padding, .useBias, .activation, .kernelInitializer]
        case "DepthwiseConv2D": return [.kernelSize, .strides, .padding, .depthMultiplier, .useBias, .activation]
        case "MaxPooling2D", "AveragePooling2D": return [.poolSize, .strides, .padding]
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "ReLU", "Softmax": return []
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
                let known = Set((allowed + [.type, .name]).map(\.rawValue))
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

/// A Sequential model: input size and layers.
public struct ModelSpec: Codable, Equatable, Sendable {
    public var name: String
    /// Keras' input_shape order: height, width, channels.
    public var inputShape: [Int]
    public var layers: [LayerSpec]

    public init(name: String, inputShape: [Int], layers: [LayerSpec]) {
        self.name = name
        self.inputShape = inputShape
        self.layers = layers
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, inputShape = "input_shape", layers
    }

    /// Decodes strictly: a key other than name, input_shape and layers is an error, and so
    /// is a key a layer's class does not take (`LayerSpec.checkArguments`).
    public init(from decoder: Decoder) throws {
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = try decoder.container(keyedBy: AnyCodingKey.self).allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw LumenError.invalidModelSpec("unknown key '\(unknown.stringValue)' in the model spec; it takes name, input_shape and layers")
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        inputShape = try container.decode([Int].self, forKey: .inputShape)
        var list = try container.nestedUnkeyedContainer(forKey: .layers)
        try LayerSpec.checkArguments(in: &list)
        layers = try container.decode([LayerSpec].self, forKey: .layers)
    }

    /// The per-sample input in Lumen's layout, [C, H, W].
    public var channelsFirstInput: [Int] { [inputShape[2], inputShape[0], inputShape[1]] }
}
