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

    enum CodingKeys: String, CodingKey {
        case type, name, filters, units, rate, seed, padding, activation, momentum, epsilon, scale, alpha, layers, shortcut
        case kernelSize = "kernel_size", strides, useBias = "use_bias", poolSize = "pool_size"
        case depthMultiplier = "depth_multiplier", kernelInitializer = "kernel_initializer"
    }
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

    enum CodingKeys: String, CodingKey {
        case name, inputShape = "input_shape", layers
    }

    /// The per-sample input in Lumen's layout, [C, H, W].
    public var channelsFirstInput: [Int] { [inputShape[2], inputShape[0], inputShape[1]] }
}
