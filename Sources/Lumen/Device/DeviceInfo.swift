import CLShim

/// The kind of an OpenCL device, from `CL_DEVICE_TYPE`.
public enum DeviceKind: String, Codable, Sendable {
    case gpu, cpu, accelerator, other
}

/// What Lumen knows about one OpenCL device, before it is opened.
public struct DeviceInfo: Codable, Sendable, Equatable {
    /// Position in the list of devices across all platforms, from 0.
    public let index: Int
    /// Position of the device's platform among the platforms, from 0.
    public let platformIndex: Int
    public let platform: String
    public let name: String
    public let kind: DeviceKind
    public let vendor: String
    public let computeUnits: Int
    public let clockMHz: Int
    public let globalMemoryBytes: UInt64
    public let maxAllocationBytes: UInt64
    public let maxWorkGroupSize: Int
    /// `CL_DEVICE_MAX_WORK_ITEM_SIZES`: the largest work-group extent in each of the first
    /// three dimensions.
    public let maxWorkItemSizes: [Int]
    /// `CL_DEVICE_OPENCL_C_VERSION`, e.g. "OpenCL C 1.2 PoCL".
    public let openCLCVersion: String
    public let deviceVersion: String
    public let driverVersion: String
    public let available: Bool

    /// A short label for lists and messages: "0: pthread-skylake-avx512 (cpu, Portable Computing Language)".
    public var label: String { "\(index): \(name) (\(kind.rawValue), \(platform))" }
}

extension DeviceInfo {
    /// Every device of every OpenCL platform, in platform order.
    ///
    /// Throws `LumenError.noOpenCLPlatform` when no platform is installed.
    public static func all() throws -> [DeviceInfo] {
        var count: Int32 = 0
        let status = lm_device_count(&count)
        if status == LM_PLATFORM_NOT_FOUND { throw LumenError.noOpenCLPlatform }
        try check(status, "listing OpenCL devices")
        return try (0..<Int(count)).map { try DeviceInfo(index: $0) }
    }

    init(index: Int) throws {
        var raw = lm_device_info()
        try check(lm_device_query(Int32(index), &raw), "querying OpenCL device \(index)")
        self.index = index
        platformIndex = Int(raw.platform_index)
        platform = fixedString(&raw.platform_name)
        name = fixedString(&raw.name)
        vendor = fixedString(&raw.vendor)
        openCLCVersion = fixedString(&raw.c_version)
        deviceVersion = fixedString(&raw.device_version)
        driverVersion = fixedString(&raw.driver_version)
        let type = raw.type
        if type & UInt64(CL_DEVICE_TYPE_GPU) != 0 {
            kind = .gpu
        } else if type & UInt64(CL_DEVICE_TYPE_CPU) != 0 {
            kind = .cpu
        } else if type & UInt64(CL_DEVICE_TYPE_ACCELERATOR) != 0 {
            kind = .accelerator
        } else {
            kind = .other
        }
        computeUnits = Int(raw.compute_units)
        clockMHz = Int(raw.clock_mhz)
        globalMemoryBytes = raw.global_mem_bytes
        maxAllocationBytes = raw.max_alloc_bytes
        maxWorkGroupSize = Int(raw.max_work_group_size)
        maxWorkItemSizes = [raw.max_work_item_sizes.0, raw.max_work_item_sizes.1, raw.max_work_item_sizes.2].map { Int($0) }
        available = raw.available != 0
    }
}

/// Reads a NUL-terminated C character array imported as a tuple.
func fixedString<T>(_ tuple: inout T) -> String {
    withUnsafeBytes(of: &tuple) { bytes in
        let chars = bytes.bindMemory(to: CChar.self)
        let end = chars.firstIndex(of: 0) ?? chars.count
        return String(decoding: bytes.prefix(end), as: UTF8.self)
    }
}
