import Testing
@testable import Lumen

@Suite struct ReduceTests {
    /// Rows of 37 on the last axis: the CPU row kernel's 16-lane loop and its tail.
    @Test(arguments: [0, 1, 2, 3], [KernelVariant.elementwise, .rows])
    func sumOverEachAxisMatchesHost(axis: Int, variant: KernelVariant) throws {
        let shape = [3, 7, 5, 37]
        let x = randomValues(shape.reduce(1, *), seed: UInt64(10 + axis))
        let y = try Reduce.sum(Tensor(on: testDevice, shape: shape, values: x), axis: axis, variant: variant)
        var expectedShape = shape
        expectedShape.remove(at: axis)
        #expect(y.shape == expectedShape)
        // Same summation order as the host loop: equal up to one rounding per term.
        let difference = maxRelativeDifference("sum axis \(axis) \(variant)", try y.toArray(),
                                               HostReference.sum(x, shape: shape, axis: axis))
        #expect(difference <= 1e-6)
    }

    @Test func badAxisIsRefused() throws {
        let x = try Tensor.zeros(on: testDevice, shape: [2, 2])
        #expect(throws: LumenError.self) { try Reduce.sum(x, axis: 2) }
    }
}

@Suite struct TransposeTests {
    @Test(arguments: [[1, 1], [17, 33], [300, 1], [4, 19, 23]])
    func transposeMatchesHost(shape: [Int]) throws {
        let x = randomValues(shape.reduce(1, *), seed: 20)
        let y = try Transpose.lastTwo(Tensor(on: testDevice, shape: shape, values: x))
        let rows = shape[shape.count - 2], cols = shape[shape.count - 1]
        #expect(y.shape == shape.dropLast(2) + [cols, rows])
        let expected = HostReference.transpose(x, batch: shape.dropLast(2).reduce(1, *), rows: rows, cols: cols)
        #expect(try y.toArray() == expected)
    }
}
