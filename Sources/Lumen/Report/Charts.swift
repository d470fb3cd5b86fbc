import Foundation

/// The figures the tutorials end with, as PNG bytes: confusion-matrix heatmaps,
/// training curves and the ROC curve.
public enum Charts {
    // MARK: - Confusion matrix

    /// A heatmap in sklearn's ConfusionMatrixDisplay style: Blues, the value in each
    /// cell, class names on both axes, a colour bar.
    public static func confusionMatrix(_ matrix: ConfusionMatrix, normalized: Bool, title: String? = nil) throws -> Data {
        let k = matrix.classes.count
        let values: [[Double]] = normalized ? matrix.rowNormalized : matrix.counts.map { $0.map(Double.init) }
        let top = values.flatMap { $0 }.max() ?? 1
        let cell = max(36.0, min(90.0, 520.0 / Double(max(k, 1))))
        let probe = try Canvas(width: 10, height: 10)
        let labelWidth = matrix.classes.map { probe.textWidth($0, size: 12) }.max() ?? 40
        let left = labelWidth + 50, topMargin = 50.0, bottom = labelWidth + 55
        let gridSize = cell * Double(k)
        let canvas = try Canvas(width: Int(left + gridSize + 110), height: Int(topMargin + gridSize + bottom))
        canvas.text(title ?? (normalized ? "Confusion matrix (normalised by true class)" : "Confusion matrix"),
                    left + gridSize / 2, 30, size: 15, align: .center, bold: true)
        for i in 0..<k {
            for j in 0..<k {
                let t = top > 0 ? values[i][j] / top : 0
                let color = ColorMap.blues(t)
                let x = left + Double(j) * cell, y = topMargin + Double(i) * cell
                canvas.fill(x, y, cell, cell, color)
                let label = normalized ? String(format: "%.2f", values[i][j]) : String(Int(values[i][j]))
                canvas.text(label, x + cell / 2, y + cell / 2 + 5, size: min(14, cell / 3), align: .center,
                            color: color.luminance < 0.5 ? .white : .black)
            }
        }
        canvas.stroke(left, topMargin, gridSize, gridSize, .grey)
        for (index, name) in matrix.classes.enumerated() {
            let center = Double(index) * cell + cell / 2
            canvas.text(name, left - 8, topMargin + center + 4, size: 12, align: .right)
            canvas.text(name, left + center + 4, topMargin + gridSize + 10, size: 12, align: .right, vertical: true)
        }
        canvas.text("True label", 18, topMargin + gridSize / 2, size: 13, align: .center, vertical: true)
        canvas.text("Predicted label", left + gridSize / 2, topMargin + gridSize + bottom - 12, size: 13, align: .center)
        // Colour bar.
        let barX = left + gridSize + 25, steps = 100
        for s in 0..<steps {
            let t = 1 - Double(s) / Double(steps)
            canvas.fill(barX, topMargin + gridSize * Double(s) / Double(steps), 18, gridSize / Double(steps) + 1, ColorMap.blues(t))
        }
        canvas.stroke(barX, topMargin, 18, gridSize, .grey)
        let ticks = TickLocator.ticks(from: 0, to: max(top, normalized ? 1e-9 : 1), integer: !normalized)
        for (value, label) in zip(ticks, TickLocator.labels(ticks)) {
            let y = topMargin + gridSize * (1 - (top > 0 ? value / top : 0))
            canvas.line([(barX + 18, y), (barX + 23, y)], .black, width: 1)
            canvas.text(label, barX + 26, y + 4, size: 11)
        }
        return try canvas.pngData()
    }

    // MARK: - Line plots

    /// One line of a plot.
    public struct Series {
        public let name: String
        public let points: [(Double, Double)]
        public let color: Canvas.Color
        public var dash: Double = 0

        public init(name: String, points: [(Double, Double)], color: Canvas.Color, dash: Double = 0) {
            self.name = name
            self.points = points
            self.color = color
            self.dash = dash
        }
    }

