import CLShim
import Foundation

/// One OpenCL device opened for work: a context, one in-order queue, the kernels built
/// for it, and its device memory. Open each OpenCL device once per process and pass the
/// `Device` along, so each program is compiled once.
public final class Device: @unchecked Sendable {
    /// What the device is.
    public let info: DeviceInfo
    /// The settings it was opened with.
    public let options: DeviceOptions
    let handle: OpaquePointer
    private let programs: ProgramCache
    private let lock = NSLock()
    private var kernels: [String: Kernel] = [:]
    private var builtPrograms: [String: OpaquePointer] = [:]
    private var attachments: [ObjectIdentifier: AnyObject] = [:]
    /// Freed buffers kept for reuse: up to a quarter of the device's memory, at most 4 GiB.
    let memoryPool: MemoryPool
    private var launchesBeforeFault: Int?
    private var firstUse = 0.0
    /// How many first-use measurements are open (they nest: timing GEMMs may check them).
    private var firstUseDepth = 0
    private var firstUseStarted = Date()

    /// Seconds spent so far on work done once per device and process or per new shape —
    /// building or loading kernel programs, checking and timing GEMMs — which progress
    /// leaves out of rates and ETAs.
    public var firstUseSeconds: Double {
        lock.lock()
        defer { lock.unlock() }
        return firstUse
    }

