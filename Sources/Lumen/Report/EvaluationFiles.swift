import Foundation

/// The chart files an evaluation folder holds.
public enum EvaluationFiles {
    /// confusion_matrix.png, confusion_matrix_normalized.png and, for two classes, roc_curve.png.
    public static func writeImages(_ evaluation: Evaluation, to folder: URL) throws {
        try AtomicFile.write(try Charts.confusionMatrix(evaluation.confusion, normalized: false),
                             to: folder.appendingPathComponent("confusion_matrix.png"))
        try AtomicFile.write(try Charts.confusionMatrix(evaluation.confusion, normalized: true),
                             to: folder.appendingPathComponent("confusion_matrix_normalized.png"))
        if let binary = evaluation.binary {
            try AtomicFile.write(try Charts.rocCurve(binary, positive: evaluation.classes[1]),
                                 to: folder.appendingPathComponent("roc_curve.png"))
        }
    }

    /// report.html for a checkpoint: its run's configuration and history (when
    /// history.json sits beside it), the evaluation, and Grad-CAM of the worst mistakes.
    public static func writeReport(checkpoint: Checkpoint, checkpointURL: URL, model: Sequential, evaluation: Evaluation?,
                                   history: History? = nil, to url: URL) throws {
        var report = HTMLReport(title: "Lumen report: \(checkpoint.spec.name), \(checkpointURL.lastPathComponent)")
        if let text = checkpoint.extra["config"],
           let config = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)) {
            report.configuration = config
        }
        report.configuration["classes"] = checkpoint.classes.joined(separator: ", ")
        report.configuration["checkpoint"] = checkpointURL.path
        let historyURL = checkpointURL.deletingLastPathComponent().appendingPathComponent("history.json")
        report.history = history ?? (try? JSONDecoder().decode(History.self, from: Data(contentsOf: historyURL)))
        report.evaluation = evaluation
        if evaluation != nil, GradCAM.defaultLayer(of: model) != nil {
            try report.addMistakes(model: model, preprocessing: checkpoint.preprocessing)
        }
        try report.write(to: url)
    }
}
