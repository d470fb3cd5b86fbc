import Foundation

/// Grad-CAM (Selvaraju et al.), as Keras' example computes it: the gradient of a class
/// logit with respect to a convolutional layer's output, averaged over height and width
/// into one weight per channel; the weighted sum of the channels, through ReLU, divided
/// by its maximum.
public struct GradCAM {
    /// The map at the layer's resolution, values in [0, 1], row-major.
    public let heatmap: [Float]
    public let height: Int, width: Int
    public let classIndex: Int
    public let layerName: String

    /// The last layer before the output with an image-shaped output larger than 1 × 1,
    /// as Keras' example picks its last convolutional block.
    public static func defaultLayer(of model: Model) -> String? {
        model.lastImageLayer(before: model.layers.count - 1).map { model.layers[$0].name }
    }

    /// Grad-CAM for one image.              x: [1, C, H, W] preprocessed
    /// `classIndex` nil takes the predicted class.
    public init(model: Model, input x: Tensor, layer: String? = nil, classIndex: Int? = nil) throws {
        guard x.shape.first == 1 else { throw LumenError.shapeMismatch("Grad-CAM takes one image, got a batch of \(x.shape[0])") }
        guard let name = layer ?? GradCAM.defaultLayer(of: model) else {
            throw LumenError.invalidModelSpec("\(model.spec.name) has no layer with an image-shaped output for Grad-CAM")
        }
        let target = try model.layerIndex(named: name)
        guard model.outputShapes[target].count == 3, target < model.layers.count - 1 else {
            throw LumenError.invalidModelSpec("Grad-CAM needs a layer with a [C, H, W] output before the last layer; '\(name)' gives \(model.outputShapes[target])")
        }
        // A: the layer's output; dA: the gradient of the chosen class's logit there, in inference mode.
        var chosen = 0
        let (activations, gradient) = try model.gradient(at: target, for: x) { logits in
            let scores = try logits.toArray()
            chosen = classIndex ?? scores.indices.max { scores[$0] < scores[$1] } ?? 0
            guard (0..<scores.count).contains(chosen) else {
                throw LumenError.shapeMismatch("class \(chosen) is outside the model's \(scores.count) outputs")
            }
            var oneHot = [Float](repeating: 0, count: scores.count)
            oneHot[chosen] = 1
            return try Tensor(on: model.device, shape: logits.shape, values: oneHot)
        }
        let dA = try gradient.toArray()
        let a = try activations.toArray()
        let shape = model.outputShapes[target]
        let (channels, h, w) = (shape[0], shape[1], shape[2])
        let plane = h * w
        var map = [Float](repeating: 0, count: plane)
        for c in 0..<channels {
            let weight = dA[(c * plane)..<((c + 1) * plane)].reduce(0, +) / Float(plane)
            for i in 0..<plane { map[i] += weight * a[c * plane + i] }
        }
        map = map.map { max($0, 0) }
        let top = map.max() ?? 0
        if top > 0 { map = map.map { $0 / top } }
        heatmap = map
        height = h
        width = w
        self.classIndex = chosen
        layerName = name
    }

    /// The Keras example's overlay on the original image: the heatmap through the jet
    /// colour map, resized to the image, 0.4·heat + image, then stretched to 0–255.
    public func overlay(on image: Image) -> Image {
        let rgb = image.channels == 3 ? image : Image(width: image.width, height: image.height, channels: 3,
                                                      pixels: image.pixels.flatMap { [$0, $0, $0] })
        var jet = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            // Keras quantises the map to 0–255 before looking up the colour.
            let color = ColorMap.jet(Double(UInt8(max(0, min(255, heatmap[i] * 255)))) / 255)
            jet[i * 3] = UInt8((color.red * 255).rounded())
            jet[i * 3 + 1] = UInt8((color.green * 255).rounded())
            jet[i * 3 + 2] = UInt8((color.blue * 255).rounded())
        }
        let heat = Image(width: width, height: height, channels: 3, pixels: jet).resized(width: rgb.width, height: rgb.height, .bilinear)
        let mixed = zip(heat.pixels, rgb.pixels).map { 0.4 * Float($0) + Float($1) }
        let low = mixed.min() ?? 0, high = mixed.max() ?? 1
        return Image(width: rgb.width, height: rgb.height, channels: 3,
                     pixels: mixed.map { UInt8(high > low ? (($0 - low) / (high - low) * 255).rounded(.towardZero) : 0) })
    }
}
