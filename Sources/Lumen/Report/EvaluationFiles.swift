import Foundation

/// The files an evaluation writes: predictions, metrics, charts and the HTML report, for
/// `lumen evaluate`, and after training (`afterTraining`), for `lumen train`.
public enum EvaluationFiles {
    /// predictions.csv, metrics.json, the charts and report.html in `folder`.
    public static func write(_ evaluation: Evaluation, checkpoint: Checkpoint, checkpointURL: URL, model: Model,
                             to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Data(evaluation.predictionsCSV().utf8), to: folder.appendingPathComponent("predictions.csv"))
        try AtomicFile.write(try encoder.encode(evaluation), to: folder.appendingPathComponent("metrics.json"))
        try writeImages(evaluation, to: folder)
        try writeReport(checkpoint: checkpoint, checkpointURL: checkpointURL, model: model, evaluation: evaluation,
                        to: folder.appendingPathComponent("report.html"))
    }

    /// What a finished training run adds to its folder: training_curves.png, and
    /// report.html with the final model evaluated on `validation` (when there is one).
    public static func afterTraining(_ trainer: Trainer, validation: ImageFolder?, batchSize: Int) throws {
        try AtomicFile.write(try Charts.trainingCurves(trainer.history),
                             to: trainer.runDirectory.appendingPathComponent("training_curves.png"))
        let evaluation = try validation.map {
            try Evaluation.run(model: trainer.model, classes: trainer.classes, preprocessing: trainer.preprocessing,
                               folder: $0, batchSize: batchSize)
        }
        try writeReport(checkpoint: try Checkpoint(contentsOf: trainer.finalURL), checkpointURL: trainer.finalURL,
                        model: trainer.model, evaluation: evaluation, history: trainer.history,
                        to: trainer.runDirectory.appendingPathComponent("report.html"))
    }

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
    public static func writeReport(checkpoint: Checkpoint, checkpointURL: URL, model: Model, evaluation: Evaluation?,
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
        if let augmentation = evaluation?.augmentation { report.configuration["evaluated on"] = augmentation.summary }
        if evaluation != nil, GradCAM.defaultLayer(of: model) != nil {
            try report.addMistakes(model: model, preprocessing: checkpoint.preprocessing)
        }
        try report.write(to: url)
    }
}
