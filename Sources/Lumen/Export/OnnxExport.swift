import Foundation
import SwiftProtobuf

/// A model as an ONNX file (opset 13, float32), written with swift-protobuf from ONNX's
/// own schema (`onnx.proto` beside this file), so any ONNX runtime can run what Lumen
/// trained. The input is `[N, C, H, W]` after the checkpoint's preprocessing
/// (x = (pixel · scale + offset − mean) / std, stated in the file's metadata); the output
/// is what `lumen predict` computes before naming classes: class probabilities, or for a
/// single sigmoid output the probability of the second class.
public enum OnnxExport {
    /// The operator set the nodes are written for, and the IR version that goes with it.
    static let opset: Int64 = 13
    static let irVersion: Int64 = 7

    /// The model's ONNX bytes. `batch` fixes the batch dimension; nil leaves it free ("N").
    public static func data(_ model: Model, classes: [String], preprocessing: Preprocessing, batch: Int? = nil) throws -> Data {
        var graph = GraphBuilder(batch: batch)
        var values: [String] = []
        for (layer, sources) in zip(model.layers, model.inputs) {
            let (value, _) = try graph.add(layer, inputs: sources.map { $0 < 0 ? "input" : values[$0] },
                                           shapes: sources.map { $0 < 0 ? model.spec.channelsFirstInput : model.outputShapes[$0] })
            values.append(value)
        }
        let value = values.last!, shape = model.outputShapes.last!
        var output = Onnx_ValueInfoProto()
        output.name = "probabilities"
        output.type = GraphBuilder.tensorType([batch.map(Dimension.fixed) ?? .named("N")] + shape.map(Dimension.fixed))
        graph.nodes.append(GraphBuilder.node("Identity", [value], ["probabilities"], name: "output"))

        var proto = Onnx_GraphProto()
        proto.name = model.spec.name
        proto.node = graph.nodes
        proto.initializer = graph.initializers
        var input = Onnx_ValueInfoProto()
        input.name = "input"
        input.docString = "NCHW float32 after preprocessing: (pixel * scale + offset - mean) / std"
        input.type = GraphBuilder.tensorType([batch.map(Dimension.fixed) ?? .named("N")] + model.spec.channelsFirstInput.map(Dimension.fixed))
        proto.input = [input]
        proto.output = [output]

        var file = Onnx_ModelProto()
        file.irVersion = irVersion
        var opsetImport = Onnx_OperatorSetIdProto()
        opsetImport.domain = ""
        opsetImport.version = opset
        file.opsetImport = [opsetImport]
        file.producerName = "lumen"
        file.graph = proto
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let metadata: [(String, String)] = [
            ("lumen.model", String(decoding: try encoder.encode(model.spec), as: UTF8.self)),
            ("lumen.classes", String(decoding: try encoder.encode(classes), as: UTF8.self)),
            ("lumen.preprocessing", String(decoding: try encoder.encode(preprocessing), as: UTF8.self)),
            ("lumen.input", "NCHW float32, after preprocessing: (pixel * scale + offset - mean) / std, pixels 0-255"),
        ]
        file.metadataProps = metadata.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        return try file.serializedData()
    }

    /// One dimension of a declared shape.
    enum Dimension {
        case fixed(Int)
        case named(String)
    }
}

/// The nodes and initializers of a graph, built layer by layer.
struct GraphBuilder {
    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []
    let batch: Int?

    init(batch: Int?) { self.batch = batch }

