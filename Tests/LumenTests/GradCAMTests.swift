import Foundation
import Testing
@testable import Lumen

@Suite struct GradCAMTests {
    func fixtureModel(_ f: TorchFixture) throws -> Model {
        let spec = ModelSpec(name: "small", inputShape: [16, 16, 3], layers: [
            { var l = LayerSpec(type: "Conv2D"); l.filters = 6; l.kernelSize = 3; l.activation = .relu; return l }(),
            { var l = LayerSpec(type: "MaxPooling2D"); l.poolSize = 2; return l }(),
            LayerSpec(type: "BatchNormalization"),
            { var l = LayerSpec(type: "Conv2D"); l.filters = 8; l.kernelSize = 3; l.padding = .same; l.activation = .relu; return l }(),
            LayerSpec(type: "Flatten"),
            { var l = LayerSpec(type: "Dense"); l.units = 3; l.activation = .softmax; return l }(),
        ])
        let model = try Model(spec: spec, device: testDevice)
        try Checkpoint.load(f.tensors.filter { $0.key.contains(".") }, into: model, source: "fixture")
        return model
    }

    /// The heatmap at the last conv layer matches one computed with PyTorch autograd.
    @Test func heatmapMatchesPyTorch() throws {
        let f = try TorchFixture("gradcam_small_cnn")
        let model = try fixtureModel(f)
        #expect(GradCAM.defaultLayer(of: model) == "conv2d_1")
        let before: [[Float]] = try model.parameters.map { try $0.value.toArray() }
        let cam = try GradCAM(model: model, input: try f.tensor("x"))
        #expect(cam.classIndex == Int(f["class"].values[0]))
        #expect(cam.layerName == "conv2d_1")
        #expect(cam.height == 7 && cam.width == 7)
        let difference = scaledDifference(cam.heatmap, f["cam"].values)
        print("gradcam vs PyTorch: maxdiff \(difference)")
        #expect(difference <= 1e-6)
        // Inference mode: the running statistics and weights are untouched.
        let after: [[Float]] = try model.parameters.map { try $0.value.toArray() }
        #expect(after == before)
    }

    @Test func overlayKeepsTheImageSizeAndUsesTheFullRange() throws {
        let f = try TorchFixture("gradcam_small_cnn")
        let cam = try GradCAM(model: try fixtureModel(f), input: try f.tensor("x"), classIndex: 0)
        #expect(cam.classIndex == 0)
        let image = Image(width: 40, height: 30, channels: 1, pixels: (0..<1200).map { UInt8($0 % 256) })
        let overlay = cam.overlay(on: image)
        #expect((overlay.width, overlay.height, overlay.channels) == (40, 30, 3))
        #expect(overlay.pixels.min() == 0 && overlay.pixels.max() == 255)
    }

    @Test func unknownLayerIsNamed() throws {
        let f = try TorchFixture("gradcam_small_cnn")
        #expect(throws: LumenError.self) { try GradCAM(model: try fixtureModel(f), input: try f.tensor("x"), layer: "nope") }
        #expect(throws: LumenError.self) { try GradCAM(model: try fixtureModel(f), input: try f.tensor("x"), layer: "dense") }
    }

    @Test func jetRunsFromBlueToRed() {
        #expect(ColorMap.jet(0).blue > 0.4 && ColorMap.jet(0).red == 0)
        #expect(ColorMap.jet(1).red > 0.4 && ColorMap.jet(1).blue == 0)
        #expect(ColorMap.jet(0.5).green == 1)
    }
}
