/// Accuracy and ROC AUC, as `fit` logs them.
public enum Metrics {
    /// Correct predictions among `total` in a batch: for sigmoid outputs, Keras'
    /// binary accuracy (each output thresholded at 0.5 against its one-hot target,
    /// counted per output); otherwise argmax against the label, per sample.
    ///     logits: N × K row-major  ->  (correct, total)
    public static func accuracyCounts(logits: [Float], outputs k: Int, labels: [Int], activation: ActivationKind) -> (Int, Int) {
        var correct = 0
        if activation == .sigmoid {
            for (n, label) in labels.enumerated() {
                for j in 0..<k {
                    let target = k == 1 ? label == 1 : j == label
                    if (logits[n * k + j] > 0) == target { correct += 1 }  // σ(z) > 0.5 ⇔ z > 0
                }
            }
            return (correct, labels.count * k)
        }
        for (n, label) in labels.enumerated() where predictedClass(logits, row: n, outputs: k) == label { correct += 1 }
        return (correct, labels.count)
    }

    /// The argmax class of one row (for one sigmoid output: 1 when z > 0).
    public static func predictedClass(_ values: [Float], row: Int, outputs k: Int) -> Int {
        if k == 1 { return values[row] > 0 ? 1 : 0 }
        var best = 0
        for j in 1..<k where values[row * k + j] > values[row * k + best] { best = j }
        return best
    }

    /// Scores for class 1 in a binary task: the class-1 logit minus class 0's for two
    /// outputs, the logit itself for one (both rank samples as the probability does).
    public static func positiveScores(logits: [Float], outputs k: Int, activation: ActivationKind) -> [Float] {
        let n = logits.count / k
        if k == 1 { return logits }
        if activation == .sigmoid { return (0..<n).map { logits[$0 * 2 + 1] } }
        return (0..<n).map { logits[$0 * 2 + 1] - logits[$0 * 2] }
    }

    /// Exact ROC AUC (the Mann–Whitney statistic, ties counted half); nil when only one
    /// class is present.
    public static func rocAUC(scores: [Float], labels: [Int]) -> Double? {
        let positives = labels.filter { $0 == 1 }.count, negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let averageRank = Double(i + j) / 2 + 1
            for k in i...j where labels[order[k]] == 1 { rankSum += averageRank }
            i = j + 1
        }
        return (rankSum - Double(positives * (positives + 1)) / 2) / Double(positives * negatives)
    }
}
