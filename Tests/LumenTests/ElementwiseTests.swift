import Testing
@testable import Lumen

@Suite struct ElementwiseTests {
    // 1000 is not a multiple of any work-group size, so the bounds checks are exercised.
    let shape = [2, 5, 10, 10]

    @Test func fillSetsEveryElement() throws {
        let x = try Tensor(on: testDevice, shape: shape, values: randomValues(1000, seed: 1))
        try Elementwise.fill(x, with: -2.5)
        #expect(try x.toArray() == [Float](repeating: -2.5, count: 1000))
    }

    @Test func addMatchesHost() throws {
        let a = randomValues(1000, seed: 2), b = randomValues(1000, seed: 3)
        let y = try Elementwise.add(Tensor(on: testDevice, shape: shape, values: a),
                                    Tensor(on: testDevice, shape: shape, values: b))
        // Float addition is exact IEEE on every device: the result must be identical.
        #expect(maxRelativeDifference("add", try y.toArray(), zip(a, b).map(+)) == 0)
    }

    @Test func scaleMatchesHost() throws {
        let x = randomValues(1000, seed: 4)
        let y = try Elementwise.scale(Tensor(on: testDevice, shape: shape, values: x), by: 3.25)
        #expect(maxRelativeDifference("scale", try y.toArray(), x.map { $0 * 3.25 }) == 0)
    }

    @Test func axpyAccumulatesInPlace() throws {
        let x = randomValues(1000, seed: 5), y0 = randomValues(1000, seed: 6)
        let y = try Tensor(on: testDevice, shape: shape, values: y0)
        try Elementwise.axpy(-0.75, Tensor(on: testDevice, shape: shape, values: x), y)
        let expected = zip(x, y0).map { x, y in y + -0.75 * x }
        // The kernel uses fma, the host does not: one rounding apart at most.
        #expect(maxRelativeDifference("axpy", try y.toArray(), expected) <= 1e-6)
    }

    @Test func mismatchedShapesAreRefused() throws {
        let a = try Tensor.zeros(on: testDevice, shape: [3])
        let b = try Tensor.zeros(on: testDevice, shape: [4])
        #expect(throws: LumenError.self) { try Elementwise.add(a, b) }
    }
}
