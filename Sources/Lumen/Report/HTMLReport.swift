import Foundation

/// One self-contained HTML file: the run's configuration, training curves, confusion
/// matrices, the classification report, the ROC curve and a gallery of the most
/// confident mistakes with their Grad-CAM maps. Images are inlined as base64 PNG, so the
/// file opens anywhere with no network.
public struct HTMLReport {
    public var title: String
    public var configuration: [String: String] = [:]
    public var history: History?
    public var evaluation: Evaluation?
    /// Grad-CAM overlays of mistakes: (file, truth, predicted, confidence, PNG).
    public var gallery: [(file: String, truth: String, predicted: String, confidence: Double, png: Data)] = []

    public init(title: String) { self.title = title }

    /// Fills the gallery with the `count` most confident mistakes of `evaluation`.
    public mutating func addMistakes(model: Model, preprocessing: Preprocessing, count: Int = 8) throws {
        guard let evaluation else { return }
        let mistakes = evaluation.items.filter { $0.truth != $0.predicted }
            .sorted { ($0.probabilities.max() ?? 0) > ($1.probabilities.max() ?? 0) }.prefix(count)
        let input = model.spec.inputShape
        for item in mistakes {
            let url = URL(fileURLWithPath: item.file)
            guard let original = try? ImageDecoder.decode(url, channels: input[2]) else { continue }
            let resized = FloatImage(original.resized(width: input[1], height: input[0]))
            let x = try Tensor(on: model.device, shape: [1, input[2], input[0], input[1]], values: preprocessing.channelsFirst(resized))
            let predicted = evaluation.classes.firstIndex(of: item.predicted)
            let cam = try GradCAM(model: model, input: x, classIndex: model.outputCount == 1 ? nil : predicted)
            let shown = original.width > 320 ? original.resized(width: 320, height: max(1, original.height * 320 / original.width), .bilinear) : original
            gallery.append((item.file, item.truth, item.predicted, item.probabilities.max() ?? 0, try cam.overlay(on: shown).pngData()))
        }
    }

    public func html() throws -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func image(_ png: Data, _ alt: String) -> String {
            "<img alt=\"\(escape(alt))\" src=\"data:image/png;base64,\(png.base64EncodedString())\">"
        }
        var body = "<h1>\(escape(title))</h1>\n"
        if !configuration.isEmpty {
            body += "<h2>Configuration</h2>\n<table class=\"config\">\n"
            for key in configuration.keys.sorted() {
                body += "<tr><th>\(escape(key))</th><td>\(escape(configuration[key]!))</td></tr>\n"
            }
            body += "</table>\n"
        }
        if let history, !history.epochs.isEmpty {
            body += "<h2>Training curves</h2>\n" + image(try Charts.trainingCurves(history), "loss and accuracy by epoch") + "\n"
            if let last = history.epochs.last {
                let shown = ["loss", "accuracy", "val_loss", "val_accuracy", "val_auc"].compactMap { key in
                    last[key].map { "\(key) \(String(format: "%.4f", $0))" }
                }
                body += "<p>Last epoch (\(history.epochs.count)): \(escape(shown.joined(separator: ", ")))</p>\n"
            }
        }
        if let evaluation {
            body += "<h2>Evaluation</h2>\n<p>\(evaluation.items.count) images: loss \(String(format: "%.4f", evaluation.loss)), accuracy \(String(format: "%.4f", evaluation.accuracy))"
            if let binary = evaluation.binary {
                body += String(format: ", sensitivity %.4f, specificity %.4f", binary.sensitivity, binary.specificity)
                if let auc = binary.rocAUC { body += String(format: ", ROC AUC %.4f", auc) }
            }
            body += "</p>\n<div class=\"row\">" + image(try Charts.confusionMatrix(evaluation.confusion, normalized: false), "confusion matrix")
                + image(try Charts.confusionMatrix(evaluation.confusion, normalized: true), "normalised confusion matrix") + "</div>\n"
            body += "<h3>Classification report</h3>\n<pre>\(escape(evaluation.report.text(digits: 4)))</pre>\n"
            if let binary = evaluation.binary {
                body += "<h3>ROC curve</h3>\n" + image(try Charts.rocCurve(binary, positive: evaluation.classes[1]), "ROC curve") + "\n"
            }
        }
        if !gallery.isEmpty {
            body += "<h2>Most confident mistakes, with Grad-CAM</h2>\n<div class=\"gallery\">\n"
            for item in gallery {
                body += "<figure>" + image(item.png, item.file) + "<figcaption>\(escape(URL(fileURLWithPath: item.file).lastPathComponent))<br>true <b>\(escape(item.truth))</b>, predicted <b>\(escape(item.predicted))</b> (\(String(format: "%.1f", item.confidence * 100))%)</figcaption></figure>\n"
            }
            body += "</div>\n"
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
        h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
        table.config { border-collapse: collapse; } table.config th, table.config td { text-align: left; padding: .2em 1em .2em 0; }
        img { max-width: 100%; } .row img { max-width: 49%; vertical-align: top; }
        pre { background: #f6f8fa; padding: 1em; overflow-x: auto; }
        .gallery { display: flex; flex-wrap: wrap; gap: 1em; } figure { margin: 0; width: 240px; }
        figure img { width: 240px; } figcaption { font-size: .85em; }
        </style></head>
        <body>
        \(body)<p style="color:#888;font-size:.8em">Written by Lumen.</p>
        </body></html>

        """
    }

    public func write(to url: URL) throws {
        try AtomicFile.write(Data(try html().utf8), to: url)
    }
}
