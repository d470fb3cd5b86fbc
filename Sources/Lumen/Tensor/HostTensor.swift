/// A tensor's shape and values in host memory, row-major: what files store and what
/// optimizer state is restored from.
public struct HostTensor: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}
