import CLShim
import Foundation
import Testing
@testable import Lumen

/// One GEMM case: shape, transposes, and whether operands start at an offset inside a
/// larger buffer with padded rows.
struct GemmCase: CustomTestStringConvertible, Sendable {
    let m: Int, n: Int, k: Int
    let transposeA: Bool, transposeB: Bool
    let padded: Bool

    var testDescription: String {
        "\(m)x\(n)x\(k) \(transposeA ? "T" : "N")\(transposeB ? "T" : "N")\(padded ? " offset" : "")"
    }

    static let all: [GemmCase] = {
        var cases: [GemmCase] = []
        // Small m with wide n or long k: a Dense layer on one process's share of a batch.
        for (m, n, k) in [(1, 1, 1), (17, 33, 65), (300, 1, 7), (13, 70, 9), (4, 129, 700), (130, 700, 4), (4, 700, 129), (2, 40, 33)] {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    for padded in [false, true] {
                        cases.append(GemmCase(m: m, n: n, k: k, transposeA: transposeA,
                                              transposeB: transposeB, padded: padded))
                    }
                }
            }
        }
        return cases
    }()
}

@Suite struct GemmTests {
    @Test(arguments: GemmCase.all)
    func sgemmMatchesHost(_ test: GemmCase) throws {
        let (m, n, k) = (test.m, test.n, test.k)
        // Stored shapes of A and B as row-major matrices.
        let aRows = test.transposeA ? k : m, aCols = test.transposeA ? m : k
        let bRows = test.transposeB ? n : k, bCols = test.transposeB ? k : n
        let pad = test.padded ? 3 : 0
        let lda = aCols + pad, ldb = bCols + pad, ldc = n + pad
        let aOffset = test.padded ? 5 : 0, bOffset = test.padded ? 7 : 0, cOffset = test.padded ? 11 : 0
        let a = randomValues(aOffset + aRows * lda, seed: 100)
        let b = randomValues(bOffset + bRows * ldb, seed: 200)
        var expected = randomValues(cOffset + m * ldc, seed: 300)
        let alpha: Float = 0.5, beta: Float = test.padded ? 2 : 0

        let c = try Tensor(on: testDevice, shape: [expected.count], values: expected)
        try Gemm.multiply(
            transposeA: test.transposeA, transposeB: test.transposeB, m: m, n: n, k: k, alpha: alpha,
            MatrixOperand(try Tensor(on: testDevice, shape: [a.count], values: a), offset: aOffset, leadingDimension: lda),
            MatrixOperand(try Tensor(on: testDevice, shape: [b.count], values: b), offset: bOffset, leadingDimension: ldb),
            beta: beta, into: MatrixOperand(c, offset: cOffset, leadingDimension: ldc))
        HostReference.gemm(transposeA: test.transposeA, transposeB: test.transposeB, m: m, n: n, k: k,
                           alpha: alpha, a: a, aOffset: aOffset, lda: lda, b: b, bOffset: bOffset, ldb: ldb,
                           beta: beta, c: &expected, cOffset: cOffset, ldc: ldc)
        // Entries outside the m x n window (offset, row padding) must be left untouched,
        // so the whole buffer is compared.
        let difference = maxRelativeDifference("sgemm \(test.testDescription)", try c.toArray(), expected,
                                               floor: Float(k))
        #expect(difference <= 1e-6)
    }

    @Test func sgemmWithCallerTemporaryBufferMatchesHost() throws {
        // Large enough for CLBlast's indirect path, which is the one that uses scratch.
        let (m, n, k) = (96, 130, 70)
        let a = randomValues(m * k, seed: 1), b = randomValues(n * k, seed: 2)
        let at = try Tensor(on: testDevice, shape: [m, k], values: a)
        let bt = try Tensor(on: testDevice, shape: [n, k], values: b)
        let c = try Tensor(uninitializedOn: testDevice, shape: [m, n])
        let floats = try Gemm.temporaryFloats(transposeB: true, m: m, n: n, k: k,
                                              MatrixOperand(at), MatrixOperand(bt), into: MatrixOperand(c))
        let temp = try Tensor(uninitializedOn: testDevice, shape: [max(floats, 1)])
        try Gemm.multiply(transposeB: true, m: m, n: n, k: k, MatrixOperand(at), MatrixOperand(bt),
                          into: MatrixOperand(c), temp: temp)
        var expected = [Float](repeating: 0, count: m * n)
        HostReference.gemm(transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: 1, a: a, aOffset: 0,
                           lda: k, b: b, bOffset: 0, ldb: k, beta: 0, c: &expected, cOffset: 0, ldc: n)
        #expect(maxRelativeDifference("sgemm temp", try c.toArray(), expected, floor: Float(k)) <= 1e-6)
    }