    /// Runs `body` as first-use work (see `firstUseSeconds`), counting wall-clock time
    /// once however the measurements nest or overlap.
    func measuringFirstUse<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        if firstUseDepth == 0 { firstUseStarted = Date() }
        firstUseDepth += 1
        lock.unlock()
        defer {
            lock.lock()
            firstUseDepth -= 1
            if firstUseDepth == 0 { firstUse += Date().timeIntervalSince(firstUseStarted) }
            lock.unlock()
        }
        return try body()
    }

    /// Whether launches are timed with OpenCL profiling events.
    public var profiling: Bool { options.profiling }

    /// Whether the profile names each launch's shape (`DeviceOptions.profilesShapes`).
    public var profilesShapes: Bool { options.profiling && options.profilesShapes }

    /// The kernel family that runs here: as the options say, else the one written for
    /// the device's kind (CPU-style on CPUs, GPU-style elsewhere).
    public var kernelStyle: KernelStyle { options.kernelStyle ?? (info.kind == .cpu ? .cpu : .gpu) }

    private init(info: DeviceInfo, options: DeviceOptions) throws {
        var handle: OpaquePointer?
        try check(options.profiling ? lm_device_open_profiled(Int32(info.index), &handle) : lm_device_open(Int32(info.index), &handle),
                  "opening OpenCL device \(info.label)")
        self.info = info
        self.options = options
        self.handle = handle!
        self.programs = ProgramCache(directory: options.cacheDirectory, reporter: options.reporter)
        self.memoryPool = MemoryPool(limit: MemoryPool.limit(deviceMemory: info.globalMemoryBytes))
        self.launchesBeforeFault = options.faultAfterLaunches
    }

    deinit {
        attachments.removeAll()
        memoryPool.drain()
        for kernel in kernels.values { lm_kernel_release(kernel.handle) }
        for program in builtPrograms.values { lm_program_release(program) }
        lm_device_close(handle)
    }

    /// Opens the device `info` describes. Each call makes a new context: open a device
    /// once and pass it along.
    public static func open(_ info: DeviceInfo, options: DeviceOptions) throws -> Device {
        try Device(info: info, options: options)
    }

    /// Resolves `selector` among all devices and opens the one it picks.
    public static func open(_ selector: DeviceSelector, options: DeviceOptions) throws -> Device {
        try open(selector.resolve(in: DeviceInfo.all()), options: options)
    }

    /// OpenCL objects (contexts, queues, buffers, programs, kernels) created and not yet
    /// released, across the process: a debug counter that proves nothing leaks.
    public static var liveObjectCount: Int { lm_live_objects() }

    /// State that a part above keeps per device (the GEMM planner), of a type the device
    /// does not know: the one attached for `T`, else what `make` returns, kept from then on.
    func attachment<T: AnyObject>(_ make: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        if let existing = attachments[ObjectIdentifier(T.self)] as? T { return existing }
        let made = make()
        attachments[ObjectIdentifier(T.self)] = made
        return made
    }

    /// Waits until every queued command has finished.
    public func synchronize() throws {
        try check(lm_device_finish(handle), "waiting for \(info.name)")
    }

    /// Device time per kernel since the last call, from OpenCL profiling events, longest
    /// first. Empty unless the device was opened with `LUMEN_PROFILE=1`.
    public func takeProfile() -> [(name: String, seconds: Double, calls: Int)] {
        let capacity = Int(LM_PROFILE_NAMES), length = Int(LM_PROFILE_NAME_LENGTH)
        var raw = [CChar](repeating: 0, count: capacity * length)
        var nanoseconds = [UInt64](repeating: 0, count: capacity)
        var counts = [UInt64](repeating: 0, count: capacity)
        let n = lm_device_take_profile(handle, &raw, &nanoseconds, &counts, Int32(capacity))
        return (0..<Int(n)).map { i in
            let slot = raw[(i * length)..<(i * length + length)]
            let name = String(decoding: slot.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return (name, Double(nanoseconds[i]) / 1e9, Int(counts[i]))
        }.sorted { $0.seconds > $1.seconds }
    }

    // MARK: - Kernels

    /// Build options, fixed per device.
    var buildOptions: String {
        info.openCLCVersion.contains("OpenCL C 1.0") || info.openCLCVersion.contains("OpenCL C 1.1")
            ? "" : "-cl-std=CL1.2"
    }

    /// The kernel `name` from the embedded program `program` (a `Kernels/<program>.cl` file),
    /// building the program on first use. `defines` (`-DNAME=VALUE …`) builds a variant
    /// of the program, kept apart from the others.
    func kernel(_ program: String, _ name: String, defines: String = "") throws -> Kernel {
        let variant = defines.isEmpty ? program : program + " " + defines
        let key = variant + "/" + name
        lock.lock()
        defer { lock.unlock() }
        if let kernel = kernels[key] { return kernel }
        let built: OpaquePointer
        if let existing = builtPrograms[variant] {
            built = existing
        } else {
            guard let source = options.kernelSources[program] ?? EmbeddedKernels.sources[program] else {
                throw LumenError.unknownKernelProgram(program)
            }
            let options = defines.isEmpty ? buildOptions : buildOptions + " " + defines
            let started = Date()
            built = try programs.build(name: variant, source: source, options: options, on: self)
            // Inside a first-use measurement (timing GEMMs) the build is already counted.
            if firstUseDepth == 0 { firstUse += Date().timeIntervalSince(started) }
            builtPrograms[variant] = built
        }
        var handle: OpaquePointer?
        try check(lm_kernel_create(built, name, &handle), "creating kernel \(key)")
        var maxGroup = 0
        var argumentCount: UInt32 = 0
        var status = lm_kernel_max_work_group(self.handle, handle, &maxGroup)
        if status == 0 { status = lm_kernel_num_args(handle, &argumentCount) }
        if status != 0 { lm_kernel_release(handle) }
        try check(status, "querying the work-group limit and arguments of kernel \(key)")
        let kernel = Kernel(handle: handle!, name: key, maxWorkGroupSize: max(1, maxGroup), argumentCount: Int(argumentCount))
        kernels[key] = kernel
        return kernel
    }

    /// Seconds to build `program` from source with nothing cached (a define unique to this
    /// call keeps Lumen's and the driver's caches out), then to build it again, which
    /// loads the binary Lumen's cache kept. The cache entry is removed afterwards.
    func measureCompile(_ program: String) throws -> (cold: Double, warm: Double) {
        guard let source = options.kernelSources[program] ?? EmbeddedKernels.sources[program] else { throw LumenError.unknownKernelProgram(program) }
        let options = buildOptions + " -DLUMEN_COMPILE_PROBE=\(UInt64.random(in: 1...UInt64.max))"
        defer { try? FileManager.default.removeItem(at: programs.entryURL(source: source, options: options, device: info)) }
        var seconds: [Double] = []
        for _ in 0..<2 {
            let start = Date()
            lm_program_release(try programs.build(name: program, source: source, options: options, on: self))
            seconds.append(Date().timeIntervalSince(start))
        }
        return (seconds[0], seconds[1])
    }

    /// Sets the arguments of `kernel` and enqueues it over `global` work-items (1 or 2
    /// dimensions). Work-group sizes respect the kernel's queried limit; the global size
    /// is rounded up to whole groups, so kernels must bounds-check their ids.
    func launch(_ program: String, _ name: String, defines: String = "", global: [Int], local explicit: [Int]? = nil,
                _ arguments: [KernelArgument]) throws {
        let kernel = try kernel(program, name, defines: defines)
        guard arguments.count == kernel.argumentCount else {
            throw CLError(status: CL_INVALID_KERNEL_ARGS,
                          operation: "launching \(kernel.name) with \(arguments.count) arguments; it takes \(kernel.argumentCount)")
        }
        let local = explicit ?? Device.workGroup(for: global, limit: kernel.maxWorkGroupSize, extents: info.maxWorkItemSizes)
        guard zip(local, info.maxWorkItemSizes + [Int](repeating: 1, count: 3)).allSatisfy({ $0 <= max($1, 1) }),
              local.reduce(1, *) <= kernel.maxWorkGroupSize else {
            throw CLError(status: CL_INVALID_WORK_GROUP_SIZE,
                          operation: "launching \(kernel.name) with work-group \(local) (limits \(kernel.maxWorkGroupSize) in all, \(info.maxWorkItemSizes) per dimension)")
        }
        let rounded = zip(global, local).map { size, group in (max(size, 1) + group - 1) / group * group }
        lock.lock()
        defer { lock.unlock() }
        if let remaining = launchesBeforeFault {
            if remaining <= 0 { throw CLError(status: CL_DEVICE_NOT_AVAILABLE, operation: "launching \(kernel.name) (injected fault)") }
            launchesBeforeFault = remaining - 1
        }
        for (position, argument) in arguments.enumerated() {
            try argument.set(on: kernel, at: position)
        }
        try check(
            lm_kernel_launch_named(handle, kernel.handle, profilesShapes ? Self.shapeName(kernel.name, arguments, global) : kernel.name,
                                   UInt32(global.count), rounded, local),
            "launching \(kernel.name) over \(global)")
    }

    /// A launch's name in a `profilesShapes` profile: the kernel's, its integer
    /// arguments in order, and the global size, e.g. `gemm/gemm_tile(0,3,0,…) over 1x1x1`.
    static func shapeName(_ kernel: String, _ arguments: [KernelArgument], _ global: [Int]) -> String {
        let integers = arguments.compactMap { argument -> String? in
            if case .int(let value) = argument { return String(value) }
            return nil
        }
        return kernel + "(" + integers.joined(separator: ",") + ") over " + global.map(String.init).joined(separator: "x")
    }

    /// A work-group shape for `global`: up to 256 work-items, within the kernel's `limit`
    /// (CL_KERNEL_WORK_GROUP_SIZE) and the device's per-dimension `extents`
    /// (CL_DEVICE_MAX_WORK_ITEM_SIZES).
    static func workGroup(for global: [Int], limit: Int, extents: [Int] = []) -> [Int] {
        func extent(_ d: Int) -> Int { d < extents.count ? max(1, extents[d]) : Int.max }
        let budget = max(1, min(256, limit))
        switch global.count {
        case 1:
            return [min(budget, extent(0))]
        default:
            var first = 1
            while first * 2 <= min(16, budget, extent(0)) { first *= 2 }
            let second = max(1, min(budget / first, 16, extent(1)))
            return [first, second] + Array(repeating: 1, count: global.count - 2)
        }
    }
}

