import Foundation

/// The tutorials' `image_show`: a grid of augmented samples, so users see what their
/// augmentation settings do. Each row is one image: the original, then `variants`
/// augmented draws (epochs 0, 1, …).
public enum AugmentationPreview {
    public static func grid(folder: ImageFolder, augmentation: Augmentation, options: LoaderOptions,
                            rows: Int = 4, variants: Int = 5, gap: Int = 4) throws -> Image {
        let (h, w, c) = (options.height, options.width, options.channels)
        // Spread rows across classes: round-robin over each class's first images.
        var picks: [Int] = []
        var perClass = folder.classes.indices.map { label in folder.samples.indices.filter { folder.samples[$0].label == label } }
        while picks.count < rows, perClass.contains(where: { !$0.isEmpty }) {
            for label in perClass.indices where picks.count < rows && !perClass[label].isEmpty {
                picks.append(perClass[label].removeFirst())
            }
        }
        let columns = variants + 1
        let gridWidth = columns * w + (columns + 1) * gap, gridHeight = picks.count * h + (picks.count + 1) * gap
        var grid = Image(width: gridWidth, height: gridHeight, channels: 3,
                         pixels: [UInt8](repeating: 255, count: gridWidth * gridHeight * 3))
        for (row, index) in picks.enumerated() {
            let sample = folder.samples[index]
            let base = FloatImage(try ImageDecoder.decode(sample.url, channels: c)
                .resized(width: w, height: h, options.interpolation))
            for column in 0..<columns {
                let tile = column == 0 ? base : augmentation.apply(
                    augmentation.transform(seed: options.seed, epoch: column - 1, index: index, height: h, width: w), to: base)
                let bytes = tile.bytes
                let top = gap + row * (h + gap), left = gap + column * (w + gap)
                for y in 0..<h {
                    for x in 0..<w {
                        for k in 0..<3 {
                            grid.pixels[((top + y) * gridWidth + left + x) * 3 + k] = bytes[y, x, c == 1 ? 0 : k]
                        }
                    }
                }
            }
        }
        return grid
    }
}
