import Foundation

/// Random image augmentation with Keras' `ImageDataGenerator` parameter names and
/// semantics. It works on raw 0–255 pixels, before rescaling, as one affine resample per
/// image (bilinear, like Keras' default interpolation order 1), then channel shift,
/// flips and brightness, in Keras' order. Each image's transform is a function of
/// (seed, epoch, index) only, so runs repeat exactly whatever the thread count.
public struct Augmentation: Codable, Equatable, Sendable {
    /// Degrees: θ ~ U(−r, r).
    public var rotationRange: Float = 0
    /// Below 1: a fraction of the width; 1 or more: pixels. Shift ~ U(−r, r).
    public var widthShiftRange: Float = 0
    public var heightShiftRange: Float = 0
    /// Degrees of shear: U(−s, s).
    public var shearRange: Float = 0
    /// [lo, hi] zoom factors, zx and zy drawn independently; a single value z means [1 − z, 1 + z].
    public var zoomRange: [Float] = [1, 1]
    public var horizontalFlip = false
    public var verticalFlip = false
    /// [lo, hi] brightness factors, or nil for none.
    public var brightnessRange: [Float]?
    /// Intensity shift added to every channel: U(−r, r), clipped to the image's range.
    public var channelShiftRange: Float = 0
    public var fillMode: FillMode = .nearest
    /// Value outside the image with fill mode `constant`.
    public var cval: Float = 0

    /// How pixels outside the image are filled, as scipy.ndimage (which Keras uses) does.
    public enum FillMode: String, Codable, Sendable, CaseIterable {
        /// aaaa|abcd|dddd
        case nearest
        /// kkkk|abcd|kkkk with k = cval
        case constant
        /// dcba|abcd|dcba
        case reflect
        /// scipy's wrap: periodic with period size − 1, first and last samples overlapping
        case wrap
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case rotationRange = "rotation_range", widthShiftRange = "width_shift_range"
        case heightShiftRange = "height_shift_range", shearRange = "shear_range", zoomRange = "zoom_range"
        case horizontalFlip = "horizontal_flip", verticalFlip = "vertical_flip"
        case brightnessRange = "brightness_range", channelShiftRange = "channel_shift_range"
        case fillMode = "fill_mode", cval
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rotationRange = try c.decodeIfPresent(Float.self, forKey: .rotationRange) ?? 0
        widthShiftRange = try c.decodeIfPresent(Float.self, forKey: .widthShiftRange) ?? 0
        heightShiftRange = try c.decodeIfPresent(Float.self, forKey: .heightShiftRange) ?? 0
        shearRange = try c.decodeIfPresent(Float.self, forKey: .shearRange) ?? 0
        if let single = try? c.decodeIfPresent(Float.self, forKey: .zoomRange) {
            zoomRange = [1 - single, 1 + single]
        } else {
            zoomRange = try c.decodeIfPresent([Float].self, forKey: .zoomRange) ?? [1, 1]
        }
        horizontalFlip = try c.decodeIfPresent(Bool.self, forKey: .horizontalFlip) ?? false
        verticalFlip = try c.decodeIfPresent(Bool.self, forKey: .verticalFlip) ?? false
        brightnessRange = try c.decodeIfPresent([Float].self, forKey: .brightnessRange)
        channelShiftRange = try c.decodeIfPresent(Float.self, forKey: .channelShiftRange) ?? 0
        fillMode = try c.decodeIfPresent(FillMode.self, forKey: .fillMode) ?? .nearest
        cval = try c.decodeIfPresent(Float.self, forKey: .cval) ?? 0
        try validate()
    }

    /// Throws a message naming the parameter and what it expects.
    public func validate() throws {
        func bad(_ text: String) -> LumenError { .invalidAugmentation(text) }
        if rotationRange < 0 { throw bad("rotation_range must be 0 or more degrees, got \(rotationRange)") }
        if widthShiftRange < 0 || heightShiftRange < 0 { throw bad("shift ranges must be 0 or more") }
        if shearRange < 0 { throw bad("shear_range must be 0 or more degrees, got \(shearRange)") }
        if zoomRange.count != 2 || zoomRange[0] <= 0 || zoomRange[0] > zoomRange[1] {
            throw bad("zoom_range must be a number below 1 or [lo, hi] with 0 < lo ≤ hi, got \(zoomRange)")
        }
        if let b = brightnessRange, b.count != 2 || b[0] < 0 || b[0] > b[1] {
            throw bad("brightness_range must be [lo, hi] with 0 ≤ lo ≤ hi, got \(b)")
        }
        if channelShiftRange < 0 { throw bad("channel_shift_range must be 0 or more, got \(channelShiftRange)") }
    }

