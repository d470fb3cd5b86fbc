/// Running sums of an epoch's loss, accuracy and (for two classes) the scores ROC AUC
/// needs, batch by batch, as `fit` logs them for training and validation. Codable: a
/// training epoch's sums are saved with a checkpoint taken mid-epoch.
struct EpochMetrics: Codable {
    var lossSum = 0.0, samples = 0, correct = 0, counted = 0
    var scores: [Float] = [], labels: [Int] = []

    /// Adds one batch: its mean loss and its logits.    logits: N × K row-major
    mutating func add(loss: Float, logits: [Float], labels batch: [Int], outputs k: Int, activation: ActivationKind,
                      binary: Bool) {
        let (right, total) = Metrics.accuracyCounts(logits: logits, outputs: k, labels: batch, activation: activation)
        lossSum += Double(loss) * Double(batch.count)
        samples += batch.count
        correct += right
        counted += total
        if binary {
            scores += Metrics.positiveScores(logits: logits, outputs: k, activation: activation)
            labels += batch
        }
    }

    var loss: Double { lossSum / Double(max(samples, 1)) }
    var accuracy: Double { Double(correct) / Double(max(counted, 1)) }

    /// `loss`, `accuracy` and, with scores of both classes, `auc`, each name after `prefix`.
    func logs(prefix: String = "") -> [String: Double] {
        var logs = [prefix + "loss": loss, prefix + "accuracy": accuracy]
        if let auc = Metrics.rocAUC(scores: scores, labels: labels) { logs[prefix + "auc"] = auc }
        return logs
    }
}
