import Foundation

/// A Keras model's architecture (the `model_config` of a full-model .h5, the
/// `config.json` of a .keras archive) as a Lumen model spec: Sequential or functional,
/// Keras 2 or Keras 3 layouts, layer names kept. Every layer class and argument value
/// Lumen does not implement is refused with one line naming the layer, its class and
/// the argument.
public enum KerasModelConfig {
    /// The spec of the model described by `json`; `source` names the file in errors.
    public static func spec(fromJSON json: Data, source: String) throws -> ModelSpec {
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw LumenError.invalidModelSpec("\(source): the model configuration is not a JSON object")
        }
        return try spec(from: root, source: source)
    }

    static func spec(from root: [String: Any], source: String) throws -> ModelSpec {
        let className = root["class_name"] as? String ?? ""
        // Keras before 2.2.3 wrote a Sequential model's config as the bare layers list.
        if className == "Sequential", let layers = root["config"] as? [[String: Any]] {
            return try sequential(name: "sequential", layers, source: source)
        }
        guard let config = root["config"] as? [String: Any], let layers = config["layers"] as? [[String: Any]] else {
            throw LumenError.invalidModelSpec("\(source): the model configuration has no layers list")
        }
        let name = config["name"] as? String ?? "keras-model"
        switch className {
        case "Sequential": return try sequential(name: name, layers, source: source)
        case "Functional", "Model": return try functional(name: name, config, layers, source: source)
        default: throw LumenError.invalidModelSpec("\(source): a \(className) model cannot be imported; Lumen reads Sequential and functional models")
        }
    }

    /// A Sequential model: the input from an InputLayer (Keras 3) or the first layer's
    /// `batch_input_shape` (Keras 2); each layer takes the one before.
    private static func sequential(name: String, _ layers: [[String: Any]], source: String) throws -> ModelSpec {
        var inputShape: [Int]?
        var specs: [LayerSpec] = []
        for layer in layers {
            let config = layer["config"] as? [String: Any] ?? [:]
            if inputShape == nil { inputShape = try batchShape(config, source: source) }
            if layer["class_name"] as? String == "InputLayer" { continue }
            specs.append(try layerSpec(layer, source: source))
        }
        guard let inputShape else { throw LumenError.invalidModelSpec("\(source): the Sequential model has no input shape") }
        return ModelSpec(name: name, inputShape: inputShape, layers: specs)
    }

    /// A functional model: one input, one output, each layer's inputs from its inbound node.
    private static func functional(name: String, _ config: [String: Any], _ layers: [[String: Any]], source: String) throws -> ModelSpec {
        let inputLayers = layers.filter { $0["class_name"] as? String == "InputLayer" }
        guard inputLayers.count == 1, let input = inputLayers.first else {
            throw LumenError.invalidModelSpec("\(source): the model has \(inputLayers.count) inputs; Lumen imports models with one image input")
        }
        let inputName = (input["config"] as? [String: Any])?["name"] as? String ?? input["name"] as? String ?? "input"
        guard let shape = try batchShape(input["config"] as? [String: Any] ?? [:], source: source) else {
            throw LumenError.invalidModelSpec("\(source): input '\(inputName)' has no shape")
        }
        let outputs = history(config["output_layers"] ?? [])
        guard outputs.count == 1, let output = outputs.first else {
            throw LumenError.invalidModelSpec("\(source): the model has \(outputs.count) outputs; Lumen imports models with one output")
        }
        var specs: [LayerSpec] = []
        for layer in layers where layer["class_name"] as? String != "InputLayer" {
            var spec = try layerSpec(layer, source: source)
            let nodes = layer["inbound_nodes"] as? [Any] ?? []
            guard nodes.count == 1 else {
                throw LumenError.invalidModelSpec("\(source): layer '\(spec.name ?? "")' is called \(nodes.count) times; Lumen imports layers used once")
            }
            let sources = history(nodes[0])
            if let shared = sources.first(where: { $0.node != 0 }) {
                throw LumenError.invalidModelSpec("\(source): layer '\(spec.name ?? "")' takes the output of a shared layer '\(shared.layer)'; Lumen imports layers used once")
            }
            spec.inputs = sources.map(\.layer)
            specs.append(spec)
        }
        // The output layer last; layers after it lead nowhere.
        guard let position = specs.lastIndex(where: { $0.name == output.layer }) else {
            throw LumenError.invalidModelSpec("\(source): the output layer '\(output.layer)' is not among the layers")
        }
        specs = Array(specs[...position])
        return ModelSpec(name: name, inputShape: shape, layers: specs, inputName: inputName)
    }

    /// (layer, node index) of every tensor a config refers to: Keras 2's
    /// [name, node, tensor, kwargs] lists and Keras 3's `keras_history`, nested in lists.
    private static func history(_ value: Any) -> [(layer: String, node: Int)] {
        if let object = value as? [String: Any] {
            if let config = object["config"] as? [String: Any], let history = config["keras_history"] as? [Any],
               let layer = history.first as? String {
                return [(layer, history.count > 1 ? (history[1] as? Int ?? 0) : 0)]
            }
            // Keras 3 nodes: {"args": [...], "kwargs": {...}}; only args carry inputs.
            return history(object["args"] ?? [])
        }
        guard let list = value as? [Any] else { return [] }
        if let layer = list.first as? String, list.count >= 3, list[1] is Int { return [(layer, list[1] as! Int)] }
        return list.flatMap { history($0) }
    }

    /// [height, width, channels] from a `batch_input_shape` / `batch_shape` entry.
    private static func batchShape(_ config: [String: Any], source: String) throws -> [Int]? {
        guard let shape = (config["batch_input_shape"] ?? config["batch_shape"]) as? [Any] else { return nil }
        let dims = shape.dropFirst().map { $0 as? Int }
        guard dims.count == 3, dims.allSatisfy({ $0 != nil }) else {
            throw LumenError.invalidModelSpec("\(source): the input shape \(shape) is not (None, height, width, channels) with fixed sizes; give the model a fixed input size")
        }
        return dims.map { $0! }
    }

    /// One layer's spec from its Keras config.
    static func layerSpec(_ layer: [String: Any], source: String) throws -> LayerSpec {
        let type = layer["class_name"] as? String ?? ""
        let config = layer["config"] as? [String: Any] ?? [:]
        let name = config["name"] as? String ?? layer["name"] as? String ?? ""
        var spec = LayerSpec(type: type, name: name)
        func refuse(_ argument: String, _ value: Any) -> LumenError {
            LumenError.invalidModelSpec("\(source): layer '\(name)' (\(type)): \(argument)=\(value) is not supported")
        }
        func int(_ key: String) -> Int? { config[key] as? Int }
        func float(_ key: String) -> Float? { (config[key] as? NSNumber)?.floatValue }
        func bool(_ key: String) -> Bool? { config[key] as? Bool }
        func pair(_ key: String) throws -> WindowSize? {
            if let side = config[key] as? Int { return WindowSize(side) }
            guard let list = config[key] as? [Int] else { return nil }
            guard list.count == 2 else { throw refuse(key, list) }
            return WindowSize(list[0], list[1])
        }
        func margins(_ key: String) throws -> Padding? {
            guard let value = config[key] else { return nil }
            let data = try JSONSerialization.data(withJSONObject: [value])
            guard let decoded = try? JSONDecoder().decode([Padding].self, from: data).first, decoded.margins != nil else { throw refuse(key, value) }
            return decoded
        }
        func activation() throws -> ActivationKind? {
            guard let value = config["activation"] else { return nil }
            guard let text = value as? String, let kind = ActivationKind(rawValue: text) else { throw refuse("activation", value) }
            return kind == .linear ? nil : kind
        }
        func require(_ key: String, _ allowed: (Any) -> Bool) throws {
            if let value = config[key], !(value is NSNull), !allowed(value) { throw refuse(key, value) }
        }
        func ones(_ value: Any) -> Bool { (value as? [Int]).map { $0.allSatisfy { $0 == 1 } } ?? (value as? Int == 1) }
        func channelsAxis(_ value: Any) -> Bool {
            if let axis = value as? Int { return axis == -1 || axis == 3 }
            if let axes = value as? [Int] { return axes == [-1] || axes == [3] }
            return false
        }
        try require("data_format", { $0 as? String == "channels_last" })
        switch type {
        case "Conv2D", "DepthwiseConv2D", "SeparableConv2D":
            try require("dilation_rate", ones)
            try require("groups", { $0 as? Int == 1 })
            if type != "DepthwiseConv2D" { spec.filters = int("filters") }
            spec.kernelSize = try pair("kernel_size")
            spec.strides = try pair("strides")
            if let padding = config["padding"] as? String {
                guard let value = Padding(rawValue: padding), value == .valid || value == .same else { throw refuse("padding", padding) }
                spec.padding = value
            }
            spec.useBias = bool("use_bias")
            spec.activation = try activation()
            if type != "Conv2D" { spec.depthMultiplier = int("depth_multiplier") }
        case "Dense":
            spec.units = int("units")
            spec.useBias = bool("use_bias")
            spec.activation = try activation()
        case "BatchNormalization":
            try require("axis", channelsAxis)
            try require("center", { $0 as? Bool == true })
            try require("renorm", { $0 as? Bool == false })
            spec.momentum = float("momentum")
            spec.epsilon = float("epsilon")
            spec.scale = bool("scale").map(ScaleArgument.flag)
        case "Activation":
            guard let kind = try activation() ?? (config["activation"] as? String == "linear" ? ActivationKind.linear : nil) else {
                throw refuse("activation", config["activation"] ?? "none")
            }
            spec.activation = kind
        case "ReLU":
            try require("negative_slope", { ($0 as? NSNumber)?.floatValue == 0 })
            try require("threshold", { ($0 as? NSNumber)?.floatValue == 0 })
            spec.maxValue = float("max_value")
        case "LeakyReLU":
            spec.alpha = float("alpha") ?? float("negative_slope")
        case "Softmax":
            try require("axis", channelsAxis)
        case "MaxPooling2D", "AveragePooling2D":
            spec.poolSize = try pair("pool_size")
            spec.strides = try pair("strides")
            if let padding = config["padding"] as? String {
                guard let value = Padding(rawValue: padding), value == .valid || value == .same else { throw refuse("padding", padding) }
                spec.padding = value
            }
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
            if bool("keepdims") == true { spec.keepdims = true }
        case "Flatten":
            break
        case "Dropout":
            try require("noise_shape", { _ in false })
            spec.rate = float("rate")
            spec.seed = int("seed")
        case "Reshape":
            spec.targetShape = config["target_shape"] as? [Int]
        case "ZeroPadding2D":
            spec.padding = try margins("padding")
        case "Cropping2D":
            spec.cropping = try margins("cropping")
        case "Rescaling":
            guard let scale = float("scale") else { throw refuse("scale", config["scale"] ?? "none") }
            spec.scale = .factor(scale)
            spec.offset = float("offset")
        case "Add", "Multiply":
            break
        case "Concatenate":
            try require("axis", channelsAxis)
        case "Sequential", "Functional", "Model":
            throw LumenError.invalidModelSpec("\(source): layer '\(name)' is a nested model; Lumen imports models whose layers are all plain layers (build the model with Model(inputs=base.input, outputs=...))")
        default:
            throw LumenError.invalidModelSpec("\(source): layer '\(name)' has class \(type), which Lumen does not implement")
        }
        return spec
    }
}
