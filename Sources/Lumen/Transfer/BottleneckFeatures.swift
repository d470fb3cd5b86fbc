import Foundation

/// Runs a frozen base over an image folder once and writes its outputs as features,
/// in chunks that survive an interruption: a restarted extraction keeps the chunks
/// already written for the same base, layer and data.
public enum FeatureExtractor {
    /// The layer features are taken at: `layer`, or the last top-level layer with an
    /// image-shaped ([C, H, W]) output larger than 1 × 1 (a base's last block, not
    /// MobileNet's 1 × 1 classifier), else the last image-shaped one.
    public static func featureLayer(of model: Model, named layer: String?) throws -> Int {
        if let layer {
            let index = try model.layerIndex(named: layer)
            guard model.outputShapes[index].count == 3 else {
                throw LumenError.invalidModelSpec("features are taken at a [C, H, W] output; '\(layer)' gives \(model.outputShapes[index])")
            }
            return index
        }
        guard let index = model.lastImageLayer() else {
            throw LumenError.invalidModelSpec("\(model.spec.name) has no layer with a [C, H, W] output to take features from")
        }
        return index
    }

    /// The base's spec up to and including layer `index`, without the layers that
    /// output does not depend on (branches of a graph that join later).
    public static func truncatedSpec(_ model: Model, through index: Int) -> ModelSpec {
        var needed = [Bool](repeating: false, count: index + 1)
        needed[index] = true
        for position in stride(from: index, through: 0, by: -1) where needed[position] {
            for source in model.inputs[position] where source >= 0 { needed[source] = true }
        }
        var layers: [LayerSpec] = []
        for position in 0...index where needed[position] {
            var layer = model.spec.layers[position]
            // Name every input explicitly: the layer before may have been left out.
            layer.inputs = model.inputs[position].map { $0 < 0 ? model.spec.resolvedInputName : model.layers[$0].name }
            layers.append(layer)
        }
        if model.isSequential { for position in layers.indices { layers[position].inputs = nil } }
        return ModelSpec(name: "\(model.spec.name):\(model.layers[index].name)", inputShape: model.spec.inputShape,
                         layers: layers, inputName: model.spec.inputName)
    }

    /// Extracts features for every image of `folder` and writes them to `out`.
    /// `progress` is called after every batch (and once for each chunk an interrupted
    /// run kept).
    @discardableResult
    public static func run(base model: Model, layer: String?, folder: ImageFolder, preprocessing: Preprocessing,
                           batchSize: Int, chunkBatches: Int = 16, out: URL,
                           badFile: (@Sendable (ImageError) -> Void)? = nil,
                           progress: (BatchProgress) throws -> Void = { _ in }) throws -> FeatureFile {
        let index = try featureLayer(of: model, named: layer)
        let spec = truncatedSpec(model, through: index)
        let input = model.spec.inputShape
        var options = LoaderOptions(height: input[0], width: input[1], channels: input[2])
        options.shuffle = false
        options.batchSize = batchSize
        options.preprocessing = preprocessing
        let loader = try BatchLoader(folder: folder, options: options)
        loader.badFile = badFile
        let total = loader.batchesPerEpoch
        let chunks = (total + chunkBatches - 1) / chunkBatches
        let clock = PassClock(device: model.device)
        var batchesRun = 0

        // Chunks of an earlier, interrupted run count only if it extracted the same thing.
        let partial = URL(fileURLWithPath: out.path + ".partial", isDirectory: true)
        let fingerprint = try Checkpoint.json([try Checkpoint.json(spec), folder.root.path, String(folder.samples.count),
                                               String(batchSize), String(chunkBatches), try Checkpoint.json(preprocessing)])
        let stamp = partial.appendingPathComponent("fingerprint.json")
        if (try? String(contentsOf: stamp, encoding: .utf8)) != fingerprint {
            try? FileManager.default.removeItem(at: partial)
            try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
            try AtomicFile.write(Data(fingerprint.utf8), to: stamp)
        }
        let classes = folder.classes
        func chunkURL(_ chunk: Int) -> URL { partial.appendingPathComponent(String(format: "chunk-%05d.safetensors", chunk)) }
        var onlyChunk: FeatureFile?   // with one chunk, kept or written: the result
        for chunk in 0..<chunks {
            let url = chunkURL(chunk)
            let first = chunk * chunkBatches, count = min(chunkBatches, total - first)
            if let kept = try? FeatureFile(contentsOf: url) {
                if chunks == 1 { onlyChunk = kept }
                try progress(clock.progress(done: first + count, total: total, batchesRun: batchesRun))
                continue
            }
            let stream = loader.epoch(0, skipping: first)
            var values: [Float] = [], labels: [Int] = [], files: [String] = []
            var sampleShape: [Int] = model.outputShapes[index]
            // Room for the whole chunk at once: no copies of a growing array.
            values.reserveCapacity(count * batchSize * sampleShape.reduce(1, *))
            // The chunk's batches, and no further: a batch of only unreadable files is
            // passed over, and the one after it may belong to the next chunk.
            while stream.passed < count, let batch = try stream.next(), stream.passed <= count {
                let x = try Tensor(on: model.device, shape: batch.shape, values: batch.inputs)
                let y = try model.outputs(x, at: [index])[0]
                sampleShape = Array(y.shape.dropFirst())
                values += try y.toArray()
                labels += batch.labels
                files += batch.files.map(\.path)
                batchesRun += 1
                try progress(clock.progress(done: first + stream.passed, total: total, batchesRun: batchesRun))
            }
            stream.cancel()
            let written = FeatureFile(features: SafeTensors.Entry(shape: [labels.count] + sampleShape, values: values), labels: labels,
                                      classes: classes, files: files, base: spec, preprocessing: preprocessing)
            try written.write(to: url)
            if chunks == 1 { onlyChunk = written }
        }
        guard loader.badFiles.count < folder.samples.count else {
            try? FileManager.default.removeItem(at: partial)
            throw DataError(path: folder.root.path, reason: "no image could be read (\(folder.samples.count) unusable files, each named above)")
        }
        // A single chunk is the whole file already: moved into place (one rename, as
        // atomic as a write), not read back and written again.
        if let result = onlyChunk {
            try AtomicFile.replace(out, with: chunkURL(0))
            try? FileManager.default.removeItem(at: partial)
            return result
        }
        // Merge the chunks into one file, then drop them.
        var values: [Float] = [], labels: [Int] = [], files: [String] = []
        var sampleShape = model.outputShapes[index]
        for chunk in 0..<chunks {
            let part = try FeatureFile(contentsOf: chunkURL(chunk))
            values += part.features.values
            labels += part.labels
            files += part.files
            sampleShape = part.sampleShape
        }
        let result = FeatureFile(features: SafeTensors.Entry(shape: [labels.count] + sampleShape, values: values), labels: labels,
                                 classes: classes, files: files, base: spec, preprocessing: preprocessing)
        try result.write(to: out)
        try? FileManager.default.removeItem(at: partial)
        return result
    }
}