    @Test(arguments: [false, true])
    func stridedBatchedMatchesHost(transposeA: Bool) throws {
        let (m, n, k, batch) = (17, 33, 65, 3)
        let strideA = m * k + 4, strideB = k * n + 2, strideC = m * n + 1, offset = 3
        let a = randomValues(offset + batch * strideA, seed: 7)
        let b = randomValues(offset + batch * strideB, seed: 8)
        var expected = randomValues(offset + batch * strideC, seed: 9)
        let c = try Tensor(on: testDevice, shape: [expected.count], values: expected)
        try Gemm.multiplyBatched(
            transposeA: transposeA, m: m, n: n, k: k,
            MatrixOperand(try Tensor(on: testDevice, shape: [a.count], values: a), offset: offset), strideA: strideA,
            MatrixOperand(try Tensor(on: testDevice, shape: [b.count], values: b), offset: offset), strideB: strideB,
            into: MatrixOperand(c, offset: offset), strideC: strideC, batch: batch)
        for i in 0..<batch {
            HostReference.gemm(transposeA: transposeA, transposeB: false, m: m, n: n, k: k, alpha: 1,
                               a: a, aOffset: offset + i * strideA, lda: transposeA ? m : k,
                               b: b, bOffset: offset + i * strideB, ldb: n, beta: 0,
                               c: &expected, cOffset: offset + i * strideC, ldc: n)
        }
        #expect(maxRelativeDifference("batched sgemm", try c.toArray(), expected, floor: Float(k)) <= 1e-6)
    }

    @Test func matmulOfTensors() throws {
        let a = randomValues(6 * 4, seed: 11), b = randomValues(4 * 5, seed: 12)
        let c = try Gemm.matmul(Tensor(on: testDevice, shape: [6, 4], values: a),
                                Tensor(on: testDevice, shape: [4, 5], values: b))
        #expect(c.shape == [6, 5])
        var expected = [Float](repeating: 0, count: 30)
        HostReference.gemm(transposeA: false, transposeB: false, m: 6, n: 5, k: 4, alpha: 1, a: a, aOffset: 0,
                           lda: 4, b: b, bOffset: 0, ldb: 5, beta: 0, c: &expected, cOffset: 0, ldc: 5)
        #expect(maxRelativeDifference("matmul", try c.toArray(), expected, floor: 4) <= 1e-6)
        #expect(throws: LumenError.self) { try Gemm.matmul(c, c) }
    }

    @Test func selfCheckPassesOnTheTestDevice() throws {
        for backend in GemmBackend.allCases where backend != .lumen(.dot4x4) {
            let error = try GemmSelfCheck.worstError(on: testDevice, backend: backend)
            #expect(error <= 1e-4, "\(backend.name) self-check on \(testDevice.info.name): max error \(error)")
        }
    }

