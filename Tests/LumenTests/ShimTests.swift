import CLShim
import Foundation
import Testing
@testable import Lumen

@Suite struct StatusNameTests {
    @Test(arguments: [
        (Int32(0), "CL_SUCCESS"), (-5, "CL_OUT_OF_RESOURCES"), (-11, "CL_BUILD_PROGRAM_FAILURE"),
        (-54, "CL_INVALID_WORK_GROUP_SIZE"), (-1001, "CL_PLATFORM_NOT_FOUND_KHR"),
        (-2050, "CLBlastInsufficientMemoryTemp"), (-1017, "CLBlastInvalidDimension"), (12345, "UNKNOWN_STATUS"),
    ])
    func statusHasItsName(status: Int32, name: String) {
        #expect(CLError.name(of: status) == name)
        #expect(CLError(status: status, operation: "x").description == "x failed: \(name)")
    }
}

@Suite struct TensorTests {
    @Test func roundTripKeepsValues() throws {
        let values = randomValues(2 * 3 * 4 * 5, seed: 42)
        let x = try Tensor(on: testDevice, shape: [2, 3, 4, 5], values: values)
        #expect(x.count == 120)
        #expect(try x.toArray() == values)
        try x.write(values.map { -$0 })
        #expect(try x.toArray() == values.map { -$0 })
    }

    @Test func wrongValueCountIsRefused() {
        #expect(throws: LumenError.self) { try Tensor(on: testDevice, shape: [2, 2], values: [1, 2, 3]) }
    }

    @Test func releasedTensorIsAnError() throws {
        let x = try Tensor.zeros(on: testDevice, shape: [8])
        x.release()
        #expect(throws: CLError.self) { try x.toArray() }
        x.release()  // twice is harmless
    }

    /// A launch whose argument list does not match the kernel's CL_KERNEL_NUM_ARGS is
    /// refused before any argument is set, naming the kernel and both counts.
    @Test func aLaunchWithTheWrongArgumentCountIsRefused() throws {
        let x = try Tensor.zeros(on: testDevice, shape: [8])
        do {
            try testDevice.launch("elementwise", "fill", global: [8], [.tensor(x)])
            Issue.record("a launch with one argument was accepted")
        } catch let error as CLError {
            #expect(error.description.contains("elementwise/fill") && error.description.contains("1 arguments"), "\(error)")
        }
        #expect(try x.toArray() == [Float](repeating: 0, count: 8))
    }

    /// Work-groups stay within the kernel's limit and the device's per-dimension extents.
    @Test func workGroupsRespectKernelAndDeviceLimits() {
        #expect(Device.workGroup(for: [1000], limit: 1024) == [256])
        #expect(Device.workGroup(for: [1000], limit: 1024, extents: [64, 64, 64]) == [64])
        #expect(Device.workGroup(for: [100, 100], limit: 1024) == [16, 16])
        #expect(Device.workGroup(for: [100, 100], limit: 1024, extents: [8, 4, 1]) == [8, 4])
        #expect(Device.workGroup(for: [100, 100, 3], limit: 32) == [16, 2, 1])
        #expect(testDevice.info.maxWorkItemSizes.count == 3 && testDevice.info.maxWorkItemSizes.allSatisfy { $0 >= 1 })
    }

    @Test func emptyTensorWorks() throws {
        let x = try Tensor.zeros(on: testDevice, shape: [0, 3])
        #expect(x.count == 0)
        #expect(try x.toArray().isEmpty)
    }
}

@Suite struct ObjectAccountingTests {
    /// Every buffer is released when its tensor goes. Other suites allocate in parallel,
    /// so the check allows their churn (a few hundred objects) but not a leak of 2000.
    @Test func tensorsReleaseTheirBuffers() throws {
        let before = lm_live_objects()
        for _ in 0..<2000 { _ = try Tensor.zeros(on: testDevice, shape: [64]) }
        let grown = lm_live_objects() - before
        print("live OpenCL objects grew by \(grown) over 2000 allocations")
        #expect(grown < 500)
    }
}

@Suite struct ProgramCacheTests {
    let source = "__kernel void twice(__global float *x) { x[get_global_id(0)] *= 2.0f; }\n"

    private func buildAndRelease(_ cache: ProgramCache) throws {
        let program = try cache.build(name: "twice", source: source, options: testDevice.buildOptions, on: testDevice)
        lm_program_release(program)
    }

    @Test func secondBuildLoadsTheCachedBinary() throws {
        let folder = try TemporaryFolder()
        let cache = ProgramCache(directory: folder.url)
        let entry = cache.entryURL(source: source, options: testDevice.buildOptions, device: testDevice.info)
        try buildAndRelease(cache)
        let first = try Data(contentsOf: entry)
        #expect(first.starts(with: Array("LUMENPRG".utf8)))
        try buildAndRelease(cache)
        #expect(try Data(contentsOf: entry) == first)
    }