/// A base and a head trained on its features, as one model.
public enum TransferComposition {
    /// The base's layers up to where its features were taken (the head's input shape
    /// tells which), then the head's; tensors from both checkpoints.
    public static func combine(base: Checkpoint, head: Checkpoint, device: Device) throws -> Checkpoint {
        let baseModel = try Model(spec: base.spec, device: device)
        let headInput = head.spec.channelsFirstInput
        guard let index = baseModel.outputShapes.indices.last(where: { baseModel.outputShapes[$0] == headInput }) else {
            throw LumenError.invalidModelSpec("the head takes \(headInput) inputs, which no layer of the base \(base.spec.name) gives")
        }
        let baseLayers = FeatureExtractor.truncatedSpec(baseModel, through: index)
        // The head's layers that take its input take the base's last layer instead.
        let joint = baseModel.layers[index].name
        let headLayers = head.spec.layers.map { layer -> LayerSpec in
            var layer = layer
            layer.inputs = layer.inputs?.map { $0 == head.spec.resolvedInputName ? joint : $0 }
            return layer
        }
        let layers = baseLayers.layers + headLayers
        let names = layers.compactMap(\.name)
        guard Set(names).count == names.count else {
            throw LumenError.invalidModelSpec("the base and the head share layer names; give the head's layers other names")
        }
        let spec = ModelSpec(name: "\(base.spec.name)+\(head.spec.name)", inputShape: base.spec.inputShape, layers: layers,
                             inputName: base.spec.inputName)
        let combined = try Model(spec: spec, device: device)
        let wanted = Set(combined.parameters.map(\.name))
        let tensors = base.tensors.filter { wanted.contains($0.key) }.merging(head.tensors) { _, head in head }
        try Checkpoint.load(tensors, into: combined, source: "base and head")
        return try Checkpoint(model: combined, classes: head.classes, preprocessing: base.preprocessing)
    }
}

extension ModelSpec {
    /// The spec with every unnamed layer named as Keras would, with `prefix` in front
    /// (`head_dense`), so a head's names cannot collide with its base's.
    public func prefixingLayerNames(_ prefix: String) throws -> ModelSpec {
        var factory = LayerFactory(seed: 0)
        var copy = self
        copy.layers = try layers.map { spec in
            let wasNamed = spec.name != nil
            var (named, _) = try factory.make(spec)
            if !wasNamed { named.name = prefix + named.name! }
            return named
        }
        return copy
    }
}
