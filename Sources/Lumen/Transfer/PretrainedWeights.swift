import Foundation

/// Weights from another framework, matched to the model by tensor name, strictly:
/// a torchvision state dict written as safetensors by Scripts/export-torchvision.py.
public enum PretrainedWeights {
    /// Loads every tensor of the model from `url`. PyTorch's `num_batches_tracked`
    /// counters are ignored. With `replaceHead`, the last layer with weights keeps its
    /// fresh initialisation and the file's classifier is left out. Every missing, unexpected
    /// or mis-shaped tensor is named in one error.
    public static func load(_ url: URL, into model: Model, replaceHead: Int?) throws {
        let file = try SafeTensors(contentsOf: url)
        try load(file.tensors.filter { !$0.key.hasSuffix("num_batches_tracked") }, source: "pretrained weights \(url.lastPathComponent)",
                 into: model, replaceHead: replaceHead)
    }

    /// Loads `tensors` (from the file `source` names: pretrained weights, or a Lumen
    /// checkpoint given to `--init` or `--model`) into every parameter of the model; with
    /// `replaceHead`, the classifier keeps its fresh initialisation, so a model trained on
    /// one set of classes starts another. A classifier of other shapes is named with that
    /// remedy.
    public static func load(_ tensors: [String: SafeTensors.Entry], source: String, into model: Model, replaceHead: Int?) throws {
        let classifier = model.classifier?.parameters.map(\.name) ?? []
        let head = replaceHead == nil ? [] : Set(classifier)
        do {
            try Checkpoint.load(tensors, into: model, source: source, keeping: head)
        } catch LumenError.weightsMismatch(let source, let problems) {
            let hint = problems.contains { problem in classifier.contains { problem.hasPrefix($0) } }
                ? ["the classifier differs: add --replace-head \(model.outputCount) to train a new one"] : []
            throw LumenError.weightsMismatch(source: source, problems: problems + hint)
        }
    }
}
