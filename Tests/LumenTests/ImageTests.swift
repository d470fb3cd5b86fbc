import Foundation
import Testing
@testable import Lumen

private let images = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/images")
private let pillow = try! SafeTensors(contentsOf: images.appendingPathComponent("reference.safetensors"))

@Suite struct ImageDecodeTests {
    static let samples = ["rgb.jpg", "rgb.png", "gray.jpg", "gray.png", "palette.png", "gray16.png", "rgba.png", "rotated.jpg",
                          "cmyk.jpg", "ycck.jpg"]

    /// Decoded pixels against Pillow's (what Keras' load_img sees): PNG exactly; JPEG
    /// within 1 level, as both use libjpeg-turbo but colour conversion may round apart.
    @Test(arguments: samples, [1, 3])
    func decodeMatchesPillow(file: String, channels: Int) throws {
        let image = try ImageDecoder.decode(images.appendingPathComponent(file), channels: channels)
        let expected = pillow.tensors["\(file)/\(channels)/pixels"]!
        #expect([image.height, image.width, image.channels] == expected.shape)
        let worst = zip(image.pixels, expected.values).map { abs(Float($0) - $1) }.max() ?? 0
        print("decode \(file) \(channels)ch: maxdiff \(worst)")
        #expect(worst <= (file.hasSuffix(".jpg") ? 1 : 0))
    }

    @Test(arguments: samples, [1, 3])
    func nearestResizeMatchesPillow(file: String, channels: Int) throws {
        let expectedPixels = pillow.tensors["\(file)/\(channels)/pixels"]!
        let source = Image(width: expectedPixels.shape[1], height: expectedPixels.shape[0], channels: channels,
                           pixels: expectedPixels.values.map { UInt8($0) })
        let resized = source.resized(width: 16, height: 12, .nearest)
        #expect(resized.pixels.map(Float.init) == pillow.tensors["\(file)/\(channels)/nearest"]!.values)
    }

    @Test func exifOrientationSixRotatesClockwise() throws {
        let upright = try ImageDecoder.decode(images.appendingPathComponent("rgb.jpg"), channels: 3)
        let rotated = try ImageDecoder.decode(images.appendingPathComponent("rotated.jpg"), channels: 3)
        #expect((rotated.width, rotated.height) == (upright.height, upright.width))
        #expect(upright.oriented(6).oriented(8) == upright)
        #expect(upright.oriented(3).oriented(3) == upright)
    }

    @Test(arguments: [("not-an-image.jpg", "not a JPEG or PNG"), ("truncated.jpg", "corrupt"), ("empty.png", "empty"),
                      ("huge.png", "too large"), ("missing.png", "cannot be read")])
    func badFilesGiveOneClearError(file: String, reason: String) {
        do {
            _ = try ImageDecoder.decode(images.appendingPathComponent(file), channels: 3)
            Issue.record("\(file) decoded")
        } catch let error as ImageError {
            #expect(error.file.hasSuffix(file))
            #expect(error.reason.contains(reason), "\(error)")
            #expect(!error.description.contains("\n"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func bilinearKeepsConstantsAndCorners() {
        let flat = Image(width: 5, height: 4, channels: 1, pixels: [UInt8](repeating: 77, count: 20))
        #expect(flat.resized(width: 9, height: 3, .bilinear).pixels.allSatisfy { $0 == 77 })
        let ramp = Image(width: 4, height: 1, channels: 1, pixels: [0, 100, 200, 255])
        #expect(ramp.resized(width: 2, height: 1, .bilinear).pixels == [50, 228])
    }

    @Test func preprocessingMakesNCHW() throws {
        let image = Image(width: 2, height: 1, channels: 3, pixels: [255, 0, 51, 0, 255, 102])
        let tensor = try Preprocessing.rescale.tensor([image], on: testDevice)
        #expect(tensor.shape == [1, 3, 1, 2])
        #expect(maxRelativeDifference("rescale", try tensor.toArray(), [1, 0, 0, 1, 0.2, 0.4]) <= 1e-7)
        let tf = try Preprocessing.tf.tensor([image], on: testDevice).toArray()
        #expect(tf[0] == 1 && tf[1] == -1)
    }
}

@Suite struct PredictTests {
    struct Expected: Decodable {
        struct Entry: Decodable { let file: String; let probabilities: [Float] }
        let classes: [String]
        let predictions: [Entry]
    }

    static let expected = try! JSONDecoder().decode(
        Expected.self, from: Data(contentsOf: images.appendingPathComponent("fashion-predictions.json")))

    /// A checkpoint written by another program (Scripts/make-image-fixtures.py) predicts
    /// what PyTorch predicts with the same weights and Keras' preprocessing.
    @Test func foreignCheckpointPredictsWhatPyTorchPredicts() throws {
        let checkpoint = try Checkpoint(contentsOf: images.appendingPathComponent("fashion-checkpoint.safetensors"))
        let predictor = try Predictor(checkpoint: checkpoint, device: testDevice)
        #expect(predictor.classes == PredictTests.expected.classes)
        let files = PredictTests.expected.predictions.map { images.appendingPathComponent($0.file) }
        let results = try predictor.predict(files, batchSize: 3)
        #expect(results.count == files.count)
        var worst: Float = 0
        for (result, expected) in zip(results, PredictTests.expected.predictions) {
            #expect(result.file.hasSuffix(expected.file))
            worst = max(worst, zip(result.ordered, expected.probabilities).map { abs($0 - $1) }.max() ?? 0)
            let best = expected.probabilities.indices.max { expected.probabilities[$0] < expected.probabilities[$1] }!
            #expect(result.predicted == PredictTests.expected.classes[best])
        }
        print("predict vs PyTorch: maxdiff \(worst)")
        #expect(worst <= 1e-5)
    }