/// A compiled kernel, its work-group limit on its device and how many arguments it takes.
struct Kernel {
    let handle: OpaquePointer
    let name: String
    let maxWorkGroupSize: Int
    let argumentCount: Int
}

/// One argument of a kernel launch.
enum KernelArgument {
    case buffer(DeviceBuffer)
    case float(Float)
    case int(Int32)

    func set(on kernel: Kernel, at index: Int) throws {
        let status: Int32
        switch self {
        case .buffer(let buffer):
            var memory: OpaquePointer? = try buffer.liveMemory(what: "a released buffer as argument \(index) of \(kernel.name)")
            status = lm_kernel_set_arg(kernel.handle, UInt32(index), MemoryLayout<OpaquePointer?>.size, &memory)
        case .float(let value):
            var value = value
            status = lm_kernel_set_arg(kernel.handle, UInt32(index), MemoryLayout<Float>.size, &value)
        case .int(let value):
            var value = value
            status = lm_kernel_set_arg(kernel.handle, UInt32(index), MemoryLayout<Int32>.size, &value)
        }
        try check(status, "setting argument \(index) of \(kernel.name)")
    }
}

extension KernelArgument {
    /// An integer argument; kernels take sizes as `int`.
    static func size(_ value: Int) -> KernelArgument { .int(Int32(value)) }
}
