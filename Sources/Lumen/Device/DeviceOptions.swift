import Foundation

/// How devices are opened: settings the CLI reads once from the environment and passes
/// down as a value (nothing below the CLI reads the environment).
public struct DeviceOptions: Sendable {
    /// Where compiled programs and per-device choices are kept (`LUMEN_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/lumen` or `~/.cache/lumen`: `ProgramCache.defaultDirectory`).
    public var cacheDirectory: URL
    /// Whether launches are timed with OpenCL profiling events (`LUMEN_PROFILE=1`).
    public var profiling = false
    /// With `profiling`, whether each launch is profiled under its kernel's name with its
    /// integer arguments and global size, so one kernel's shapes are timed apart
    /// (`LUMEN_PROFILE=shapes`).
    public var profilesShapes = false
    /// Fault injection for tests of error handling: launch N + 1 onwards fails with
    /// CL_DEVICE_NOT_AVAILABLE, as a lost device would (`LUMEN_FAULT_AFTER_LAUNCHES=N`).
    public var faultAfterLaunches: Int?
    /// Told about slow first-use steps and fallbacks.
    public var reporter: Reporter = .silent
    /// Which family of kernels runs: the one written for the device's kind when nil, or
    /// the other on purpose (`LUMEN_KERNELS=gpu` runs the GPU-style kernels on PoCL, as CI
    /// does to test them).
    public var kernelStyle: KernelStyle?
    /// Kernel sources to build instead of the embedded ones, by program name (`conv`,
    /// `pool`, …): kernels under development, or one broken on purpose to see
    /// `self-test --full` catch it (`LUMEN_KERNEL_DIR`).
    public var kernelSources: [String: String] = [:]

    /// The names of Lumen's kernel programs (`Kernels/<name>.cl`), which `kernelSources`
    /// may replace.
    public static var kernelPrograms: [String] { EmbeddedKernels.sources.keys.sorted() }

    public init(cacheDirectory: URL) {
        self.cacheDirectory = cacheDirectory
    }

    /// `LUMEN_CACHE_DIR`, else `$XDG_CACHE_HOME/lumen`, else `~/.cache/lumen`, in the
    /// environment the caller read.
    public static func cacheDirectory(environment: [String: String]) -> URL {
        ProgramCache.defaultDirectory(environment: environment)
    }
}

/// The two families of Lumen's kernels.
public enum KernelStyle: String, Sendable, CaseIterable {
    /// Work-groups of one, rows or planes per work-item, vectors: what PoCL runs well.
    case cpu
    /// One element per work-item, work-groups, local memory: what GPUs run well.
    case gpu
}
