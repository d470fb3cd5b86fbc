/// Errors a user can act on. Each description is one line that says what was
/// expected and, where there is one, what to do.
public enum LumenError: Error, CustomStringConvertible, Equatable {
    /// No OpenCL platform is installed at all.
    case noOpenCLPlatform
    /// `--device` matched nothing; `available` lists what exists.
    case noMatchingDevice(selector: String, available: [String])
    /// A kernel program failed to compile; the log was written to `logFile`.
    case kernelBuildFailed(program: String, device: String, logFile: String)
    /// CLBlast returned a wrong SGEMM on this device.
    case gemmSelfCheckFailed(device: String, maxError: Float)
    /// Tensor shapes or sizes do not fit the operation.
    case shapeMismatch(String)
    /// Weights that do not fit a model: every missing, unexpected and mis-shaped tensor.
    case weightsMismatch(source: String, problems: [String])
    /// An allocation the device cannot make: what it was for, its size and the limit.
    case deviceMemory(purpose: String, bytes: Int, limit: UInt64, device: String)
    /// Class weights that do not fit the classes.
    case invalidClassWeight(String)
    /// A callback configured wrongly.
    case invalidCallback(String)
    /// Augmentation parameters out of range.
    case invalidAugmentation(String)
    /// A model spec that cannot be built.
    case invalidModelSpec(String)
    /// A kernel source that is not embedded in the binary was asked for.
    case unknownKernelProgram(String)
    /// No GEMM can serve the device: CLBlast failed its check and none of Lumen's
    /// kernels fits it.
    case noGemmForDevice(device: String, reason: String)
    /// A training setting (flag or config key) is missing or out of range.
    case invalidTraining(String)
    /// An environment variable or option holds a value Lumen does not take.
    case invalidSetting(name: String, value: String, valid: [String])
    /// A collective between processes failed, or the processes disagree.
    case distributed(String)

    public var description: String {
        switch self {
        case .noOpenCLPlatform:
            return "no OpenCL platform found; install one, e.g. `sudo apt-get install pocl-opencl-icd` to run on the CPU"
        case .noMatchingDevice(let selector, let available):
            return "no OpenCL device matches --device '\(selector)'; devices: \(available.joined(separator: "; "))"
        case .kernelBuildFailed(let program, let device, let logFile):
            return "kernel program '\(program)' failed to build on \(device); build log: \(logFile)"
        case .gemmSelfCheckFailed(let device, let maxError):
            return "SGEMM is wrong on \(device) (max error \(maxError)) with CLBlast and with Lumen's own kernel, or LUMEN_GEMM=clblast asks for a CLBlast that failed its check; Lumen will not train on it. Choose another device with --device"
        case .shapeMismatch(let what):
            return "shape mismatch: \(what)"
        case .weightsMismatch(let source, let problems):
            return "the \(source) does not fit the model: " + problems.joined(separator: "; ")
        case .deviceMemory(let purpose, let bytes, let limit, let device):
            let mb = { (b: Double) in String(format: "%.0f MB", b / 1_048_576) }
            return "\(device) cannot allocate \(mb(Double(bytes))) for \(purpose) (its limit is \(mb(Double(limit))))"
        case .invalidClassWeight(let what):
            return "class weights: \(what)"
        case .invalidCallback(let what):
            return "callback: \(what)"
        case .invalidAugmentation(let what):
            return "invalid augmentation: \(what)"
        case .invalidModelSpec(let what):
            return "invalid model: \(what)"
        case .unknownKernelProgram(let name):
            return "no kernel program named '\(name)' is built into lumen"
        case .noGemmForDevice(let device, let reason):
            return "no SGEMM can serve \(device): \(reason); Lumen will not train on it. Choose another device with --device"
        case .invalidTraining(let what):
            return "invalid training setting: \(what)"
        case .invalidSetting(let name, let value, let valid):
            return "\(name)=\(value) is not valid; use one of: \(valid.joined(separator: ", "))"
        case .distributed(let what):
            return what
        }
    }
}