    @Test(arguments: ["truncated", "garbage", "flipped"])
    func corruptEntryIsRebuilt(damage: String) throws {
        let folder = try TemporaryFolder()
        let cache = ProgramCache(directory: folder.url)
        let entry = cache.entryURL(source: source, options: testDevice.buildOptions, device: testDevice.info)
        try buildAndRelease(cache)
        let good = try Data(contentsOf: entry)
        var bad = good
        switch damage {
        case "truncated": bad = good.prefix(good.count / 2)
        case "garbage": bad = Data("not a program".utf8)
        default: bad[bad.count - 10] ^= 0xFF
        }
        try bad.write(to: entry)
        try buildAndRelease(cache)
        #expect(try Data(contentsOf: entry) == good)
    }

    @Test func keyChangesWithSourceOptionsAndDriver() throws {
        let cache = ProgramCache(directory: URL(fileURLWithPath: "/tmp"))
        let info = testDevice.info
        let base = cache.entryURL(source: source, options: "", device: info)
        #expect(cache.entryURL(source: source + " ", options: "", device: info) != base)
        #expect(cache.entryURL(source: source, options: "-cl-std=CL1.2", device: info) != base)
        let updated = DeviceInfo(index: info.index, platformIndex: info.platformIndex, platform: info.platform,
                                 name: info.name, kind: info.kind,
                                 vendor: info.vendor, computeUnits: info.computeUnits, clockMHz: info.clockMHz,
                                 globalMemoryBytes: info.globalMemoryBytes, maxAllocationBytes: info.maxAllocationBytes,
                                 maxWorkGroupSize: info.maxWorkGroupSize, maxWorkItemSizes: info.maxWorkItemSizes, openCLCVersion: info.openCLCVersion,
                                 deviceVersion: info.deviceVersion, driverVersion: info.driverVersion + "-new",
                                 available: true)
        #expect(cache.entryURL(source: source, options: "", device: updated) != base)
    }

    @Test func brokenKernelNamesItsBuildLog() throws {
        let folder = try TemporaryFolder()
        let cache = ProgramCache(directory: folder.url)
        do {
            _ = try cache.build(name: "broken", source: "__kernel void k(__global float *x) { x[0] = undeclared; }",
                                options: "", on: testDevice)
            Issue.record("a kernel using an undeclared name built")
        } catch let LumenError.kernelBuildFailed(program, _, logFile) {
            #expect(program == "broken")
            let log = try String(contentsOfFile: logFile, encoding: .utf8)
            #expect(log.contains("undeclared"))
        }
    }

    @Test func defaultDirectoryHonoursOverrides() {
        #expect(ProgramCache.defaultDirectory(environment: ["LUMEN_CACHE_DIR": "/x/y", "HOME": "/h"]).path == "/x/y")
        #expect(ProgramCache.defaultDirectory(environment: ["HOME": "/h"]).path == "/h/.cache/lumen")
        #expect(ProgramCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"]).path == "/c/lumen")
    }
}

@Suite struct MemoryPoolTests {
    /// Freed buffers come back by exact size, else (from the lending floor up) the smallest
    /// up to twice the size; past the limit the longest-kept go first; a buffer larger than the whole limit is
    /// not kept; drain frees everything.
    @Test func reusesBySizeAndEvictsTheOldest() throws {
        func allocate(_ bytes: Int) throws -> OpaquePointer {
            var memory: OpaquePointer?
            try #require(lm_buffer_alloc(testDevice.handle, bytes, &memory) == 0)
            return memory!
        }
        let pool = MemoryPool(limit: 1000, lendingFloor: 200)
        let a = try allocate(400), b = try allocate(400), c = try allocate(400)
        pool.give(a, bytes: 400)
        pool.give(b, bytes: 400)
        #expect(pool.heldBytes == 800)
        pool.give(c, bytes: 400)           // 1200 > 1000: a, the oldest, is freed
        #expect(pool.heldBytes == 800)
        #expect(pool.take(199) == nil)        // 400 is more than twice 199
        let first = pool.take(200)            // no 200: a 400 one, with its size
        #expect(first?.bytes == 400 && pool.heldBytes == 400)
        let second = pool.take(400)
        #expect(Set([first?.memory, second?.memory].compactMap { $0 }) == Set([b, c]) && second?.bytes == 400)
        #expect(pool.take(400) == nil && pool.heldBytes == 0)
        let small = try allocate(300), exact = try allocate(350)
        pool.give(first!.memory, bytes: 400)
        pool.give(small, bytes: 300)
        #expect(pool.take(190) == nil)             // below the floor: exact sizes only
        #expect(pool.take(290)?.memory == small)   // the smallest that fits
        pool.give(small, bytes: 300)
        pool.give(exact, bytes: 350)           // 1050 > 1000: the 400 one, the oldest, is freed
        #expect(pool.take(350)?.memory == exact && pool.take(200)?.memory == small && pool.heldBytes == 0)
        pool.give(exact, bytes: 350)
        pool.give(second!.memory, bytes: 400)
        pool.give(try allocate(2000), bytes: 2000)   // above the limit: freed at once
        #expect(pool.heldBytes == 750)
        #expect(pool.drain() == 750 && pool.heldBytes == 0)
    }
}