    /// With CLBlast failing its check (forced), a device still trains: Lumen's own GEMM
    /// serves every call, and no CLBlast kernel runs after the check.
    /// The choices made without CLBlast are remembered too (apart from those made with it),
    /// so a later process computes each shape the same way.
    @Test func aFailingCLBlastFallsBackToLumensGemm() throws {
        let folder = try TemporaryFolder()
        let cache = folder.url.appendingPathComponent("cache")
        let check = try LumenProcess.run(["self-test", "--device", "cpu"], environment: ["LUMEN_FAIL_CLBLAST_CHECK": "1"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("Lumen's own GEMM matches the host product"), "\(check.stdout)")
        let bench = try LumenProcess.run(["bench-train", "--device", "cpu", "--model", "fashion-cnn", "--batch-size", "4",
                                          "--steps", "2", "--classes", "10"],
                                         environment: ["LUMEN_FAIL_CLBLAST_CHECK": "1", "LUMEN_PROFILE": "1",
                                                       "LUMEN_CACHE_DIR": cache.path])
        #expect(bench.status == 0, "\(bench.stderr)")
        #expect(bench.stderr.contains("CLBlast computed a wrong SGEMM"), "\(bench.stderr)")
        let profile = bench.stdout + bench.stderr
        #expect(profile.contains("gemm_tile") && !profile.contains("clblast/"), "\(profile)")
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.path).filter { $0.hasPrefix("gemm-choices-") && $0.hasSuffix(".json") }
        #expect(files.count == 1)
        let stored = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: cache.appendingPathComponent(files.first ?? "")))
        #expect(!stored.isEmpty && stored.keys.allSatisfy { $0.hasPrefix("without-clblast ") }, "\(stored)")
        #expect(!stored.values.contains("clblast"))
    }

    /// Two processes sharing the cache folder: one's entries survive the other's writes,
    /// and a shape timed by both keeps the first choice stored, which both then use.
    @Test func rememberedChoicesMergeAcrossProcesses() throws {
        struct Named: PlannedShape { let text: String }
        let planner = GemmPlanner.of(testDevice)
        let url = planner.choicesFileURL()
        let tag = UUID().uuidString
        _ = planner.storedChoice(for: Named(text: "probe \(tag)"))  // this process has read the file
        // Another process stores two entries after that read.
        try AtomicFile.update(url) { data -> (data: Data, result: Void) in
            var stored = data.flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
            stored["other \(tag)"] = "summed"
            stored["shared \(tag)"] = "per-sample"
            return (try JSONEncoder().encode(stored), ())
        }
        #expect(planner.remember("summed", as: "mine \(tag)") == "summed")
        #expect(planner.remember("summed", as: "shared \(tag)") == "per-sample")
        #expect(planner.storedChoice(for: Named(text: "shared \(tag)")) == "per-sample")
        let stored = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: url))
        #expect(stored["other \(tag)"] == "summed" && stored["mine \(tag)"] == "summed" && stored["shared \(tag)"] == "per-sample")
    }

    /// A forced Lumen GEMM leaves CLBlast unbuilt: only that kernel is checked (what a GPU
    /// simulator run needs, CLBlast taking minutes there), and no CLBlast kernel runs.
    @Test func aForcedLumenGemmLeavesCLBlastUnbuilt() throws {
        let check = try LumenProcess.run(["self-test", "--device", "cpu"], environment: ["LUMEN_GEMM": "lumen-4x64"])
        #expect(check.status == 0 && check.stdout.contains("LUMEN_GEMM=lumen-4x64 matches the host product; CLBlast not built"),
                "\(check.stdout)\(check.stderr)")
        let bench = try LumenProcess.run(["bench-train", "--device", "cpu", "--model", "fashion-cnn", "--batch-size", "2",
                                          "--steps", "1", "--classes", "3"],
                                         environment: ["LUMEN_GEMM": "lumen-4x64", "LUMEN_PROFILE": "1"])
        #expect(bench.status == 0, "\(bench.stderr)")
        let profile = bench.stdout + bench.stderr
        #expect(profile.contains("gemm_tile") && !profile.contains("clblast/"), "\(profile)")
    }

    /// `LUMEN_GEMM` takes only the values it lists; anything else stops the run in one line.
    @Test func anInvalidGemmSettingListsTheValidOnes() throws {
        #expect(try GemmBackend.forced(by: nil) == nil && GemmBackend.forced(by: "AUTO") == nil)
        #expect(try GemmBackend.forced(by: "lumen") == .lumen(.rows8cols32) && GemmBackend.forced(by: "lumen-local32") == .lumen(.local32))
        #expect(throws: LumenError.self) { try GemmBackend.forced(by: "lumen-8x23") }
        let run = try LumenProcess.run(["bench-train", "--device", "cpu", "--model", "fashion-cnn", "--batch-size", "2",
                                        "--steps", "1", "--classes", "3"], environment: ["LUMEN_GEMM": "fastest"])
        #expect(run.status != 0)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1 && run.stderr.contains("LUMEN_GEMM=fastest") && run.stderr.contains("lumen-4x64"), "\(run.stderr)")
    }

    /// With `profilesShapes`, a launch is profiled under its kernel's name with its integer
    /// arguments and global size: a 5 × 7 × 3 product on the 8×32 tile is
    /// `gemm_tile(a_off, lda, a_stride, trans_a, b_off, ldb, b_stride, c_off, ldc, c_stride,
    /// m, n, n_block, k, sum_over, epilogue)` over one work-item. `LUMEN_PROFILE` takes 0, 1
    /// or shapes; anything else stops the run in one line.
    @Test func aShapesProfileNamesEachLaunchsArguments() throws {
        let folder = try TemporaryFolder()
        var options = DeviceOptions(cacheDirectory: folder.url)
        (options.profiling, options.profilesShapes) = (true, true)
        let device = try Device.open(testDevice.info, options: options)
        let a = try Tensor(on: device, shape: [5, 3], values: randomValues(15, seed: 5))
        let b = try Tensor(on: device, shape: [3, 7], values: randomValues(21, seed: 6))
        let c = try Tensor(uninitializedOn: device, shape: [5, 7])
        // The same shape three times, another (4 rows) once between: two rows of the profile.
        for rows in [5, 4, 5, 5] {
            try GemmKernels.multiply(tile: .rows8cols32, transposeA: false, transposeB: false, m: rows, n: 7, k: 3, alpha: 1,
                                     MatrixOperand(a), strideA: 0, MatrixOperand(b), strideB: 0, beta: 0, into: MatrixOperand(c),
                                     strideC: 0, batch: 1)
        }
        let profile = device.takeProfile()
        let names = profile.map(\.name)
        #expect(profile.filter { $0.name.hasSuffix("/gemm_tile(0,3,0,0,0,7,0,0,7,0,5,7,7,3,1,0) over 1x1x1") }.map(\.calls) == [3],
                "\(profile)")
        #expect(profile.filter { $0.name.hasSuffix("/gemm_tile(0,3,0,0,0,7,0,0,7,0,4,7,7,3,1,0) over 1x1x1") }.map(\.calls) == [1],
                "\(profile)")
        #expect(Set(names).count == names.count, "\(names)")
        let run = try LumenProcess.run(["devices"], environment: ["LUMEN_PROFILE": "kernels"])
        #expect(run.status != 0)
        #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains("LUMEN_PROFILE=kernels")
                && run.stderr.contains("shapes"), "\(run.stderr)")
    }

    /// A shapes profile keeps LM_PROFILE_NAMES names. Once all but the last are taken, the
    /// last becomes a row of its own, named as such, for every launch of a name not yet
    /// seen, so no shape's row counts another's launches (the last shape's row took them
    /// all before, which made a long run's profile wrong about one kernel).
    @Test func aFullShapesProfileCountsFurtherLaunchesApart() throws {
        let folder = try TemporaryFolder()
        var options = DeviceOptions(cacheDirectory: folder.url)
        (options.profiling, options.profilesShapes) = (true, true)
        let device = try Device.open(testDevice.info, options: options)
        let x = try Tensor(on: device, shape: [1], values: [0])
        let names = Int(LM_PROFILE_NAMES), further = 5
        // add(n = 1, epilogue = e) over one work-item for e = 1, 2, …: names − 1 + further
        // names, then e = 1 again (only the epilogue's bits 2 and 4 mean anything).
        for e in Array(1...(names - 1 + further)) + [1] {
            try device.launch("elementwise", "add", global: [1], [.tensor(x), .tensor(x), .tensor(x), .size(1), .int(Int32(e))])
        }
        let profile = device.takeProfile()
        let overflow = profile.filter { $0.name.hasPrefix(LM_PROFILE_OVERFLOW) }
        #expect(profile.count == names)
        #expect(overflow.map(\.calls) == [further], "\(overflow)")
        #expect(overflow.first?.name.hasSuffix(" \(names - 1) names)") == true, "\(overflow)")
        #expect(profile.filter { $0.name.hasSuffix("/add(1,1) over 1") }.map(\.calls) == [2])
        #expect(profile.filter { !$0.name.hasPrefix(LM_PROFILE_OVERFLOW) && !$0.name.hasSuffix("/add(1,1) over 1") }
            .allSatisfy { $0.calls == 1 })
    }

    /// Which of Lumen's kernels may serve a device, the fallback when CLBlast fails.
    @Test func lumenTilesSuitTheirKindOfDevice() {
        let cpu = GemmKernels.Tile.allCases.filter { $0.suits(cpu: true, workGroupLimit: 4096) }
        #expect(cpu == [.rows8cols32, .rows4cols64, .rows4cols64Panels, .rows8cols32Panels, .rows8cols32ColumnsFirst,
                        .rows4cols64ColumnsFirst, .rows4cols64PanelsColumnsFirst, .rows8cols32PanelsColumnsFirst, .dot4x4])
        #expect(GemmKernels.Tile.allCases.filter { $0.suits(cpu: false, workGroupLimit: 256) } == [.local32])
        #expect(GemmKernels.Tile.allCases.filter { $0.suits(cpu: false, workGroupLimit: 32) }.isEmpty)
        #expect(LumenError.noGemmForDevice(device: "gpu", reason: "r").description.split(separator: "\n").count == 1)
    }

    /// Lumen's own kernel, every tile on every case, single and strided-batched, against the host.
    @Test(arguments: GemmCase.all, GemmKernels.Tile.allCases)
    func lumenGemmMatchesHost(_ test: GemmCase, _ tile: GemmKernels.Tile) throws {
        let (m, n, k) = (test.m, test.n, test.k)
        let aRows = test.transposeA ? k : m, aCols = test.transposeA ? m : k
        let bRows = test.transposeB ? n : k, bCols = test.transposeB ? k : n
        let pad = test.padded ? 3 : 0
        let lda = aCols + pad, ldb = bCols + pad, ldc = n + pad
        let offset = test.padded ? 5 : 0, batch = 3
        let strideA = aRows * lda + 2, strideB = bRows * ldb + 1, strideC = m * ldc + 4
        let a = randomValues(offset + batch * strideA, seed: 400), b = randomValues(offset + batch * strideB, seed: 500)
        var expected = randomValues(offset + batch * strideC, seed: 600)
        let beta: Float = test.padded ? 0.5 : 0
        let c = try Tensor(on: testDevice, shape: [expected.count], values: expected)
        guard tile.supports(transposeA: test.transposeA, transposeB: test.transposeB) else {
            #expect(throws: LumenError.self) {
                try GemmKernels.multiply(tile: tile, transposeA: test.transposeA, transposeB: test.transposeB, m: m, n: n, k: k,
                                       alpha: 1, MatrixOperand(c), strideA: 0, MatrixOperand(c), strideB: 0, beta: 0,
                                       into: MatrixOperand(c), strideC: 0, batch: 1)
            }
            return
        }
        try GemmKernels.multiply(tile: tile, transposeA: test.transposeA, transposeB: test.transposeB, m: m, n: n, k: k, alpha: 1.5,
                               MatrixOperand(try Tensor(on: testDevice, shape: [a.count], values: a), offset: offset, leadingDimension: lda),
                               strideA: strideA,
                               MatrixOperand(try Tensor(on: testDevice, shape: [b.count], values: b), offset: offset, leadingDimension: ldb),
                               strideB: strideB, beta: beta, into: MatrixOperand(c, offset: offset, leadingDimension: ldc),
                               strideC: strideC, batch: batch)
        for z in 0..<batch {
            HostReference.gemm(transposeA: test.transposeA, transposeB: test.transposeB, m: m, n: n, k: k, alpha: 1.5,
                               a: a, aOffset: offset + z * strideA, lda: lda, b: b, bOffset: offset + z * strideB, ldb: ldb,
                               beta: beta, c: &expected, cOffset: offset + z * strideC, ldc: ldc)
        }
        #expect(maxRelativeDifference("lumen sgemm \(tile.rawValue) \(test.testDescription)", try c.toArray(), expected,
                                      floor: Float(k)) <= 1e-6)
    }

    /// A sum over operand sets plus a row bias and an activation applied as C is stored (a
    /// convolution's weight gradient and forward), on every backend, against the host:
    /// C_z = α Σ_s A_zs B_zsᵀ + bias + β C_z, then max(·, 0) with ReLU, clamped to [0, 6] with ReLU6.
    @Test(arguments: GemmBackend.allCases, [ActivationKind.linear, .relu, .relu6])
    func summedGemmWithRowBiasMatchesHost(_ backend: GemmBackend, activation: ActivationKind) throws {
        let (m, n, k, batch, sumOver) = (19, 37, 23, 2, 3)
        let sets = batch * sumOver
        let a = randomValues(sets * m * k, seed: 700), b = randomValues(sets * n * k, seed: 800)
        let bias = randomValues(m, seed: 900).map { $0 * 8 }   // results on both sides of 0 and 6
        var expected = randomValues(batch * m * n, seed: 1000)
        let c = try Tensor(on: testDevice, shape: [batch, m, n], values: expected)
        let call = Gemm.Call(transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: 0.5,
                             a: MatrixOperand(try Tensor(on: testDevice, shape: [a.count], values: a)), strideA: m * k,
                             b: MatrixOperand(try Tensor(on: testDevice, shape: [b.count], values: b)), strideB: n * k,
                             c: MatrixOperand(c), strideC: m * n, batch: batch, sumOver: sumOver,
                             rowBias: try Tensor(on: testDevice, shape: [m], values: bias), activation: activation)
        try call.run(on: backend, beta: 2)
        for z in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var total: Double = 0
                    for s in 0..<sumOver {
                        let set = z * sumOver + s
                        for p in 0..<k { total += Double(a[set * m * k + i * k + p]) * Double(b[set * n * k + j * k + p]) }
                    }
                    let index = z * m * n + i * n + j
                    let value = Float(0.5 * total + Double(bias[i]) + 2 * Double(expected[index]))
                    expected[index] = activation == .linear ? value : min(max(value, 0), activation == .relu6 ? 6 : .infinity)
                }
            }
        }
        #expect(maxRelativeDifference("summed gemm \(backend.name) \(activation.rawValue)", try c.toArray(), expected,
                                      floor: Float(k)) <= 1e-6)
    }

    /// One A shared across a batch (a convolution's weight over its images), every tile,
    /// against the host: the panel tiles run it as one GEMM over the images' columns side by
    /// side, so tiles and 16-column vectors straddle two images' outputs (n = 21 and 37, and
    /// 1 and 2 as from 1-pixel and 2-pixel maps over 40 and 20 images, where every vector
    /// does; C's rows padded, A and B stored either way), with β, a row bias and ReLU.
    @Test(arguments: GemmKernels.Tile.allCases, [(1, true, false), (2, false, true), (21, true, false), (37, false, true)])
    func sharedAAcrossABatchMatchesHost(_ tile: GemmKernels.Tile, _ layout: (n: Int, transposeA: Bool, transposeB: Bool)) throws {
        // Enough images for at least one whole 32-column tile however narrow they are.
        let (m, n, k, batch) = (11, layout.n, 19, max(4, 40 / layout.n))
        let (transposeA, transposeB) = (layout.transposeA, layout.transposeB)
        guard tile.supports(transposeA: transposeA, transposeB: transposeB) else { return }
        let ldb = (transposeB ? k : n) + 2, ldc = n + 3
        let strideB = (transposeB ? n : k) * ldb + 5, strideC = m * ldc + 7
        let a = randomValues(k * m, seed: 1100), b = randomValues(batch * strideB, seed: 1200)
        let bias = randomValues(m, seed: 1300).map { $0 * 8 }   // results on both sides of 0
        var expected = randomValues(batch * strideC, seed: 1400)
        let c = try Tensor(on: testDevice, shape: [expected.count], values: expected)
        try GemmKernels.multiply(tile: tile, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                                 MatrixOperand(try Tensor(on: testDevice, shape: [a.count], values: a)), strideA: 0,
                                 MatrixOperand(try Tensor(on: testDevice, shape: [b.count], values: b), leadingDimension: ldb),
                                 strideB: strideB, beta: 2, into: MatrixOperand(c, leadingDimension: ldc), strideC: strideC,
                                 batch: batch, rowBias: try Tensor(on: testDevice, shape: [m], values: bias), activation: .relu)
        for z in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var total: Double = 0
                    for p in 0..<k {
                        let aValue = transposeA ? a[p * m + i] : a[i * k + p]
                        let bValue = transposeB ? b[z * strideB + j * ldb + p] : b[z * strideB + p * ldb + j]
                        total += Double(aValue) * Double(bValue)
                    }
                    let index = z * strideC + i * ldc + j
                    expected[index] = max(Float(0.5 * total + Double(bias[i]) + 2 * Double(expected[index])), 0)
                }
            }
        }
        #expect(maxRelativeDifference("shared-A gemm \(tile.rawValue) n \(n)", try c.toArray(), expected, floor: Float(k)) <= 1e-6)
    }

    @Test func lumenGemmRefusesOperandsOutsideTheirBuffers() throws {
        let small = try Tensor.zeros(on: testDevice, shape: [4])
        let c = try Tensor.zeros(on: testDevice, shape: [100])
        #expect(throws: LumenError.self) {
            try GemmKernels.multiply(transposeA: false, transposeB: false, m: 10, n: 10, k: 10, alpha: 1, MatrixOperand(small),
                                   strideA: 0, MatrixOperand(c), strideB: 0, beta: 0, into: MatrixOperand(c), strideC: 0, batch: 1)
        }
    }

    @Test func tooSmallBufferIsANamedCLBlastError() throws {
        let a = try Tensor.zeros(on: testDevice, shape: [4])
        let c = try Tensor.zeros(on: testDevice, shape: [100])
        do {
            try Gemm.multiply(m: 10, n: 10, k: 10, MatrixOperand(a), MatrixOperand(c), into: MatrixOperand(c))
            Issue.record("a 4-float A for a 10x10x10 GEMM was accepted")
        } catch let error as CLError {
            #expect(error.name == "CLBlastInsufficientMemoryA")
        }
    }
}