    /// Whether any augmentation is switched on.
    public var isIdentity: Bool {
        rotationRange == 0 && widthShiftRange == 0 && heightShiftRange == 0 && shearRange == 0 && zoomRange == [1, 1]
            && !horizontalFlip && !verticalFlip && brightnessRange == nil && channelShiftRange == 0
    }
}

/// One image's draw of random parameters, as Keras' `get_random_transform` names them:
/// tx shifts rows (height), ty columns (width).
public struct AugmentationTransform: Equatable, Sendable {
    public var theta: Float = 0
    public var tx: Float = 0
    public var ty: Float = 0
    public var shear: Float = 0
    public var zx: Float = 1
    public var zy: Float = 1
    public var flipHorizontal = false
    public var flipVertical = false
    public var channelShift: Float = 0
    public var brightness: Float?

    public init() {}
}

extension Augmentation {
    /// The transform for image `index` in `epoch`, drawn from a generator seeded by all three.
    public func transform(seed: UInt64, epoch: Int, index: Int, height: Int, width: Int) -> AugmentationTransform {
        var random = SplitMix64(seed: seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(index) &* 0xC2B2_AE3D_27D4_EB4F))
        _ = random.next()
        func uniform(_ low: Float, _ high: Float) -> Float { low == high ? low : random.nextFloat(in: low..<high) }
        var t = AugmentationTransform()
        if rotationRange > 0 { t.theta = uniform(-rotationRange, rotationRange) }
        if heightShiftRange > 0 {
            t.tx = uniform(-heightShiftRange, heightShiftRange)
            if heightShiftRange < 1 { t.tx *= Float(height) }
        }
        if widthShiftRange > 0 {
            t.ty = uniform(-widthShiftRange, widthShiftRange)
            if widthShiftRange < 1 { t.ty *= Float(width) }
        }
        if shearRange > 0 { t.shear = uniform(-shearRange, shearRange) }
        if zoomRange != [1, 1] {
            t.zx = uniform(zoomRange[0], zoomRange[1])
            t.zy = uniform(zoomRange[0], zoomRange[1])
        }
        t.flipHorizontal = horizontalFlip && uniform(0, 1) < 0.5
        t.flipVertical = verticalFlip && uniform(0, 1) < 0.5
        if channelShiftRange > 0 { t.channelShift = uniform(-channelShiftRange, channelShiftRange) }
        if let range = brightnessRange { t.brightness = uniform(range[0], range[1]) }
        return t
    }

    /// Applies a transform to an HWC float image of 0–255 values.
    public func apply(_ t: AugmentationTransform, to image: FloatImage) -> FloatImage {
        var out = image
        if t.theta != 0 || t.tx != 0 || t.ty != 0 || t.shear != 0 || t.zx != 1 || t.zy != 1 {
            out = out.affine(AffineMatrix.keras(t, height: image.height, width: image.width), fill: fillMode, cval: cval)
        }
        if t.channelShift != 0 {
            let low = out.pixels.min() ?? 0, high = out.pixels.max() ?? 0
            out.pixels = out.pixels.map { min(max($0 + t.channelShift, low), high) }
        }
        if t.flipHorizontal { out = out.flipped(horizontally: true) }
        if t.flipVertical { out = out.flipped(horizontally: false) }
        if let factor = t.brightness { out = out.brightnessShifted(factor) }
        return out
    }
}

/// An HWC image of float pixel values, 0–255 until preprocessing.
public struct FloatImage: Equatable, Sendable {
    public var width: Int, height: Int, channels: Int
    public var pixels: [Float]

