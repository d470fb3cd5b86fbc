import Foundation
@testable import Lumen

/// The weights Scripts/make-keras-graph-fixtures.py gives keras.applications' models,
/// computed here from the same formula in Keras' layouts and converted by Lumen's Keras
/// importer: hashed uniforms keyed by the layer's name and the variable's position.
enum KerasFormulaWeights {
    static func phase(_ name: String) -> UInt64 {
        UInt64(name.unicodeScalars.enumerated().reduce(0) { $0 + ($1.offset + 1) * Int($1.element.value) } % 997)
    }

    /// `count` numbers in [-1, 1), as the script's `uniform`.
    static func uniform(_ count: Int, salt: UInt64) -> [Double] {
        let mask: UInt64 = (1 << 32) - 1
        return (0..<UInt64(count)).map { i in
            var h = (i &* 2_654_435_761 &+ salt) & mask
            h ^= h >> 15
            h = (h &* 2_246_822_519) & mask
            h ^= h >> 13
            return Double(h) / Double(UInt64(1) << 31) - 1
        }
    }

    /// One variable of a layer in Keras' layout.
    static func variable(_ layer: Layer, _ index: Int, _ shape: [Int]) -> SafeTensors.Entry {
        let s = uniform(shape.reduce(1, *), salt: phase(layer.name) * 40503 + UInt64(index) * 9973)
        let values: [Double]
        if let norm = layer as? BatchNormalization {
            let role = ((norm.scale ? ["gamma"] : []) + ["beta", "mean", "variance"])[index]
            switch role {
            case "gamma": values = s.map { 1 + 0.2 * $0 }
            case "variance": values = s.map { 0.75 + 0.5 * $0 * $0 }
            default: values = s.map { 0.1 * $0 }
            }
        } else if shape.count == 1 {
            values = s.map { 0.05 * $0 }
        } else {
            let depthwise = layer is DepthwiseConv2D || layer is SeparableConv2D && index == 0
            let fanIn = depthwise ? shape[0] * shape[1] : shape.dropLast().reduce(1, *)
            values = s.map { (6 / Double(fanIn)).squareRoot() * $0 }
        }
        return SafeTensors.Entry(shape: shape, values: values.map { Float($0) })
    }

    /// Keras' variable shapes for a Lumen layer: kernels (kh, kw, in, out), depthwise
    /// (kh, kw, in, multiplier), Dense (in, out), then the bias or BatchNorm vectors.
    static func kerasShapes(_ layer: Layer) -> [[Int]] {
        func kernel(_ w: [Int]) -> [Int] { [w[2], w[3], w[1], w[0]] }
        switch layer {
        case let conv as Conv2D: return [kernel(conv.weight.value.shape)] + (conv.bias.map { [$0.value.shape] } ?? [])
        case let conv as DepthwiseConv2D:
            let w = conv.weight.value.shape
            return [[w[2], w[3], w[0] / conv.depthMultiplier, conv.depthMultiplier]] + (conv.bias.map { [$0.value.shape] } ?? [])
        case let conv as SeparableConv2D:
            return kerasShapes(conv.depthwise) + [kernel(conv.pointwise.weight.value.shape)]
                + (conv.pointwise.bias.map { [$0.value.shape] } ?? [])
        case let dense as Dense:
            let w = dense.weight.value.shape
            return [[w[1], w[0]]] + (dense.bias.map { [$0.value.shape] } ?? [])
        default: return layer.parameters.map(\.value.shape)
        }
    }

    /// Loads the formula weights into every layer of `model` that has weights.
    static func load(into model: Model) throws {
        var tensors: [String: SafeTensors.Entry] = [:]
        let fail = { (reason: String) in KerasWeights.ImportError(file: "formula", reason: reason) }
        for (layer, flattened) in KerasWeights.weightedLayers(model) {
            let vars = kerasShapes(layer).enumerated().map { variable(layer, $0.offset, $0.element) }
            for (name, entry) in try KerasWeights.convert(layer, vars, flattenInput: flattened, fail) { tensors[name] = entry }
        }
        try Checkpoint.load(tensors, into: model, source: "formula weights")
    }
}
