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
}
