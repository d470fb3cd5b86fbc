import CLShim
import Foundation

/// Keras HDF5 weight files, read through libhdf5 in the C shim and turned into Lumen's
/// tensors: the legacy layout (Keras 2 `save_weights` and keras-applications files,
/// with `layer_names` chunked above 64 KB, and full-model files under `model_weights/`),
/// matched by order among layers with weights as Keras does, and the Keras 3
/// `.weights.h5` layout (`layers/<name>/vars/<i>`), matched by layer name.
///
/// Conv kernels (kh, kw, in, out) become (out, in, kh, kw), depthwise kernels
/// (kh, kw, in, multiplier) become (in·multiplier, 1, kh, kw), and Dense kernels
/// (in, out) become (out, in), with the rows of a Dense that follows Flatten reordered
/// from Keras' channels-last flattening to Lumen's channels-first.
public enum KerasWeights {
    public struct ImportError: Error, CustomStringConvertible {
        public let file: String
        public let reason: String
        public var description: String { "\(file): \(reason)" }
    }

    /// Lumen tensors for every parameter of `model`, from the file at `url`. With
    /// `allowingMissing`, a legacy file whose layers are a subset of the model's by name
    /// (keras-applications' `*_notop.h5` for a model with a head) gives those layers only.
    public static func tensors(from url: URL, for model: Model, allowingMissing: Bool = false) throws -> [String: SafeTensors.Entry] {
        func fail(_ reason: String) -> ImportError { ImportError(file: url.path, reason: reason) }
        var file: Int64 = -1
        guard lm_h5_open(url.path, &file) == 0 else { throw fail("not an HDF5 file, or unreadable") }
        defer { lm_h5_close(file) }
        let weighted = weightedLayers(model)
        let variables = try rawVariables(file, model, fail, allowingMissing: allowingMissing)
        var tensors: [String: SafeTensors.Entry] = [:]
        for ((layer, flattenInput), vars) in zip(weighted, variables) {
            guard let vars else { continue }
            for (name, entry) in try convert(layer, vars, flattenInput: flattenInput, fail) { tensors[name] = entry }
        }
        return tensors
    }

    /// Every weighted layer's variables as stored, in the model's order of weighted
    /// layers; nil for a layer the file lacks (only with `allowingMissing`).
    static func rawVariables(_ file: Int64, _ model: Model, _ fail: (String) -> ImportError,
                             allowingMissing: Bool = false) throws -> [[SafeTensors.Entry]?] {
        let weighted = weightedLayers(model)
        var variables: [[SafeTensors.Entry]?] = []
        if let layout = legacyRoot(file) {
            let names = try strings(file, layout, "layer_names", fail)
            func stored(_ name: String) throws -> [SafeTensors.Entry] {
                let group = layout == "/" ? "/\(name)" : "\(layout)/\(name)"
                return try strings(file, group, "weight_names", fail).map { try dataset(file, "\(group)/\($0)", fail) }
            }
            // Matched by name when the file names every layer with weights (a full-model
            // file read with its own architecture), else by order, as Keras' load_weights does.
            let present = Set(names)
            if weighted.allSatisfy({ present.contains($0.layer.name) }) {
                return try weighted.map { try stored($0.layer.name) }
            }
            if allowingMissing {
                let withWeights = try names.filter { !(try stored($0)).isEmpty }
                let modelNames = Set(weighted.map(\.layer.name))
                if !withWeights.isEmpty, withWeights.allSatisfy(modelNames.contains) {
                    let loaded = Set(withWeights)
                    return try weighted.map { loaded.contains($0.layer.name) ? try stored($0.layer.name) : nil }
                }
            }
            var perLayer: [[SafeTensors.Entry]] = []
            for name in names {
                let vars = try stored(name)
                if !vars.isEmpty { perLayer.append(vars) }
            }
            guard perLayer.count == weighted.count else {
                throw fail("holds weights for \(perLayer.count) layers but \(model.spec.name) has \(weighted.count) layers with weights")
            }
            variables = perLayer
        } else if lm_h5_exists(file, "/layers") == 1 {
            // Keras 3 names each layer's group after its class, counted per class in
            // model order (conv2d, conv2d_1, …), whatever the layers were called.
            var used: [String: Int] = [:]
            var paths: [ObjectIdentifier: String] = [:]
            for layer in model.layers {
                let stem = LayerFactory.stem(layer.typeName)
                let seen = used[stem]
                used[stem] = (seen ?? -1) + 1
                paths[ObjectIdentifier(layer)] = seen == nil ? stem : "\(stem)_\(seen! + 1)"
            }
            for (layer, _) in weighted {
                guard let path = paths[ObjectIdentifier(layer)] else {
                    throw fail("layer \(layer.name) is inside a block; Keras 3 files are read for Sequential models only")
                }
                let group = "/layers/\(path)/vars"
                guard lm_h5_exists(file, group) == 1 else {
                    throw fail("has no weights at layers/\(path) for layer '\(layer.name)'")
                }
                var vars: [SafeTensors.Entry] = []
                while lm_h5_exists(file, "\(group)/\(vars.count)") == 1 { vars.append(try dataset(file, "\(group)/\(vars.count)", fail)) }
                variables.append(vars)
            }
        } else {
            throw fail("is neither a Keras weights file (no layer_names attribute) nor a Keras 3 .weights.h5 (no layers group)")
        }
        return variables
    }