    /// Adds `layer` on the value `input` of per-sample shape `shape`; returns its output
    /// value and per-sample shape.
    mutating func add(_ layer: Layer, inputs sources: [String], shapes: [[Int]]) throws -> (String, [Int]) {
        let outShape = try layer.outputShape(forInputs: shapes)
        let input = sources[0], shape = shapes[0]
        var value: String
        switch layer {
        case let conv as ConvolutionLayer:
            value = try convolution(conv, on: input, shape: shape, name: layer.name)
        case let separable as SeparableConv2D:
            let depthwise = try convolution(separable.depthwise, on: input, shape: shape, name: layer.name + "/depthwise")
            value = try convolution(separable.pointwise, on: depthwise, shape: try separable.depthwise.outputShape(for: shape),
                                    name: layer.name)
        case let margins as Margins2D:
            if margins.mode == .pad {
                // [x1_begin, x2_begin, …, x1_end, …] over N, C, H, W.
                let pads = integers(layer.name + ".pads", [0, 0, margins.top, margins.left, 0, 0, margins.bottom, margins.right])
                value = emit("Pad", [input, pads], layer.name)
            } else {
                let starts = integers(layer.name + ".starts", [margins.top, margins.left])
                let ends = integers(layer.name + ".ends", [shape[1] - margins.bottom, shape[2] - margins.right])
                value = emit("Slice", [input, starts, ends, integers(layer.name + ".axes", [2, 3])], layer.name)
            }
        case let rescaling as Rescaling:
            let factor = constant(layer.name + ".scale", shape: [], values: [rescaling.scale])
            value = emit("Mul", [input, factor], rescaling.offset == 0 ? layer.name : layer.name + "/scale")
            if rescaling.offset != 0 {
                value = emit("Add", [value, constant(layer.name + ".offset", shape: [], values: [rescaling.offset])], layer.name)
            }
        case is Reshape:
            // 0 keeps the batch dimension as it comes.
            value = emit("Reshape", [input, integers(layer.name + ".shape", [0] + outShape)], layer.name)
        case let pool as Pooling2D:
            let g = try WindowGeometry(input: [1] + shape, kernel: (pool.poolSize.height, pool.poolSize.width), stride: pool.stride,
                                       padding: pool.padding)
            var attributes = windowAttributes(g)
            // Keras averages the cells inside the image only.
            if pool.mode == .average { attributes.append(GraphBuilder.int("count_include_pad", 0)) }
            value = emit(pool.mode == .max ? "MaxPool" : "AveragePool", [input], layer.name, attributes)
        case let pool as GlobalPooling2D:
            if pool.keepsDimensions {
                value = emit(pool.mode == .max ? "GlobalMaxPool" : "GlobalAveragePool", [input], layer.name)
            } else {
                let pooled = emit(pool.mode == .max ? "GlobalMaxPool" : "GlobalAveragePool", [input], layer.name + "/pool")
                value = emit("Flatten", [pooled], layer.name, [GraphBuilder.int("axis", 1)])
            }
        case let merge as Merge:
            switch merge.kind {
            case .add: value = emit("Sum", sources, layer.name)
            case .multiply: value = emit("Mul", sources, layer.name)
            case .concatenate: value = emit("Concat", sources, layer.name, [GraphBuilder.int("axis", 1)])
            }
        case let norm as BatchNormalization:
            var scale: String
            if let gamma = norm.gamma {
                scale = try weight(gamma)
            } else {
                scale = constant(layer.name + ".scale", shape: [shape[0]], values: [Float](repeating: 1, count: shape[0]))
            }
            value = emit("BatchNormalization", [input, scale, try weight(norm.beta), try weight(norm.runningMean),
                                                try weight(norm.runningVariance)],
                         layer.name, [GraphBuilder.float("epsilon", norm.epsilon)])
        case let dense as Dense:
            var inputs = [input, try weight(dense.weight)]
            if let bias = dense.bias { inputs.append(try weight(bias)) }
            value = emit("Gemm", inputs, layer.name, [GraphBuilder.int("transB", 1)])
        case is Dropout:
            value = input  // inference: the identity
        case is Flatten:
            value = emit("Flatten", [input], layer.name, [GraphBuilder.int("axis", 1)])
        case is ActivationLayer:
            value = input
        case let block as Residual:
            var main = input, mainShape = shape
            for inner in block.main { (main, mainShape) = try add(inner, inputs: [main], shapes: [mainShape]) }
            var shortcut = input, shortcutShape = shape
            for inner in block.shortcut { (shortcut, shortcutShape) = try add(inner, inputs: [shortcut], shapes: [shortcutShape]) }
            value = emit("Add", [main, shortcut], layer.name)
        default:
            throw LumenError.invalidModelSpec("layer '\(layer.name)' (\(layer.typeName)) cannot be written to ONNX")
        }
        return (activation(layer.activation, alpha: layer.activationAlpha, on: value, name: layer.name), outShape)
    }

