import Foundation
import Testing
@testable import Lumen

private struct SklearnCase: Decodable, CustomTestStringConvertible, Sendable {
    let name: String
    let classes: [String]
    let truth: [Int]
    let predicted: [Int]
    let confusion: [[Int]]
    let report2: String
    let report4: String
    let scores: [Double]?
    let roc_auc: Double?
    var testDescription: String { name }
}

private let sklearnCases = try! JSONDecoder().decode([SklearnCase].self, from: Data(contentsOf: URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().appendingPathComponent("Fixtures/sklearn/reports.json")))

/// Lumen's confusion matrix, classification report and ROC AUC against sklearn.metrics
/// (Scripts/make-sklearn-fixtures.py), digit for digit.
@Suite struct EvaluationTests {
    @Test(arguments: sklearnCases)
    fileprivate func matchesSklearn(_ c: SklearnCase) {
        let matrix = ConfusionMatrix(classes: c.classes, truth: c.truth, predicted: c.predicted)
        #expect(matrix.counts == c.confusion)
        let report = ClassificationReport(matrix)
        #expect(report.text(digits: 2) == c.report2, "\(c.name)\n\(report.text(digits: 2))")
        #expect(report.text(digits: 4) == c.report4, "\(c.name)\n\(report.text(digits: 4))")
        if let scores = c.scores, let expected = c.roc_auc {
            let binary = BinaryMetrics(matrix: matrix, scores: scores, labels: c.truth)
            #expect(abs((binary.rocAUC ?? -1) - expected) < 1e-12, "\(c.name): \(binary.rocAUC ?? -1) vs \(expected)")
            #expect(binary.falsePositiveRates.first == 0 && binary.truePositiveRates.last == 1)
        }
    }

    @Test func normalisedRowsSumToOne() {
        let matrix = ConfusionMatrix(classes: ["a", "b", "c"], truth: [0, 0, 1, 2, 2, 2], predicted: [0, 1, 1, 2, 0, 2])
        for row in matrix.rowNormalized { #expect(abs(row.reduce(0, +) - 1) < 1e-12) }
        let table = matrix.table()
        #expect(table.split(separator: "\n").count == 4)
        #expect(table.contains("true \\ predicted"))
    }

    @Test func sensitivityAndSpecificity() {
        // 3 of 4 positives found, 1 of 2 negatives called positive.
        let matrix = ConfusionMatrix(classes: ["NORMAL", "PNEUMONIA"], truth: [1, 1, 1, 1, 0, 0], predicted: [1, 1, 1, 0, 1, 0])
        let binary = BinaryMetrics(matrix: matrix, scores: [0.9, 0.8, 0.7, 0.2, 0.6, 0.1], labels: [1, 1, 1, 1, 0, 0])
        #expect(binary.sensitivity == 0.75)
        #expect(binary.specificity == 0.5)
    }
}
