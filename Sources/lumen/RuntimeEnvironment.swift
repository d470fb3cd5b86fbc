import Foundation
import Lumen

/// Everything Lumen takes from the environment, read here, at the edge, once per command,
/// and passed down as values: nothing below the CLI reads the environment.
///
/// | variable | meaning |
/// |---|---|
/// | `LUMEN_DEVICE` | the device when `--device` is not given |
/// | `LUMEN_CACHE_DIR` | the cache folder (else `$XDG_CACHE_HOME/lumen` or `~/.cache/lumen`) |
/// | `LUMEN_GEMM` | force one GEMM backend (auto, clblast, lumen, lumen-8x32, …) |
/// | `LUMEN_PROFILE=1` | time each kernel with OpenCL profiling events; `shapes`: each kernel's shapes apart |
/// | `LUMEN_KERNELS` | `cpu` or `gpu`: run that kernel family whatever the device (default: the device's kind) |
/// | `LUMEN_KERNEL_DIR` | a folder of `.cl` files built instead of the embedded kernels of the same name |
/// | `LUMEN_DEBUG_OBJECTS=1` | count OpenCL objects still live at exit (`train`) |
/// | `LUMEN_FAULT_AFTER_LAUNCHES=N` | fail launch N + 1 onwards, as a lost device would (tests) |
/// | `LUMEN_FAIL_CLBLAST_CHECK=1` | fail CLBlast's self-check on purpose (tests) |
/// | `OMPI_COMM_WORLD_SIZE`, `PMI_SIZE`, `PMIX_RANK` | set by `mpirun` or `srun`: `train` joins MPI's world |
struct RuntimeEnvironment {
    let variables: [String: String]
    var device: DeviceOptions
    let gemm: GemmPlanner.Settings
    let debugObjects: Bool
    /// Started by `mpirun` (Open MPI or MPICH) or Slurm's `srun`: `train` joins MPI.
    let launchedByMPI: Bool

    /// The process's environment; an invalid value is an error naming it.
    static func current() throws -> RuntimeEnvironment {
        try RuntimeEnvironment(ProcessInfo.processInfo.environment)
    }

    init(_ variables: [String: String]) throws {
        self.variables = variables
        device = DeviceOptions(cacheDirectory: DeviceOptions.cacheDirectory(environment: variables))
        if let profile = variables["LUMEN_PROFILE"], !profile.isEmpty {
            guard ["0", "1", "shapes"].contains(profile) else {
                throw LumenError.invalidSetting(name: "LUMEN_PROFILE", value: profile, valid: ["0", "1", "shapes"])
            }
            device.profiling = profile != "0"
            device.profilesShapes = profile == "shapes"
        }
        device.faultAfterLaunches = variables["LUMEN_FAULT_AFTER_LAUNCHES"].flatMap(Int.init)
        device.reporter = Reporter(note: { _ in }, warning: { warn($0) })
        if let style = variables["LUMEN_KERNELS"], !style.isEmpty {
            guard let chosen = KernelStyle(rawValue: style.lowercased()) else {
                throw LumenError.invalidSetting(name: "LUMEN_KERNELS", value: style, valid: KernelStyle.allCases.map(\.rawValue))
            }
            device.kernelStyle = chosen
        }
        if let folder = variables["LUMEN_KERNEL_DIR"], !folder.isEmpty {
            device.kernelSources = try Self.kernelSources(in: URL(fileURLWithPath: folder))
        }
        gemm = GemmPlanner.Settings(forced: try GemmBackend.forced(by: variables["LUMEN_GEMM"]),
                                    failClblastCheck: variables["LUMEN_FAIL_CLBLAST_CHECK"] == "1")
        debugObjects = variables["LUMEN_DEBUG_OBJECTS"] == "1"
        launchedByMPI = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].contains { variables[$0] != nil }
    }

    /// The `.cl` files of `folder` by program name; one that is not a kernel program
    /// Lumen has is an error naming it.
    static func kernelSources(in folder: URL) throws -> [String: String] {
        let files: [URL]
        do {
            files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        } catch {
            throw LumenError.invalidSetting(name: "LUMEN_KERNEL_DIR", value: folder.path, valid: ["a readable folder of .cl files"])
        }
        var sources: [String: String] = [:]
        for file in files where file.pathExtension == "cl" {
            let program = file.deletingPathExtension().lastPathComponent
            guard DeviceOptions.kernelPrograms.contains(program) else {
                throw LumenError.invalidSetting(name: "LUMEN_KERNEL_DIR", value: file.path,
                                                valid: DeviceOptions.kernelPrograms.map { $0 + ".cl" })
            }
            sources[program] = try String(contentsOf: file, encoding: .utf8)
        }
        return sources
    }

    /// The device of rank `localRank` on its node when neither `--device` nor
    /// `LUMEN_DEVICE` chose one: that GPU (`gpu:N`) when the node has it, else the CPU.
    func selector(_ flag: String?, localRank: Int) throws -> DeviceSelector {
        guard flag == nil, variables["LUMEN_DEVICE"] == nil else { return selector(flag) }
        let gpus = try DeviceInfo.all().filter { $0.kind != .cpu }
        return DeviceSelector(gpus.count > localRank ? "gpu:\(localRank)" : "cpu")
    }

    /// `--device` when given, else `LUMEN_DEVICE`, else auto.
    func selector(_ flag: String?) -> DeviceSelector {
        DeviceSelector.resolveFlag(flag, environment: variables)
    }

    /// Where the tuners are looked for.
    var searchPath: String { variables["PATH"] ?? "/usr/bin:/bin" }

    /// Opens the device `info` with these settings and gives it its GEMM planner. With
    /// `notes`, slow first-use steps (compiling kernels) are told there.
    func open(_ info: DeviceInfo, notes: (@Sendable (String) -> Void)? = nil) throws -> Device {
        var options = device
        if let notes { options.reporter.note = notes }
        let opened = try Device.open(info, options: options)
        GemmPlanner.attach(to: opened, settings: gemm)
        return opened
    }

    func open(_ selector: DeviceSelector, notes: (@Sendable (String) -> Void)? = nil) throws -> Device {
        try open(selector.resolve(in: DeviceInfo.all()), notes: notes)
    }
}

extension DeviceOption {
    /// Opens the selected device with the environment's settings.
    func open(notes: (@Sendable (String) -> Void)? = nil) throws -> Device {
        let environment = try RuntimeEnvironment.current()
        return try environment.open(environment.selector(device), notes: notes)
    }
}
