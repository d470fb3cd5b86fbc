import Foundation

/// One line of `lumen self-test --full`: an operation's kernels on one device, compared
/// with their plain-Swift twins in `HostReference` over several shapes.
public struct KernelCheck: Encodable, Sendable {
    /// The kernel family that ran (`cpu` or `gpu`, `KernelStyle`).
    public let family: String
    /// The operation and, where it is not obvious, its kernels.
    public let name: String
    /// How many shapes were compared.
    public private(set) var cases = 0
    /// The largest |device − host| / (|host| + floor) over every value compared.
    public private(set) var worst: Float = 0
    /// The largest difference that passes.
    public let tolerance: Float
    /// The first shape past the tolerance, or the error a launch threw; nil when passed.
    public private(set) var failure: String?
    public private(set) var passed = false

    init(family: KernelStyle, name: String, tolerance: Float) {
        self.family = family.rawValue
        self.name = name
        self.tolerance = tolerance
    }

    /// Compares one shape's device values, from `actual`, with the host's; an error
    /// `actual` throws fails the check.
    mutating func compare(_ place: @autoclosure () -> String, _ produce: () throws -> [Float], _ expected: [Float],
                          floor: Float = 1) {
        let actual: [Float]
        do {
            actual = try produce()
        } catch {
            fail("\(place()): \(error)")
            return
        }
        var largest: Float = actual.count == expected.count ? 0 : .infinity
        for (a, e) in zip(actual, expected) {
            let difference = abs(a - e) / (abs(e) + floor)
            if !(difference <= largest) { largest = difference.isNaN ? .infinity : difference }
        }
        cases += 1
        if !(largest <= worst) { worst = largest }
        if !(largest <= tolerance), failure == nil {
            failure = actual.count == expected.count ? "\(place()): off by \(largest)"
                : "\(place()): \(actual.count) values, expected \(expected.count)"
        }
    }

    /// Records a failure unless an earlier one is already recorded.
    mutating func fail(_ reason: String) {
        if failure == nil { failure = reason }
    }

    /// Settles the verdict once every shape is compared.
    mutating func finish() {
        passed = failure == nil && cases > 0
    }

    /// Runs `body`, which compares shapes; a thrown error fails the check with its text.
    static func run(_ name: String, on device: Device, tolerance: Float = 1e-5,
                    _ body: (inout KernelCheck) throws -> Void) -> KernelCheck {
        var check = KernelCheck(family: device.kernelStyle, name: name, tolerance: tolerance)
        do {
            try body(&check)
        } catch {
            check.fail("\(error)")
        }
        check.finish()
        return check
    }
}

/// Seeded values in [−1, 1) for the checks' inputs.
func checkValues(_ count: Int, seed: UInt64) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in generator.nextFloat(in: -1..<1) }
}
