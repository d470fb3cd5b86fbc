import Foundation
import Testing
@testable import Lumen

/// A PyTorch parity fixture written by Scripts/make-torch-fixtures.py.
struct TorchFixture {
    let name: String
    let tensors: [String: SafeTensors.Entry]
    let config: [String: Any]

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/torch", isDirectory: true)

    init(_ name: String) throws {
        self.name = name
        let file = try SafeTensors(contentsOf: TorchFixture.folder.appendingPathComponent(name + ".safetensors"))
        tensors = file.tensors
        config = (try JSONSerialization.jsonObject(with: Data((file.metadata["config"] ?? "{}").utf8))) as? [String: Any] ?? [:]
    }

    subscript(key: String) -> SafeTensors.Entry {
        guard let entry = tensors[key] else { fatalError("\(name) has no tensor \(key)") }
        return entry
    }

    func tensor(_ key: String, on device: Device = testDevice) throws -> Tensor {
        try Tensor(on: device, shape: self[key].shape, values: self[key].values)
    }

    func int(_ key: String) -> Int { (config[key] as? NSNumber)?.intValue ?? 0 }
    func float(_ key: String) -> Float { (config[key] as? NSNumber)?.floatValue ?? 0 }
    func bool(_ key: String) -> Bool { (config[key] as? Bool) ?? ((config[key] as? NSNumber)?.boolValue ?? false) }
    func string(_ key: String) -> String { config[key] as? String ?? "" }

    /// Fixture names starting with `prefix`. A missing folder or no matching file gives
    /// one name that does not exist, so the test that asked fails loading it instead of
    /// running zero cases.
    static func names(_ prefix: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let names = files.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".safetensors") }
            .map { String($0.dropLast(".safetensors".count)) }.sorted()
        return names.isEmpty ? ["\(prefix)MISSING (run Scripts/make-torch-fixtures.py)"] : names
    }
}

/// Keras' NHWC inputs as Lumen's NCHW.
func channelsFirstTensor(_ entry: SafeTensors.Entry) throws -> Tensor {
    let (n, h, w, c) = (entry.shape[0], entry.shape[1], entry.shape[2], entry.shape[3])
    var values = [Float](repeating: 0, count: entry.values.count)
    for b in 0..<n { for y in 0..<h { for x in 0..<w { for k in 0..<c {
        values[((b * c + k) * h + y) * w + x] = entry.values[((b * h + y) * w + x) * c + k]
    } } } }
    return try Tensor(on: testDevice, shape: [n, c, h, w], values: values)
}

/// max |actual − expected| / (max expected − min expected): the difference relative to
/// the spread of the expected values (logits, probabilities), so outputs that barely vary
/// cannot hide a difference.
func spreadDifference(_ actual: [Float], _ expected: [Float]) -> Float {
    guard actual.count == expected.count, let low = expected.min(), let high = expected.max() else { return .infinity }
    let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
    return worst.isNaN ? .infinity : worst / max(high - low, 1e-12)
}

/// max |actual − expected| / max |expected|: the difference relative to the tensor's scale.
func scaledDifference(_ actual: [Float], _ expected: [Float]) -> Float {
    guard actual.count == expected.count else { return .infinity }
    let scale = max(expected.map { abs($0) }.max() ?? 0, 1e-6)
    var worst: Float = 0
    for (a, e) in zip(actual, expected) {
        let d = abs(a - e)
        if !(d <= worst) { worst = d.isNaN ? .infinity : d }
    }
    return worst / scale
}

/// Expects `actual` to match the fixture tensor `key` within 1e-4 of its scale, and
/// prints the difference seen.
func expectMatches(_ actual: Tensor?, _ fixture: TorchFixture, _ key: String, tolerance: Float = 1e-4,
                   sourceLocation: SourceLocation = #_sourceLocation) throws {
    guard let actual else {
        Issue.record("\(fixture.name): no tensor for \(key)", sourceLocation: sourceLocation)
        return
    }
    let expected = fixture[key]
    #expect(actual.count == expected.values.count, "\(fixture.name) \(key): shape \(actual.shape) vs \(expected.shape)",
            sourceLocation: sourceLocation)
    let difference = scaledDifference(try actual.toArray(), expected.values)
    print("\(fixture.name) \(key): maxdiff \(difference) of scale")
    #expect(difference <= tolerance, "\(fixture.name) \(key): \(difference)", sourceLocation: sourceLocation)
}
