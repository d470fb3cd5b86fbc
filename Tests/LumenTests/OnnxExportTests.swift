import Foundation
import Testing
@testable import Lumen

/// ONNX export against ONNX Runtime (fixtures from Scripts/make-onnx-fixtures.py): the
/// file Lumen writes now is the one ONNX Runtime ran, and ONNX Runtime's probabilities
/// equal Lumen's.
@Suite struct OnnxExportTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/onnx")

    @Test(arguments: ["every-layer", "binary-sigmoid", "keras-layers"])
    func onnxRuntimeComputesWhatLumenPredicts(model name: String) throws {
        let checkpoint = try Checkpoint(contentsOf: OnnxExportTests.folder.appendingPathComponent(name + ".safetensors"))
        let model = try checkpoint.makeModel(on: testDevice)
        let exported = try OnnxExport.data(model, classes: checkpoint.classes, preprocessing: checkpoint.preprocessing)
        let ran = try Data(contentsOf: OnnxExportTests.folder.appendingPathComponent(name + ".onnx"))
        #expect(exported == ran, "the export changed since ONNX Runtime ran it: run Scripts/make-onnx-fixtures.py")
        let outputs = try SafeTensors(contentsOf: OnnxExportTests.folder.appendingPathComponent(name + "-outputs.safetensors"))
        let x = outputs.tensors["x"]!, y = outputs.tensors["y"]!
        let predicted = try model.predict(try Tensor(on: testDevice, shape: x.shape, values: x.values))
        #expect(predicted.shape == y.shape)
        let difference = zip(try predicted.toArray(), y.values).map { abs($0 - $1) }.max() ?? .infinity
        print("\(name): ONNX Runtime vs Lumen, maxdiff \(difference)")
        #expect(difference <= 1e-5)
    }

    /// The command writes the file atomically and says what it wrote; a layer ONNX export
    /// does not know would be named (every Lumen layer is covered by the fixtures above).
    @Test func exportCommandWritesTheFile() throws {
        let folder = try TemporaryFolder()
        let out = folder.url.appendingPathComponent("model.onnx").path
        let result = try LumenProcess.run(["export-onnx", "--model", OnnxExportTests.folder.appendingPathComponent("binary-sigmoid.safetensors").path,
                                           "--out", out, "--batch", "4"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("input [4, 1, 11, 10]"), "\(result.stdout)")
        #expect(FileManager.default.fileExists(atPath: out))
        let missing = try LumenProcess.run(["export-onnx", "--model", "/no/such.safetensors", "--out", out])
        #expect(missing.status != 0 && missing.stderr.contains("/no/such.safetensors"))
    }
}
