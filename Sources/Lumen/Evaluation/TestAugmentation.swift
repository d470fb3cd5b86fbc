import Foundation

/// How `evaluate` and `predict` perturb test images with ImageDataGenerator's settings:
/// once per image (the tutorials' robustness check on a damaged copy of the test set), or
/// test-time augmentation, averaging the probabilities of the original and `draws`
/// augmented versions. Each draw depends only on (seed, draw, image index): repeatable.
public struct TestAugmentation: Equatable, Encodable, Sendable {
    public var augmentation: Augmentation
    public var seed: UInt64
    /// 0: each image once, augmented. N > 0: the original and N augmented draws, averaged.
    public var draws: Int

    public init(augmentation: Augmentation, seed: UInt64 = 0, draws: Int = 0) {
        self.augmentation = augmentation
        self.seed = seed
        self.draws = draws
    }

    /// The passes over the images: nil for the original, else the draw number that keys
    /// the augmentation (1, 2, …).
    var passes: [Int?] { draws == 0 ? [1] : [nil] + (1...draws).map { $0 } }

    /// One line saying what was done, with the settings in Keras' names.
    public var summary: String {
        // The settings that differ from ImageDataGenerator's defaults, in Keras' names.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func fields(_ a: Augmentation) -> [String: String] {
            guard let data = try? encoder.encode(a), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
            return object.mapValues { value in
                (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]))
                    .map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
            }
        }
        let defaults = fields(Augmentation())
        let settings = fields(augmentation).filter { defaults[$0.key] != $0.value }.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        let what = draws == 0 ? "augmented test images" : "test-time augmentation, the original and \(draws) draws averaged"
        return "\(what) (seed \(seed)): \(settings)"
    }

    /// The element-wise mean of the passes' outputs (each the same length).
    static func average<Value: BinaryFloatingPoint>(_ passes: [[Value]]) -> [Value] {
        guard let first = passes.first else { return [] }
        return first.indices.map { i in passes.map { $0[i] }.reduce(0, +) / Value(passes.count) }
    }
}
