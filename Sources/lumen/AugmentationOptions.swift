import ArgumentParser
import Foundation
import Lumen

/// ImageDataGenerator's parameters as flags, shared by `train`, `evaluate`, `predict` and
/// `preview-augment`.
/// Flags override a `--config` file's `augmentation:` section.
struct AugmentationOptions: ParsableArguments {
    @Option(help: "Random rotation in degrees, U(-r, r).") var rotationRange: Float?
    @Option(help: "Horizontal shift: a fraction of the width below 1, else pixels.") var widthShiftRange: Float?
    @Option(help: "Vertical shift: a fraction of the height below 1, else pixels.") var heightShiftRange: Float?
    @Option(help: "Shear angle in degrees, U(-s, s).") var shearRange: Float?
    @Option(help: "Zoom: z for [1-z, 1+z], or lo,hi.") var zoomRange: String?
    @Flag(help: "Randomly flip images left-right.") var horizontalFlip = false
    @Flag(help: "Randomly flip images upside down.") var verticalFlip = false
    @Option(help: "Brightness factors lo,hi.") var brightnessRange: String?
    @Option(help: "Random intensity shift added to every channel, U(-r, r).") var channelShiftRange: Float?
    @Option(help: "Fill outside the image: nearest, constant, reflect or wrap.") var fillMode: Augmentation.FillMode?
    @Option(help: "Fill value for --fill-mode constant.") var cval: Float?

    /// The config's augmentation with these flags applied on top.
    func augmentation(base: Augmentation?) throws -> Augmentation {
        var a = base ?? Augmentation()
        if let rotationRange { a.rotationRange = rotationRange }
        if let widthShiftRange { a.widthShiftRange = widthShiftRange }
        if let heightShiftRange { a.heightShiftRange = heightShiftRange }
        if let shearRange { a.shearRange = shearRange }
        if let zoomRange {
            let parts = try numbers(zoomRange, flag: "--zoom-range")
            guard parts.count == 1 || parts.count == 2 else { throw ValidationError("--zoom-range takes z or lo,hi, got '\(zoomRange)'") }
            a.zoomRange = parts.count == 1 ? [1 - parts[0], 1 + parts[0]] : parts
        }
        if horizontalFlip { a.horizontalFlip = true }
        if verticalFlip { a.verticalFlip = true }
        if let brightnessRange {
            let parts = try numbers(brightnessRange, flag: "--brightness-range")
            guard parts.count == 2 else { throw ValidationError("--brightness-range takes lo,hi, got '\(brightnessRange)'") }
            a.brightnessRange = parts
        }
        if let channelShiftRange { a.channelShiftRange = channelShiftRange }
        if let fillMode { a.fillMode = fillMode }
        if let cval { a.cval = cval }
        do {
            try a.validate()
        } catch let error as LumenError {
            throw ValidationError(error.description)
        }
        return a
    }

    /// How `evaluate` and `predict` perturb test images: nil without augmentation
    /// settings; with them, each image once augmented (tta 0) or test-time augmentation.
    func testAugmentation(base: Augmentation?, seed: UInt64, tta: Int, requireTTA: Bool = false) throws -> TestAugmentation? {
        let settings = try augmentation(base: base)
        guard !settings.isIdentity else {
            if tta > 0 { throw ValidationError("--tta needs augmentation settings to draw from, e.g. --horizontal-flip --zoom-range 0.1") }
            return nil
        }
        if requireTTA && tta == 0 { throw ValidationError("augmentation flags in predict need --tta N (test-time augmentation)") }
        return TestAugmentation(augmentation: settings, seed: seed, draws: tta)
    }

    private func numbers(_ text: String, flag: String) throws -> [Float] {
        try text.split(separator: ",").map {
            guard let value = Float($0.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("\(flag) takes numbers, got '\(text)'")
            }
            return value
        }
    }
}

extension Augmentation.FillMode: ExpressibleByArgument {}

/// How images become inputs: shared by the commands that read image folders.
struct ImageOptions: ParsableArguments {
    @Option(help: "Square input size in pixels.") var inputSize: Int?
    @Option(help: "rgb or grayscale.") var color: ColorMode?
    @Option(help: "Resize interpolation: nearest (Keras' default) or bilinear.") var interpolation: Interpolation = .nearest

    enum ColorMode: String, ExpressibleByArgument { case rgb, grayscale }

    func validate() throws {
        if let inputSize, inputSize < 8 || inputSize > 4096 {
            throw ValidationError("--input-size must be between 8 and 4096 pixels, got \(inputSize)")
        }
    }
}

extension Interpolation: ExpressibleByArgument {}