    /// Draws axes, ticks, grid, series and a legend into a panel of `canvas`.
    static func plot(_ canvas: Canvas, x: Double, y: Double, width: Double, height: Double, title: String,
                     xLabel: String, yLabel: String, series: [Series], xRange: ClosedRange<Double>? = nil,
                     yRange: ClosedRange<Double>? = nil, integerX: Bool = false) {
        let plotLeft = x + 60, plotTop = y + 35, plotWidth = width - 80, plotHeight = height - 85
        let all = series.flatMap(\.points)
        var xs = xRange ?? ((all.map(\.0).min() ?? 0)...(all.map(\.0).max() ?? 1))
        var ys = yRange ?? ((all.map(\.1).min() ?? 0)...(all.map(\.1).max() ?? 1))
        if xs.lowerBound == xs.upperBound { xs = (xs.lowerBound - 1)...(xs.upperBound + 1) }
        if ys.lowerBound == ys.upperBound { ys = (ys.lowerBound - 0.5)...(ys.upperBound + 0.5) }
        if yRange == nil {
            let pad = (ys.upperBound - ys.lowerBound) * 0.06
            ys = (ys.lowerBound - pad)...(ys.upperBound + pad)
        }
        func px(_ v: Double) -> Double { plotLeft + (v - xs.lowerBound) / (xs.upperBound - xs.lowerBound) * plotWidth }
        func py(_ v: Double) -> Double { plotTop + plotHeight - (v - ys.lowerBound) / (ys.upperBound - ys.lowerBound) * plotHeight }
        canvas.text(title, plotLeft + plotWidth / 2, y + 22, size: 14, align: .center, bold: true)
        let yTicks = TickLocator.ticks(from: ys.lowerBound, to: ys.upperBound, maxIntervals: 7)
        for (v, label) in zip(yTicks, TickLocator.labels(yTicks)) {
            canvas.line([(plotLeft, py(v)), (plotLeft + plotWidth, py(v))], .lightGrey, width: 1)
            canvas.text(label, plotLeft - 6, py(v) + 4, size: 10, align: .right)
        }
        let xTicks = TickLocator.ticks(from: xs.lowerBound, to: xs.upperBound, maxIntervals: integerX ? 8 : 5, integer: integerX)
        for (v, label) in zip(xTicks, TickLocator.labels(xTicks)) {
            canvas.line([(px(v), plotTop + plotHeight), (px(v), plotTop + plotHeight + 4)], .black, width: 1)
            canvas.text(label, px(v), plotTop + plotHeight + 17, size: 10, align: .center)
        }
        canvas.stroke(plotLeft, plotTop, plotWidth, plotHeight, .black, width: 1)
        canvas.text(xLabel, plotLeft + plotWidth / 2, plotTop + plotHeight + 36, size: 12, align: .center)
        canvas.text(yLabel, x + 16, plotTop + plotHeight / 2, size: 12, align: .center, vertical: true)
        for s in series where !s.points.isEmpty {
            canvas.line(s.points.map { (px($0.0), py($0.1)) }, s.color, width: 2, dash: s.dash)
            if s.points.count == 1 { canvas.fill(px(s.points[0].0) - 3, py(s.points[0].1) - 3, 6, 6, s.color) }
        }
        var legendY = plotTop + 16
        let legendWidth = (series.map { canvas.textWidth($0.name, size: 11) }.max() ?? 0) + 40
        canvas.fill(plotLeft + plotWidth - legendWidth - 8, plotTop + 4, legendWidth, Double(series.count) * 16 + 8, .white, alpha: 0.85)
        for s in series {
            let lx = plotLeft + plotWidth - legendWidth
            canvas.line([(lx, legendY - 4), (lx + 22, legendY - 4)], s.color, width: 2, dash: s.dash)
            canvas.text(s.name, lx + 28, legendY, size: 11)
            legendY += 16
        }
    }

    /// Loss and accuracy, training against validation, by epoch: the tutorials' two plots.
    public static func trainingCurves(_ history: History) throws -> Data {
        let canvas = try Canvas(width: 1000, height: 400)
        func series(_ key: String, _ name: String, _ color: Canvas.Color) -> Series {
            Series(name: name, points: history.epochs.enumerated().compactMap { i, logs in logs[key].map { (Double(i + 1), $0) } },
                   color: color)
        }
        // One epoch is one point, centred with its tick alone (as matplotlib shows a single point).
        let epochs = Double(max(history.epochs.count, 1))
        let xRange = epochs == 1 ? 0.5...1.5 : 1...epochs
        plot(canvas, x: 0, y: 0, width: 500, height: 400, title: "Loss", xLabel: "Epoch", yLabel: "Loss",
             series: [series("loss", "Training loss", .blue), series("val_loss", "Validation loss", .orange)],
             xRange: xRange, integerX: true)
        plot(canvas, x: 500, y: 0, width: 500, height: 400, title: "Accuracy", xLabel: "Epoch", yLabel: "Accuracy",
             series: [series("accuracy", "Training accuracy", .blue), series("val_accuracy", "Validation accuracy", .orange)],
             xRange: xRange, integerX: true)
        return try canvas.pngData()
    }

    /// The ROC curve with its AUC, against the chance diagonal.
    public static func rocCurve(_ binary: BinaryMetrics, positive: String) throws -> Data {
        let canvas = try Canvas(width: 520, height: 480)
        let points = zip(binary.falsePositiveRates, binary.truePositiveRates).map { ($0, $1) }
        let auc = binary.rocAUC.map { String(format: "%.4f", $0) } ?? "n/a"
        plot(canvas, x: 0, y: 0, width: 520, height: 480, title: "ROC curve (positive: \(positive))",
             xLabel: "False positive rate (1 - specificity)", yLabel: "True positive rate (sensitivity)",
             series: [Series(name: "ROC, AUC = \(auc)", points: points, color: .blue),
                      Series(name: "Chance", points: [(0, 0), (1, 1)], color: .grey, dash: 5)],
             xRange: 0...1, yRange: 0...1)
        return try canvas.pngData()
    }
}