    /// The output count of the file's last layer with weights (its bias, or its kernel's
    /// last dimension): how many classes the Keras model had. `model` gives the layout
    /// and may have any class count.
    public static func outputCount(in url: URL, for model: Model) throws -> Int {
        let tensors = try tensorsIgnoringShapes(url, model).compactMap { $0 }
        guard let last = tensors.last else { throw ImportError(file: url.path, reason: "holds no weights") }
        return last.last?.shape.last ?? 0
    }

    private static func tensorsIgnoringShapes(_ url: URL, _ model: Model) throws -> [[SafeTensors.Entry]?] {
        func fail(_ reason: String) -> ImportError { ImportError(file: url.path, reason: reason) }
        var file: Int64 = -1
        guard lm_h5_open(url.path, &file) == 0 else { throw fail("not an HDF5 file, or unreadable") }
        defer { lm_h5_close(file) }
        return try rawVariables(file, model, fail)
    }

    /// Layers with weights in order, each with the [C, H, W] shape flattened before it
    /// while the flattened vector is still in Keras' (h, w, c) order: from a Flatten of
    /// an image-shaped output, through layers that keep the vector's order (Dropout,
    /// Activation, BatchNormalization), up to and including the first Dense.
    static func weightedLayers(_ model: Model) -> [(layer: Layer, flattenInput: [Int]?)] {
        var result: [(Layer, [Int]?)] = []
        var flattened: [Int]?
        for (index, layer) in model.layers.enumerated() {
            if let block = layer as? Residual {
                for inner in block.main + block.shortcut where !inner.parameters.isEmpty { result.append((inner, nil)) }
                flattened = nil
                continue
            }
            if !layer.parameters.isEmpty { result.append((layer, flattened)) }
            if layer is Flatten {
                let source = model.inputs[index][0]
                let input = source < 0 ? model.spec.channelsFirstInput : model.outputShapes[source]
                flattened = input.count == 3 ? input : nil
            } else if !(layer is Dropout || layer is ActivationLayer || layer is BatchNormalization) {
                flattened = nil
            }
        }
        return result
    }

    /// The Lumen (c, h, w) position of Keras' (h, w, c) flattened position `r` of a
    /// [C, H, W] map.
    static func channelsFirstPosition(_ r: Int, of s: [Int]) -> Int {
        let (c, h, x) = (r % s[0], (r / s[0]) / s[2], (r / s[0]) % s[2])
        return (c * s[1] + h) * s[2] + x
    }