    @Test func predictCommandPrintsJSONAndCSVAndSkipsBadFiles() throws {
        let checkpoint = images.appendingPathComponent("fashion-checkpoint.safetensors").path
        let result = try LumenProcess.run(["predict", "--model", checkpoint, "--input", images.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let entries = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
        // The PyTorch fixture's images, and the two CMYK samples, which decode too.
        #expect(entries.count == PredictTests.expected.predictions.count + 2)
        let named = Set(entries.compactMap { ($0["file"] as? String).map { URL(fileURLWithPath: $0).lastPathComponent } })
        #expect(named.isSuperset(of: ["cmyk.jpg", "ycck.jpg"]))
        #expect(entries.allSatisfy { $0["file"] != nil && $0["predicted"] != nil && $0["probabilities"] is [String: Any] })
        for bad in ["not-an-image.jpg", "truncated.jpg", "empty.png", "huge.png"] {
            #expect(result.stderr.contains(bad), "no warning for \(bad)")
        }
        let csv = try LumenProcess.run(["predict", "--model", checkpoint, "--input",
                                        images.appendingPathComponent("rgb.png").path, "--csv"])
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.first == "file,predicted,boot,coat,shirt")
        #expect(lines.count == 2)
    }

    /// `gradcam` over nothing readable fails as `predict` does, rather than exiting 0
    /// with no image written.
    @Test func gradcamCommandFailsWhenNoImageCanBeRead() throws {
        let folder = try TemporaryFolder()
        let checkpoint = images.appendingPathComponent("fashion-checkpoint.safetensors").path
        let result = try LumenProcess.run(["gradcam", "--model", checkpoint, "--input", images.appendingPathComponent("truncated.jpg").path,
                                           "--out", folder.url.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("truncated.jpg: none of the 1 image files could be read"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path).isEmpty)
    }

    /// `gradcam` over a folder says on each image's line how far along the folder it is,
    /// with an ETA (0:00 on the last), and writes every image's heatmap: the folder's
    /// subfolders mirrored, two images of one name (rgb.jpg, rgb.png) told apart by their
    /// extensions. Over one image it says neither place nor ETA.
    @Test func gradcamCommandShowsItsPlaceInAFolderWithAnETA() throws {
        let folder = try TemporaryFolder()
        let inputs = folder.url.appendingPathComponent("in"), out = folder.url.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        for name in ["gray.png", "rgb.jpg", "rgb.png"] {
            try FileManager.default.copyItem(at: images.appendingPathComponent(name), to: inputs.appendingPathComponent(name))
        }
        try FileManager.default.createDirectory(at: inputs.appendingPathComponent("more"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: images.appendingPathComponent("gray.png"), to: inputs.appendingPathComponent("more/gray.png"))
        let checkpoint = images.appendingPathComponent("fashion-checkpoint.safetensors").path
        let result = try LumenProcess.run(["gradcam", "--model", checkpoint, "--input", inputs.path, "--out", out.path])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init).filter { $0.contains("-gradcam.png: ") }
        #expect(lines.count == 4, "\(result.stdout)")
        for (index, line) in lines.enumerated() {
            #expect(line.range(of: "  \\(\(index + 1)/4, ETA [0-9]+:[0-9]{2}\\)$", options: .regularExpression) != nil, "\(line)")
        }
        #expect(lines.last?.hasSuffix("(4/4, ETA 0:00)") == true)
        let written = try FileManager.default.subpathsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".png") }.sorted()
        #expect(written == ["gray-gradcam.png", "more/gray-gradcam.png", "rgb.jpg-gradcam.png", "rgb.png-gradcam.png"])
        let one = try LumenProcess.run(["gradcam", "--model", checkpoint, "--input", inputs.appendingPathComponent("rgb.png").path,
                                        "--out", out.path])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stdout.contains("rgb-gradcam.png: ") && !one.stdout.contains("ETA"), "\(one.stdout)")
    }

    @Test func predictCommandNamesAMissingCheckpoint() throws {
        let result = try LumenProcess.run(["predict", "--model", "/nonexistent/model.safetensors", "--input", images.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/nonexistent/model.safetensors"))
    }
}

@Suite struct InitAndSummaryCommandTests {
    @Test func initWritesACheckpointThatSummaryAndPredictRead() throws {
        let folder = try TemporaryFolder()
        let out = folder.url.appendingPathComponent("xray.safetensors").path
        let made = try LumenProcess.run(["init", "--model", "xray-cnn", "--classes", "NORMAL,PNEUMONIA",
                                         "--input-size", "64", "--out", out])
        #expect(made.status == 0, "\(made.stderr)")
        let summary = try LumenProcess.run(["summary", "--model", out])
        #expect(summary.stdout.contains("dense_2 (Dense)"))
        let predicted = try LumenProcess.run(["predict", "--model", out, "--input", images.appendingPathComponent("rgb.jpg").path, "--json"])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        #expect(predicted.stdout.contains("PNEUMONIA"))
    }

    @Test func summaryOfBuiltinReportsKerasCount() throws {
        let result = try LumenProcess.run(["summary", "--model", "xray-cnn"])
        #expect(result.stdout.contains("Total params: 2,577,858"))
    }

    @Test func unknownArchitectureIsNamed() throws {
        let result = try LumenProcess.run(["summary", "--model", "resnet-9000"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("resnet-9000"))
        #expect(result.stderr.contains("xray-cnn"))
    }
}
