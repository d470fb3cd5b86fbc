import CLShim
import Foundation

/// A drawing surface backed by cairo in the C shim: rectangles, lines, text, images.
public final class Canvas {
    public let width: Int, height: Int
    private let handle: OpaquePointer

    public init(width: Int, height: Int) throws {
        guard let handle = lm_canvas_create(Int32(width), Int32(height)) else {
            throw LumenError.shapeMismatch("cairo could not make a \(width)x\(height) canvas")
        }
        self.width = width
        self.height = height
        self.handle = handle
    }

    deinit { lm_canvas_destroy(handle) }

    public struct Color: Equatable {
        public var red: Double, green: Double, blue: Double
        public init(_ red: Double, _ green: Double, _ blue: Double) { (self.red, self.green, self.blue) = (red, green, blue) }
        public static let black = Color(0, 0, 0), white = Color(1, 1, 1), grey = Color(0.6, 0.6, 0.6)
        public static let lightGrey = Color(0.9, 0.9, 0.9)
        /// matplotlib's first two line colours, as Keras tutorials' plots show them.
        public static let blue = Color(0.122, 0.467, 0.706), orange = Color(1.0, 0.498, 0.055)
        /// Perceived brightness, to pick black or white text on a cell.
        public var luminance: Double { 0.299 * red + 0.587 * green + 0.114 * blue }
    }

    public enum Align: Int32 { case left = 0, center = 1, right = 2 }

    public func fill(_ x: Double, _ y: Double, _ w: Double, _ h: Double, _ color: Color, alpha: Double = 1) {
        lm_canvas_color(handle, color.red, color.green, color.blue, alpha)
        lm_canvas_fill_rect(handle, x, y, w, h)
    }

    public func stroke(_ x: Double, _ y: Double, _ w: Double, _ h: Double, _ color: Color, width line: Double = 1) {
        lm_canvas_color(handle, color.red, color.green, color.blue, 1)
        lm_canvas_stroke_rect(handle, x, y, w, h, line)
    }

    public func line(_ points: [(Double, Double)], _ color: Color, width line: Double = 1.5, dash: Double = 0) {
        let flat = points.flatMap { [$0.0, $0.1] }
        lm_canvas_color(handle, color.red, color.green, color.blue, 1)
        flat.withUnsafeBufferPointer { lm_canvas_polyline(handle, $0.baseAddress, Int32(points.count), line, dash) }
    }

    public func text(_ string: String, _ x: Double, _ y: Double, size: Double = 12, align: Align = .left,
                     bold: Bool = false, vertical: Bool = false, color: Color = .black) {
        lm_canvas_color(handle, color.red, color.green, color.blue, 1)
        lm_canvas_text(handle, x, y, size, string, align.rawValue, bold ? 1 : 0, vertical ? 1 : 0)
    }

    public func textWidth(_ string: String, size: Double = 12, bold: Bool = false) -> Double {
        lm_canvas_text_width(handle, size, string, bold ? 1 : 0)
    }

    /// Paints an RGB image scaled into a rectangle.
    public func image(_ image: Image, _ x: Double, _ y: Double, _ w: Double, _ h: Double) {
        let rgb = image.channels == 3 ? image.pixels : image.pixels.flatMap { [$0, $0, $0] }
        rgb.withUnsafeBufferPointer { lm_canvas_image(handle, $0.baseAddress, Int32(image.width), Int32(image.height), x, y, w, h) }
    }

    /// The canvas as PNG bytes.
    public func pngData() throws -> Data {
        var buffer: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = lm_canvas_png(handle, &buffer, &size)
        defer { lm_buffer_release(buffer) }
        guard status == 0, let buffer else { throw LumenError.shapeMismatch("cairo could not encode PNG (status \(status))") }
        return Data(bytes: buffer, count: size)
    }
}

/// Colour maps sampled from matplotlib's, which the tutorials' figures use.
public enum ColorMap {
    /// "Blues", sklearn's ConfusionMatrixDisplay default, from white to dark blue.
    public static func blues(_ t: Double) -> Canvas.Color {
        let stops: [(Double, Double, Double)] = [(0.969, 0.984, 1.0), (0.871, 0.922, 0.969), (0.776, 0.859, 0.937),
                                                 (0.620, 0.792, 0.882), (0.420, 0.682, 0.839), (0.259, 0.573, 0.776),
                                                 (0.129, 0.443, 0.710), (0.031, 0.318, 0.612), (0.031, 0.188, 0.420)]
        return interpolate(stops, t)
    }

    /// "jet", the Grad-CAM examples' map: blue through cyan, yellow, to red.
    public static func jet(_ t: Double) -> Canvas.Color {
        let t = min(max(t, 0), 1)
        func channel(_ center: Double) -> Double { min(max(1.5 - abs(4 * t - center), 0), 1) }
        return Canvas.Color(channel(3), channel(2), channel(1))
    }

    static func interpolate(_ stops: [(Double, Double, Double)], _ t: Double) -> Canvas.Color {
        let position = min(max(t, 0), 1) * Double(stops.count - 1)
        let i = min(Int(position), stops.count - 2), f = position - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        return Canvas.Color(a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f)
    }
}
