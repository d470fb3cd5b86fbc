import Testing
@testable import Lumen

/// A machine with two platforms: a CPU first, then two GPUs, so `auto` must look past
/// the first platform.
private let machine: [DeviceInfo] = [
    fakeDevice(0, "pthread-skylake-avx512", .cpu, platform: "Portable Computing Language"),
    fakeDevice(1, "NVIDIA GeForce RTX 3090", .gpu, platform: "NVIDIA CUDA"),
    fakeDevice(2, "AMD Radeon Pro W6800", .gpu, platform: "AMD Accelerated Parallel Processing"),
]

private func fakeDevice(_ index: Int, _ name: String, _ kind: DeviceKind, platform: String) -> DeviceInfo {
    DeviceInfo(index: index, platformIndex: index, platform: platform, name: name, kind: kind, vendor: "v", computeUnits: 8,
               clockMHz: 1000, globalMemoryBytes: 1 << 30, maxAllocationBytes: 1 << 28, maxWorkGroupSize: 256, maxWorkItemSizes: [256, 256, 64],
               openCLCVersion: "OpenCL C 1.2", deviceVersion: "OpenCL 1.2", driverVersion: "1", available: true)
}

@Suite struct DeviceSelectorTests {
    @Test(arguments: [
        ("auto", 1), ("", 1), ("AUTO", 1), ("cpu", 0), ("gpu", 1), ("gpu:0", 1), ("gpu:1", 2),
        ("2", 2), ("0", 0), ("radeon", 2), ("RTX", 1), ("skylake", 0), (" cpu:0 ", 0),
    ])
    func selectorPicksDevice(text: String, expected: Int) throws {
        #expect(try DeviceSelector(text).resolve(in: machine).index == expected)
    }

    @Test(arguments: ["gpu:2", "cpu:1", "7", "no-such", "tpu"])
    func unmatchedSelectorListsWhatExists(text: String) {
        #expect(throws: LumenError.self) { try DeviceSelector(text).resolve(in: machine) }
        do {
            _ = try DeviceSelector(text).resolve(in: machine)
        } catch let error as LumenError {
            let message = error.description
            #expect(message.contains("'\(text.trimmingCharacters(in: .whitespaces))'"))
            for device in machine { #expect(message.contains(device.name)) }
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func autoPicksCPUWhenThereIsNoGPU() throws {
        #expect(try DeviceSelector.auto.resolve(in: [machine[0]]).index == 0)
    }

    @Test func flagWinsOverEnvironment() {
        let environment = [DeviceSelector.environmentVariable: "gpu:1"]
        #expect(DeviceSelector.resolveFlag("cpu", environment: environment) == .kind(.cpu, ordinal: 0))
        #expect(DeviceSelector.resolveFlag(nil, environment: environment) == .kind(.gpu, ordinal: 1))
        #expect(DeviceSelector.resolveFlag(nil, environment: [:]) == .auto)
    }

    @Test func realDevicesAreListed() throws {
        let devices = try DeviceInfo.all()
        #expect(!devices.isEmpty)
        #expect(devices.map(\.index) == Array(devices.indices))
        for device in devices {
            #expect(!device.name.isEmpty)
            #expect(device.computeUnits > 0)
            #expect(device.globalMemoryBytes > 0)
            #expect(device.openCLCVersion.hasPrefix("OpenCL C"))
        }
    }
}