/// Tuned CLBlast parameters: reading CLBlast's tuner files, and `lumen tune-clblast
/// --import` checking and keeping them so later runs hand them to CLBlast.
@Suite struct ClblastTuningTests {
    /// The fields Lumen reads from a CLBlast tuner result (clblast_xgemm_1_32.json), with
    /// the parameters the tuner found on this machine's PoCL device.
    static let tunerResult = """
        {"kernel_family": "xgemm_1", "precision": "32", "best_kernel": "Xgemm", "best_time": "0.43",
         "best_parameters": "GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=8 MDIMC=8 MWG=64 NDIMB=8 NDIMC=8 NWG=64 PRECISION=32 SA=0 SB=0 STRM=0 STRN=0 VWM=4 VWN=2"}
        """

    @Test func tunerResultIsParsedWithoutPrecision() throws {
        let best = try ClblastTuning.parseTunerResult(Data(ClblastTuningTests.tunerResult.utf8), file: "x.json")
        #expect(best.kernel == "Xgemm")
        #expect(best.parameters.count == 16 && best.parameters["PRECISION"] == nil)
        #expect(best.parameters["MWG"] == 64 && best.parameters["VWN"] == 2 && best.parameters["GEMMK"] == 0)
        let direct = try ClblastTuning.parseTunerResult(Data("""
            {"kernel_family": "xgemm_direct_1", "best_kernel": "XgemmDirectTN", "best_parameters": "KWID=2 WGD=32 PRECISION=32"}
            """.utf8), file: "d.json")
        #expect(direct.kernel == "XgemmDirect" && direct.parameters == ["KWID": 2, "WGD": 32])
        #expect(throws: DataError.self) { try ClblastTuning.parseTunerResult(Data("{\"best_kernel\": \"Xgemm\"}".utf8), file: "y.json") }
        #expect(throws: DataError.self) {
            try ClblastTuning.parseTunerResult(Data("{\"kernel_family\": \"xgemm_1\", \"best_parameters\": \"MWG=x\"}".utf8),
                                               file: "z.json")
        }
    }

    @Test func importedTuningIsCheckedKeptAndUsed() throws {
        let folder = try TemporaryFolder()
        let result = folder.url.appendingPathComponent("clblast_xgemm_1_32.json")
        try Data(ClblastTuningTests.tunerResult.utf8).write(to: result)
        let cache = ["LUMEN_CACHE_DIR": folder.url.appendingPathComponent("cache").path]
        let imported = try LumenProcess.run(["tune-clblast", "--device", "cpu", "--import", result.path], environment: cache)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("kept tuned CLBlast parameters"), "\(imported.stdout)")
        let stored = try FileManager.default.contentsOfDirectory(atPath: folder.url.appendingPathComponent("cache").path)
            .filter { $0.hasPrefix("clblast-tuning-") }
        #expect(stored.count == 1)
        // The next process hands them to CLBlast before its self-check, which passes.
        let check = try LumenProcess.run(["self-test", "--device", "cpu"], environment: cache)
        #expect(check.status == 0 && check.stdout.contains("CLBlast SGEMM matches"), "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("tuned parameters"), "\(check.stdout)")
        // A file that is not a tuner result is refused in one line naming it.
        let bad = try LumenProcess.run(["tune-clblast", "--device", "cpu", "--import", folder.url.path + "/missing.json"],
                                       environment: cache)
        #expect(bad.status != 0 && bad.stderr.contains("missing.json"), "\(bad.stderr)")
    }
}