    public init(width: Int, height: Int, channels: Int, pixels: [Float]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    public init(_ image: Image) {
        self.init(width: image.width, height: image.height, channels: image.channels, pixels: image.pixels.map(Float.init))
    }

    func flipped(horizontally: Bool) -> FloatImage {
        var out = self
        for y in 0..<height {
            for x in 0..<width {
                let (sy, sx) = horizontally ? (y, width - 1 - x) : (height - 1 - y, x)
                for c in 0..<channels { out.pixels[(y * width + x) * channels + c] = pixels[(sy * width + sx) * channels + c] }
            }
        }
        return out
    }

    /// Keras' brightness shift: Pillow's ImageEnhance.Brightness on the image after
    /// `array_to_img(scale=True)` stretched it to the full 0–255 range, back as floats.
    func brightnessShifted(_ factor: Float) -> FloatImage {
        let low = pixels.min() ?? 0, high = pixels.max() ?? 0
        var out = self
        out.pixels = pixels.map { value in
            let stretched = high > low ? (value - low) / (high - low) * 255 : 0
            let byte = Float(UInt8(max(0, min(255, stretched.rounded(.towardZero)))))
            return max(0, min(255, (byte * factor).rounded(.towardZero)))
        }
        return out
    }

    /// Samples the image at `matrix · (row, col, 1)` for every output pixel, bilinearly,
    /// filling outside as scipy.ndimage.affine_transform does with order 1.
    func affine(_ m: AffineMatrix, fill: Augmentation.FillMode, cval: Float) -> FloatImage {
        var out = self
        for r in 0..<height {
            for c in 0..<width {
                let sr = m.a * Float(r) + m.b * Float(c) + m.c
                let sc = m.d * Float(r) + m.e * Float(c) + m.f
                for ch in 0..<channels {
                    out.pixels[(r * width + c) * channels + ch] = sample(sr, sc, ch, fill: fill, cval: cval)
                }
            }
        }
        return out
    }

    private func sample(_ row: Float, _ col: Float, _ channel: Int, fill: Augmentation.FillMode, cval: Float) -> Float {
        var row = row, col = col
        switch fill {
        case .constant:
            // scipy's "constant": points beyond the edge samples take cval, no blending.
            let slack: Float = 1e-4
            if row < -slack || row > Float(height - 1) + slack || col < -slack || col > Float(width - 1) + slack { return cval }
            row = min(max(row, 0), Float(height - 1))
            col = min(max(col, 0), Float(width - 1))
        case .wrap:
            row = FloatImage.wrap(row, height)
            col = FloatImage.wrap(col, width)
        case .nearest, .reflect:
            break
        }
        let r0 = Int(row.rounded(.down)), c0 = Int(col.rounded(.down))
        let ar = row - Float(r0), ac = col - Float(c0)
        func at(_ r: Int, _ c: Int) -> Float {
            let rr = FloatImage.index(r, height, fill), cc = FloatImage.index(c, width, fill)
            return pixels[(rr * width + cc) * channels + channel]
        }
        let top = at(r0, c0) * (1 - ac) + at(r0, c0 + 1) * ac
        let bottom = at(r0 + 1, c0) * (1 - ac) + at(r0 + 1, c0 + 1) * ac
        return top * (1 - ar) + bottom * ar
    }

    /// A coordinate folded into [0, n − 1] with period n − 1 (scipy's "wrap").
    static func wrap(_ x: Float, _ n: Int) -> Float {
        guard n > 1 else { return 0 }
        let period = Float(n - 1)
        var value = x.truncatingRemainder(dividingBy: period)
        if value < 0 { value += period }
        return value
    }

    /// An integer index brought inside [0, n) by the fill mode.
    static func index(_ i: Int, _ n: Int, _ fill: Augmentation.FillMode) -> Int {
        if i >= 0 && i < n { return i }
        switch fill {
        case .reflect:
            let period = 2 * n
            var j = i % period
            if j < 0 { j += period }
            return j < n ? j : period - 1 - j
        default:
            return min(max(i, 0), n - 1)
        }
    }
}

/// The 2×3 matrix mapping output (row, col) to input (row, col), built as Keras 3's
/// `apply_affine_transform` does: M = rotation · shift · shear · zoom, moved to the centre
/// (h/2 − 0.5, w/2 − 0.5) in M's own (x, y) frame, then conjugated by the swap of the two
/// axes (M' = P·M·P). One consequence Keras users already live with: `tx`, drawn from
/// height_shift_range, moves columns, and on a non-square image the centre of rotation
/// is the transposed centre.
struct AffineMatrix: Equatable {
    var a: Float, b: Float, c: Float, d: Float, e: Float, f: Float

    static func keras(_ t: AugmentationTransform, height: Int, width: Int) -> AffineMatrix {
        typealias M = [[Double]]
        func multiply(_ x: M, _ y: M) -> M {
            (0..<3).map { i in (0..<3).map { j in (0..<3).reduce(0.0) { $0 + x[i][$1] * y[$1][j] } } }
        }
        let theta = Double(t.theta) * .pi / 180, shear = Double(t.shear) * .pi / 180
        var m: M = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        m = multiply(m, [[cos(theta), -sin(theta), 0], [sin(theta), cos(theta), 0], [0, 0, 1]])
        m = multiply(m, [[1, 0, Double(t.tx)], [0, 1, Double(t.ty)], [0, 0, 1]])
        m = multiply(m, [[1, -sin(shear), 0], [0, cos(shear), 0], [0, 0, 1]])
        m = multiply(m, [[Double(t.zx), 0, 0], [0, Double(t.zy), 0], [0, 0, 1]])
        let ox = Double(height) / 2 - 0.5, oy = Double(width) / 2 - 0.5
        m = multiply(multiply([[1, 0, ox], [0, 1, oy], [0, 0, 1]], m), [[1, 0, -ox], [0, 1, -oy], [0, 0, 1]])
        // P·M·P with P swapping the first two axes.
        return AffineMatrix(a: Float(m[1][1]), b: Float(m[1][0]), c: Float(m[1][2]),
                            d: Float(m[0][1]), e: Float(m[0][0]), f: Float(m[0][2]))
    }
}
