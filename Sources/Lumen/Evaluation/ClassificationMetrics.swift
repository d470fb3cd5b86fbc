import Foundation

/// Rows are true classes, columns predicted classes, in class order (sklearn's convention).
public struct ConfusionMatrix: Codable, Equatable {
    public let classes: [String]
    public let counts: [[Int]]

    public init(classes: [String], truth: [Int], predicted: [Int]) {
        var counts = [[Int]](repeating: [Int](repeating: 0, count: classes.count), count: classes.count)
        for (t, p) in zip(truth, predicted) { counts[t][p] += 1 }
        self.classes = classes
        self.counts = counts
    }

    /// Each row divided by its total (a row with no samples stays 0).
    public var rowNormalized: [[Double]] {
        counts.map { row in
            let total = row.reduce(0, +)
            return row.map { total == 0 ? 0 : Double($0) / Double(total) }
        }
    }

    /// An aligned table with class names; `normalized` prints row fractions.
    public func table(normalized: Bool = false, digits: Int = 2) -> String {
        let cells: [[String]] = normalized
            ? rowNormalized.map { $0.map { String(format: "%.\(digits)f", $0) } }
            : counts.map { $0.map(String.init) }
        let nameWidth = max(classes.map(\.count).max() ?? 0, "true \\ predicted".count)
        let widths = classes.indices.map { j in max(classes[j].count, cells.map { $0[j].count }.max() ?? 0) }
        var lines = ["true \\ predicted".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  " +
                     zip(classes, widths).map { String(repeating: " ", count: $1 - $0.count) + $0 }.joined(separator: "  ")]
        for (i, name) in classes.enumerated() {
            lines.append(name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  " +
                         zip(cells[i], widths).map { String(repeating: " ", count: $1 - $0.count) + $0 }.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}

/// sklearn's `classification_report`: per-class precision, recall, f1-score and support,
/// then accuracy, macro avg and weighted avg, in sklearn's exact text layout. Undefined
/// ratios (0/0) are 0, as with `zero_division="warn"`.
public struct ClassificationReport: Codable, Equatable {
    public struct Row: Codable, Equatable {
        public let name: String
        public let precision: Double, recall: Double, f1: Double
        public let support: Int
    }

    public let rows: [Row]
    public let accuracy: Double
    public let macro: Row
    public let weighted: Row

    public init(_ matrix: ConfusionMatrix) {
        let k = matrix.classes.count
        var rows: [Row] = []
        for c in 0..<k {
            let tp = matrix.counts[c][c]
            let predicted = (0..<k).reduce(0) { $0 + matrix.counts[$1][c] }
            let support = matrix.counts[c].reduce(0, +)
            let precision = predicted == 0 ? 0 : Double(tp) / Double(predicted)
            let recall = support == 0 ? 0 : Double(tp) / Double(support)
            let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
            rows.append(Row(name: matrix.classes[c], precision: precision, recall: recall, f1: f1, support: support))
        }
        let total = rows.reduce(0) { $0 + $1.support }
        let correct = (0..<k).reduce(0) { $0 + matrix.counts[$1][$1] }
        func mean(_ value: (Row) -> Double) -> Double { rows.map(value).reduce(0, +) / Double(max(k, 1)) }
        func weightedMean(_ value: (Row) -> Double) -> Double {
            total == 0 ? 0 : rows.reduce(0) { $0 + value($1) * Double($1.support) } / Double(total)
        }
        self.rows = rows
        accuracy = total == 0 ? 0 : Double(correct) / Double(total)
        macro = Row(name: "macro avg", precision: mean(\.precision), recall: mean(\.recall), f1: mean(\.f1), support: total)
        weighted = Row(name: "weighted avg", precision: weightedMean(\.precision), recall: weightedMean(\.recall),
                       f1: weightedMean(\.f1), support: total)
    }

    /// The report as sklearn prints it, with `digits` decimals.
    public func text(digits: Int = 2) -> String {
        let width = max(rows.map(\.name.count).max() ?? 0, "weighted avg".count, digits)
        func right(_ text: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - text.count)) + text }
        func number(_ value: Double) -> String { right(String(format: "%.\(digits)f", value), 9) }
        func line(_ row: Row) -> String {
            right(row.name, width) + " " + " " + number(row.precision) + " " + number(row.recall) + " " + number(row.f1)
                + " " + right(String(row.support), 9) + "\n"
        }
        var text = right("", width) + " " + ["precision", "recall", "f1-score", "support"].map { " " + right($0, 9) }.joined() + "\n\n"
        for row in rows { text += line(row) }
        text += "\n"
        text += right("accuracy", width) + " " + " " + right("", 9) + " " + right("", 9) + " " + number(accuracy)
            + " " + right(String(macro.support), 9) + "\n"
        text += line(macro)
        text += line(weighted)
        return text
    }
}

/// A binary task's ROC curve and the numbers medical users report.
public struct BinaryMetrics: Codable, Equatable {
    /// Recall of the positive class (index 1).
    public let sensitivity: Double
    /// Recall of the negative class (index 0).
    public let specificity: Double
    public let rocAUC: Double?
    /// False and true positive rates at each distinct score, from (0, 0) to (1, 1).
    public let falsePositiveRates: [Double]
    public let truePositiveRates: [Double]
    public let thresholds: [Double]

    enum CodingKeys: String, CodingKey {
        case sensitivity, specificity, rocAUC = "roc_auc", falsePositiveRates = "fpr", truePositiveRates = "tpr", thresholds
    }

    public init(matrix: ConfusionMatrix, scores: [Double], labels: [Int]) {
        let c = matrix.counts
        sensitivity = c[1][0] + c[1][1] == 0 ? 0 : Double(c[1][1]) / Double(c[1][0] + c[1][1])
        specificity = c[0][0] + c[0][1] == 0 ? 0 : Double(c[0][0]) / Double(c[0][0] + c[0][1])
        rocAUC = Metrics.rocAUC(scores: scores.map(Float.init), labels: labels)
        let positives = Double(labels.filter { $0 == 1 }.count), negatives = Double(labels.count) - positives
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var fpr = [0.0], tpr = [0.0], thresholds = [Double.infinity]
        var tp = 0.0, fp = 0.0
        var i = 0
        while i < order.count {
            let score = scores[order[i]]
            while i < order.count && scores[order[i]] == score {
                if labels[order[i]] == 1 { tp += 1 } else { fp += 1 }
                i += 1
            }
            fpr.append(negatives == 0 ? 0 : fp / negatives)
            tpr.append(positives == 0 ? 0 : tp / positives)
            thresholds.append(score)
        }
        falsePositiveRates = fpr
        truePositiveRates = tpr
        self.thresholds = thresholds
    }
}
