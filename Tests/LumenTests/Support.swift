import Foundation
@testable import Lumen

/// The one device the whole test run shares, so each program compiles once.
/// `LUMEN_DEVICE` picks it, as for the CLI; CI leaves it unset and gets PoCL's CPU. The
/// tests, like the CLI, read the environment themselves and pass settings down.
let testDevice: Device = {
    let environment = ProcessInfo.processInfo.environment
    do {
        let options = DeviceOptions(cacheDirectory: DeviceOptions.cacheDirectory(environment: environment))
        return try Device.open(DeviceSelector.resolveFlag(nil, environment: environment), options: options)
    } catch {
        fatalError("tests need an OpenCL device: \(error)")
    }
}()

/// The test device opened again with the other kernel family forced: on PoCL, the
/// GPU-style kernels (one element per work-item, work-groups, the local-memory GEMM tile),
/// as `LUMEN_KERNELS=gpu` runs them.
let otherStyleDevice: Device = {
    var options = testDevice.options
    options.kernelStyle = testDevice.kernelStyle == .cpu ? .gpu : .cpu
    do {
        return try Device.open(testDevice.info, options: options)
    } catch {
        fatalError("tests need the test device a second time: \(error)")
    }
}()

/// The test device running `style`'s kernels.
func device(for style: KernelStyle) -> Device { style == testDevice.kernelStyle ? testDevice : otherStyleDevice }

/// Seeded values in [-1, 1): the same numbers the self-test's checks use.
func randomValues(_ count: Int, seed: UInt64) -> [Float] { checkValues(count, seed: seed) }

/// The largest |a - b| / (|b| + floor) over two arrays, printed with its label.
@discardableResult
func maxRelativeDifference(_ label: String, _ actual: [Float], _ expected: [Float], floor: Float = 1) -> Float {
    precondition(actual.count == expected.count, "\(label): \(actual.count) vs \(expected.count) values")
    var worst: Float = 0
    for (a, e) in zip(actual, expected) {
        let difference = abs(a - e) / (abs(e) + floor)
        if !(difference <= worst) { worst = difference.isNaN ? .infinity : difference }
    }
    print("\(label): maxdiff \(worst)")
    return worst
}

/// A model spec read from YAML text, as `--model FILE.yaml` reads it.
func modelSpec(yaml: String) throws -> ModelSpec {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lumen-spec-\(UUID().uuidString).yaml")
    try yaml.write(to: url, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: url) }
    return try ConfigFile.decode(ModelSpec.self, from: url)
}

/// A temporary folder removed when the test ends.
final class TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lumen-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}