    /// The activation a layer applies after its core, as its own node.
    mutating func activation(_ kind: ActivationKind, alpha: Float, on value: String, name: String) -> String {
        switch kind {
        case .linear: return value
        case .relu: return emit("Relu", [value], name + "/relu")
        case .relu6:
            let low = constant(name + ".clip_min", shape: [], values: [0]), high = constant(name + ".clip_max", shape: [], values: [6])
            return emit("Clip", [value, low, high], name + "/relu6")
        case .leakyRelu: return emit("LeakyRelu", [value], name + "/leaky_relu", [GraphBuilder.float("alpha", alpha)])
        case .sigmoid: return emit("Sigmoid", [value], name + "/sigmoid")
        case .tanh: return emit("Tanh", [value], name + "/tanh")
        case .softmax: return emit("Softmax", [value], name + "/softmax", [GraphBuilder.int("axis", -1)])
        }
    }

    /// A Conv node for a convolution (a depthwise one as one group per input channel).
    mutating func convolution(_ conv: ConvolutionLayer, on input: String, shape: [Int], name: String) throws -> String {
        let g = try WindowGeometry(input: [1] + shape, kernel: (conv.kernelSize.height, conv.kernelSize.width), stride: conv.stride,
                                   padding: conv.padding)
        var inputs = [input, try weight(conv.weight)]
        if let bias = conv.bias { inputs.append(try weight(bias)) }
        var attributes = windowAttributes(g)
        if conv is DepthwiseConv2D { attributes.append(GraphBuilder.int("group", Int64(shape[0]))) }
        return emit("Conv", inputs, name, attributes)
    }

    /// kernel_shape, strides and pads (top, left, bottom, right) of a window: the bottom
    /// and right padding follow from the output size, as Keras' asymmetric "same" needs.
    func windowAttributes(_ g: WindowGeometry) -> [Onnx_AttributeProto] {
        let bottom = max(0, (g.outHeight - 1) * g.stride + g.kernelHeight - g.height - g.padTop)
        let right = max(0, (g.outWidth - 1) * g.stride + g.kernelWidth - g.width - g.padLeft)
        return [GraphBuilder.ints("kernel_shape", [g.kernelHeight, g.kernelWidth]),
                GraphBuilder.ints("strides", [g.stride, g.stride]),
                GraphBuilder.ints("pads", [g.padTop, g.padLeft, bottom, right])]
    }

    /// Appends a node whose one output is named after it; returns that name.
    mutating func emit(_ op: String, _ inputs: [String], _ name: String, _ attributes: [Onnx_AttributeProto] = []) -> String {
        var node = GraphBuilder.node(op, inputs, [name], name: name)
        node.attribute = attributes
        nodes.append(node)
        return name
    }

    /// A parameter as an initializer named as in the checkpoint.
    mutating func weight(_ parameter: Parameter) throws -> String {
        constant(parameter.name, shape: parameter.value.shape, values: try parameter.value.toArray())
    }

    mutating func constant(_ name: String, shape: [Int], values: [Float]) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = shape.map(Int64.init)
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.floatData = values
        initializers.append(tensor)
        return name
    }

    /// An int64 initializer (a shape, pads or slice bounds) of one dimension.
    mutating func integers(_ name: String, _ values: [Int]) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = [Int64(values.count)]
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        tensor.int64Data = values.map(Int64.init)
        initializers.append(tensor)
        return name
    }

    static func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String) -> Onnx_NodeProto {
        var node = Onnx_NodeProto()
        node.opType = op
        node.input = inputs
        node.output = outputs
        node.name = name
        return node
    }

    static func int(_ name: String, _ value: Int64) -> Onnx_AttributeProto { attribute(name, .int) { $0.i = value } }
    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto { attribute(name, .float) { $0.f = value } }
    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto { attribute(name, .ints) { $0.ints = values.map(Int64.init) } }

    private static func attribute(_ name: String, _ type: Onnx_AttributeProto.AttributeType,
                                  _ set: (inout Onnx_AttributeProto) -> Void) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = type
        set(&a)
        return a
    }

    static func tensorType(_ dimensions: [OnnxExport.Dimension]) -> Onnx_TypeProto {
        var shape = Onnx_TensorShapeProto()
        shape.dim = dimensions.map { dimension in
            var d = Onnx_TensorShapeProto.Dimension()
            switch dimension {
            case .fixed(let size): d.dimValue = Int64(size)
            case .named(let name): d.dimParam = name
            }
            return d
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        return type
    }
}