    /// Where the legacy layout keeps `layer_names`: the root, or `model_weights` in a full-model file.
    static func legacyRoot(_ file: Int64) -> String? {
        for root in ["/", "/model_weights"] {
            var count: Int32 = 0
            var scratch = [CChar](repeating: 0, count: 16)
            for name in ["layer_names", "layer_names0"] {
                if lm_h5_attribute_strings(file, root, name, &scratch, scratch.count, &count) != 1 { return root }
            }
        }
        return nil
    }

    /// A string-array attribute, joining Keras' chunks (`name0`, `name1`, …) when the
    /// attribute was too large for one HDF5 object header.
    static func strings(_ file: Int64, _ object: String, _ attribute: String,
                        _ fail: (String) -> ImportError) throws -> [String] {
        func read(_ name: String) throws -> [String]? {
            var capacity = 1 << 16
            while capacity <= 1 << 28 {
                var buffer = [CChar](repeating: 0, count: capacity)
                var count: Int32 = 0
                switch lm_h5_attribute_strings(file, object, name, &buffer, capacity, &count) {
                case 0:
                    var result: [String] = [], start = 0
                    for _ in 0..<count {
                        let end = buffer[start...].firstIndex(of: 0)!
                        result.append(String(decoding: buffer[start..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self))
                        start = end + 1
                    }
                    return result
                case 1: return nil
                case 2: return []
                default: capacity *= 4
                }
            }
            throw fail("attribute \(name) of \(object) cannot be read")
        }
        if let whole = try read(attribute) { return whole }
        var chunks: [String] = []
        var index = 0
        while let chunk = try read("\(attribute)\(index)") {
            chunks += chunk
            index += 1
        }
        return chunks
    }

    static func dataset(_ file: Int64, _ path: String, _ fail: (String) -> ImportError) throws -> SafeTensors.Entry {
        var rank: Int32 = 0
        var dims = [UInt64](repeating: 0, count: 8)
        guard lm_h5_dataset_shape(file, path, &rank, &dims) == 0 else { throw fail("has no dataset \(path)") }
        let shape = dims.prefix(Int(rank)).map { Int($0) }
        var values = [Float](repeating: 0, count: shape.reduce(1, *))
        guard lm_h5_dataset_read(file, path, &values, values.count) == 0 else { throw fail("dataset \(path) cannot be read as numbers") }
        return SafeTensors.Entry(shape: shape, values: values)
    }

    /// A Conv2D kernel (kh, kw, in, out) as (out, in, kh, kw).
    static func convolutionKernel(_ k: SafeTensors.Entry, _ layer: Layer, _ fail: (String) -> ImportError) throws -> SafeTensors.Entry {
        guard k.shape.count == 4 else { throw fail("\(layer.name): kernel of shape \(k.shape) is not (kh, kw, in, out)") }
        let (kh, kw, cin, cout) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        var w = [Float](repeating: 0, count: k.values.count)
        for y in 0..<kh { for x in 0..<kw { for i in 0..<cin { for o in 0..<cout {
            w[((o * cin + i) * kh + y) * kw + x] = k.values[((y * kw + x) * cin + i) * cout + o]
        } } } }
        return SafeTensors.Entry(shape: [cout, cin, kh, kw], values: w)
    }

    /// A depthwise kernel (kh, kw, in, multiplier) as (in·multiplier, 1, kh, kw).
    static func depthwiseKernel(_ k: SafeTensors.Entry, _ layer: Layer, _ fail: (String) -> ImportError) throws -> SafeTensors.Entry {
        guard k.shape.count == 4 else { throw fail("\(layer.name): depthwise kernel of shape \(k.shape) is not (kh, kw, in, multiplier)") }
        let (kh, kw, cin, m) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        var w = [Float](repeating: 0, count: k.values.count)
        for y in 0..<kh { for x in 0..<kw { for c in 0..<cin { for j in 0..<m {
            w[((c * m + j) * kh + y) * kw + x] = k.values[((y * kw + x) * cin + c) * m + j]
        } } } }
        return SafeTensors.Entry(shape: [cin * m, 1, kh, kw], values: w)
    }

    /// One Keras layer's variables as Lumen tensors, named for `layer`.
    static func convert(_ layer: Layer, _ vars: [SafeTensors.Entry], flattenInput: [Int]?,
                        _ fail: (String) -> ImportError) throws -> [String: SafeTensors.Entry] {
        let params = layer.parameters
        func expect(_ count: Int) throws {
            guard vars.count == count else {
                throw fail("layer \(layer.name) (\(layer.typeName)) has \(vars.count) weights in the file but \(count) in Lumen")
            }
        }
        func bias(_ index: Int) -> [String: SafeTensors.Entry] {
            guard index < vars.count, let p = params.first(where: { $0.name.hasSuffix(".bias") }) else { return [:] }
            return [p.name: vars[index]]
        }
        switch layer {
        case let conv as Conv2D:
            try expect(conv.useBias ? 2 : 1)
            return [conv.weight.name: try convolutionKernel(vars[0], layer, fail)].merging(bias(1)) { a, _ in a }
        case let conv as DepthwiseConv2D:
            try expect(conv.useBias ? 2 : 1)
            return [conv.weight.name: try depthwiseKernel(vars[0], layer, fail)].merging(bias(1)) { a, _ in a }
        case let conv as SeparableConv2D:
            try expect(conv.pointwise.useBias ? 3 : 2)
            return [conv.depthwise.weight.name: try depthwiseKernel(vars[0], layer, fail),
                    conv.pointwise.weight.name: try convolutionKernel(vars[1], layer, fail)].merging(bias(2)) { a, _ in a }
        case let dense as Dense:
            try expect(dense.useBias ? 2 : 1)
            let k = vars[0]
            guard k.shape.count == 2 else { throw fail("\(layer.name): kernel of shape \(k.shape) is not (in, out)") }
            let (fin, fout) = (k.shape[0], k.shape[1])
            var w = [Float](repeating: 0, count: k.values.count)
            for r in 0..<fin {
                // Keras flattens (h, w, c); Lumen flattens (c, h, w).
                var q = r
                if let s = flattenInput, s.reduce(1, *) == fin { q = channelsFirstPosition(r, of: s) }
                for o in 0..<fout { w[o * fin + q] = k.values[r * fout + o] }
            }
            return [dense.weight.name: SafeTensors.Entry(shape: [fout, fin], values: w)].merging(bias(1)) { a, _ in a }
        case let norm as BatchNormalization:
            try expect(norm.scale ? 4 : 3)
            // On a flattened vector still in Keras' order, each per-feature vector moves
            // to Lumen's order as the following Dense's rows do.
            func reordered(_ entry: SafeTensors.Entry) -> SafeTensors.Entry {
                guard let s = flattenInput, s.reduce(1, *) == entry.values.count else { return entry }
                var values = entry.values
                for r in 0..<values.count { values[channelsFirstPosition(r, of: s)] = entry.values[r] }
                return SafeTensors.Entry(shape: entry.shape, values: values)
            }
            var out: [String: SafeTensors.Entry] = [:]
            var index = 0
            if let gamma = norm.gamma { out[gamma.name] = reordered(vars[index]); index += 1 }
            out[norm.beta.name] = reordered(vars[index])
            out[norm.runningMean.name] = reordered(vars[index + 1])
            out[norm.runningVariance.name] = reordered(vars[index + 2])
            return out
        default:
            throw fail("layer \(layer.name) (\(layer.typeName)) has weights Lumen cannot import from Keras")
        }
    }
}
