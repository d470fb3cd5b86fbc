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
        let tensors = file.tensors.filter { !$0.key.hasSuffix("num_batches_tracked") }
        // With --replace-head the classifier keeps its fresh initialisation.
        let classifier = model.classifier?.parameters.map(\.name) ?? []
        let head = replaceHead == nil ? [] : Set(classifier)
        do {
            try Checkpoint.load(tensors, into: model, source: "pretrained weights \(url.lastPathComponent)", keeping: head)
        } catch LumenError.weightsMismatch(let source, let problems) {
            let hint = problems.contains { problem in classifier.contains { problem.hasPrefix($0) } }
                ? ["the classifier differs: add --replace-head \(model.outputCount) to train a new one"] : []
            throw LumenError.weightsMismatch(source: source, problems: problems + hint)
        }
    }
}
