import Foundation
import Testing
@testable import Lumen

@Suite struct ReportTests {
    func decode(_ png: Data) throws -> Image { try ImageDecoder.decode(png, channels: 3, file: "chart.png") }

    @Test func confusionHeatmapShadesTheLargestCellDarkest() throws {
        let matrix = ConfusionMatrix(classes: ["NORMAL", "PNEUMONIA"], truth: [0, 0, 1, 1, 1, 1, 1, 1], predicted: [0, 1, 1, 1, 1, 1, 1, 0])
        let image = try decode(try Charts.confusionMatrix(matrix, normalized: false))
        #expect(image.width > 200 && image.height > 200)
        // The darkest pixel in the picture is navy blue, the Blues map's top colour.
        var darkest = (sum: 999, pixel: [UInt8](repeating: 0, count: 3))
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            let p = Array(image.pixels[i..<(i + 3)])
            let sum = Int(p[0]) + Int(p[1]) + Int(p[2])
            if sum < darkest.sum, Int(p[2]) > Int(p[0]) + 40 { darkest = (sum, p) }
        }
        #expect(darkest.pixel[2] > 90 && darkest.pixel[0] < 20)
    }

    @Test func curvesAndROCAreRealImages() throws {
        var history = History()
        history.epochs = [["loss": 1.0, "val_loss": 1.1, "accuracy": 0.5, "val_accuracy": 0.45],
                          ["loss": 0.6, "val_loss": 0.8, "accuracy": 0.7, "val_accuracy": 0.66],
                          ["loss": 0.4, "val_loss": 0.7, "accuracy": 0.85, "val_accuracy": 0.7]]
        let curves = try decode(try Charts.trainingCurves(history))
        #expect((curves.width, curves.height) == (1000, 400))
        #expect(Set(stride(from: 0, to: curves.pixels.count, by: 3).map { curves.pixels[$0] }).count > 20)
        let matrix = ConfusionMatrix(classes: ["a", "b"], truth: [0, 1, 0, 1], predicted: [0, 1, 1, 1])
        let roc = try decode(try Charts.rocCurve(BinaryMetrics(matrix: matrix, scores: [0.1, 0.9, 0.6, 0.7], labels: [0, 1, 0, 1]), positive: "b"))
        #expect(roc.width == 520)
    }

    @Test func reportIsSelfContained() throws {
        let folder = try TemporaryFolder()
        var report = HTMLReport(title: "Run <1>")
        report.configuration = ["model": "xray-cnn"]
        var history = History()
        history.epochs = [["loss": 1, "val_loss": 1.2, "accuracy": 0.4, "val_accuracy": 0.5]]
        report.history = history
        let url = folder.url.appendingPathComponent("report.html")
        try report.write(to: url)
        let html = try String(contentsOf: url, encoding: .utf8)
        #expect(html.contains("Run &lt;1&gt;"))
        #expect(html.contains("data:image/png;base64,"))
        #expect(!html.contains("http://") && !html.contains("https://"))
    }

    @Test func evaluateCommandWritesEveryFile() throws {
        let folder = try TemporaryFolder()
        try writeColourDataset(folder.url.appendingPathComponent("data"), perClass: 4, seed: 3)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        let checkpoint = folder.url.appendingPathComponent("model.safetensors").path
        let made = try LumenProcess.run(["init", "--model", folder.url.appendingPathComponent("small.yaml").path,
                                         "--classes", "blue,green,red", "--out", checkpoint])
        #expect(made.status == 0, "\(made.stderr)")
        let out = folder.url.appendingPathComponent("eval")
        let result = try LumenProcess.run(["evaluate", "--model", checkpoint, "--data", folder.url.appendingPathComponent("data").path,
                                           "--out", out.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("weighted avg"))
        for name in ["predictions.csv", "metrics.json", "confusion_matrix.png", "confusion_matrix_normalized.png", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name)")
        }
        let csv = try String(contentsOf: out.appendingPathComponent("predictions.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("file,true,predicted,blue,green,red\n"))
        #expect(csv.split(separator: "\n").count == 13)
    }

    /// `lumen evaluate` and `lumen predict` show progress on standard error (standard
    /// output carries the results) with an ETA, every pass of test-time augmentation counted.
    @Test func evaluateAndPredictShowProgressOnStandardError() throws {
        let folder = try TemporaryFolder()
        let data = folder.url.appendingPathComponent("data")
        try writeColourDataset(data, perClass: 4, seed: 3)
        try smallSpecFile(folder.url.appendingPathComponent("small.yaml"))
        let checkpoint = folder.url.appendingPathComponent("model.safetensors").path
        let made = try LumenProcess.run(["init", "--model", folder.url.appendingPathComponent("small.yaml").path,
                                         "--classes", "blue,green,red", "--out", checkpoint])
        #expect(made.status == 0, "\(made.stderr)")
        func finalLine(_ stderr: String, batches: Int) -> Bool {
            stderr.split(separator: "\n").contains { $0.hasPrefix("  batch \(batches)/\(batches), 0:") && $0.hasSuffix(", ETA 0:00") }
        }
        // 12 images in batches of 5: 3 batches a pass; the original and two draws: 9.
        let evaluated = try LumenProcess.run(["evaluate", "--model", checkpoint, "--data", data.path, "--batch-size", "5",
                                              "--tta", "2", "--horizontal-flip", "--json"])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        #expect(finalLine(evaluated.stderr, batches: 9), "\(evaluated.stderr)")
        #expect((try? JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8))) != nil, "\(evaluated.stdout)")
        let predicted = try LumenProcess.run(["predict", "--model", checkpoint, "--input", data.path, "--batch-size", "5", "--csv"])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        #expect(finalLine(predicted.stderr, batches: 3), "\(predicted.stderr)")
        #expect(predicted.stdout.split(separator: "\n").count == 13, "\(predicted.stdout)")
        // One batch: no progress at all.
        let single = try LumenProcess.run(["predict", "--model", checkpoint, "--input", data.path, "--csv"])
        #expect(single.status == 0 && !single.stderr.contains("batch"), "\(single.stderr)")
    }
}
