import Foundation

/// Weights from another framework, matched to the model by tensor name, strictly:
/// a torchvision state dict written as safetensors by Scripts/export-torchvision.py.
public enum PretrainedWeights {
    /// Loads every tensor of the model from `url`. PyTorch's `num_batches_tracked`
    /// counters are ignored. With `replaceHead`, the last layer keeps its fresh
    /// initialisation and the file's classifier is left out. Every missing, unexpected
    /// or mis-shaped tensor is named in one error.
    public static func load(_ url: URL, into model: Sequential, replaceHead: Int?) throws {
        let file = try SafeTensors(contentsOf: url)
        let tensors = file.tensors.filter { !$0.key.hasSuffix("num_batches_tracked") }
        if replaceHead != nil, let head = model.layers.last {
            let headNames = Set(head.parameters.map(\.name))
            try checkAndLoad(tensors.filter { !headNames.contains($0.key) },
                             expected: model.parameters.filter { !headNames.contains($0.name) }, source: url.lastPathComponent)
            return
        }
        do {
            try Checkpoint.load(tensors, into: model, source: "pretrained weights \(url.lastPathComponent)")
        } catch LumenError.weightsMismatch(let source, let problems) {
            let head = model.layers.last?.parameters.map(\.name) ?? []
            let hint = problems.contains { problem in head.contains { problem.hasPrefix($0) } }
                ? ["the classifier differs: add --replace-head \(model.outputCount) to train a new one"] : []
            throw LumenError.weightsMismatch(source: source, problems: problems + hint)
        }
    }

    /// Strict loading of `tensors` into the `expected` parameters only.
    private static func checkAndLoad(_ tensors: [String: SafeTensors.Entry], expected: [Parameter], source: String) throws {
        var problems: [String] = []
        let names = Set(expected.map(\.name))
        for p in expected {
            guard let t = tensors[p.name] else { problems.append("missing \(p.name) \(p.value.shape)"); continue }
            if t.shape != p.value.shape {
                problems.append("\(p.name) has shape \(t.shape) in the file but \(p.value.shape) in the model")
            }
        }
        for name in tensors.keys.sorted() where !names.contains(name) {
            problems.append("unexpected \(name) \(tensors[name]!.shape)")
        }
        guard problems.isEmpty else { throw LumenError.weightsMismatch(source: "pretrained weights \(source)", problems: problems) }
        for p in expected { try p.value.write(tensors[p.name]!.values) }
    }
}
