import CLShim
import Foundation

/// CLBlast tuning parameters for one device, as CLBlast's own tuners
/// (`clblast_tuner_xgemm`, `clblast_tuner_xgemm_direct` from Debian's clblast-utils) find
/// them. `lumen tune-clblast` runs the tuners and keeps the result in the cache folder;
/// the first GEMM on the device then hands them to CLBlast (`CLBlastOverrideParameters`)
/// before its self-check, so the tuned kernels are checked too and the chooser times them
/// against Lumen's own.
public struct ClblastTuning: Codable, Equatable {
    /// Kernel name (`Xgemm`, `XgemmDirect`) → parameter → value.
    public var kernels: [String: [String: Int]]

    public init(kernels: [String: [String: Int]]) { self.kernels = kernels }

    /// The file for `device` in the cache folder `directory`, named by platform, device and driver.
    public static func fileURL(for device: DeviceInfo, in directory: URL) -> URL {
        ProgramCache.deviceFileURL("clblast-tuning", for: device, in: directory)
    }

    /// The parameters as one canonical string (sorted JSON), for keying what depends on them.
    var fingerprint: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// The stored tuning for `device`, or nil when there is none (or it cannot be read).
    public static func stored(for device: DeviceInfo, in directory: URL) -> ClblastTuning? {
        try? JSONDecoder().decode(ClblastTuning.self, from: Data(contentsOf: fileURL(for: device, in: directory)))
    }

    /// Writes the tuning for `device` into the cache folder `directory`, atomically.
    public func store(for device: DeviceInfo, in directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: ClblastTuning.fileURL(for: device, in: directory))
    }

    /// The best parameters in tuner result files (clblast_*.json), one kernel each.
    public init(importing paths: [String]) throws {
        kernels = [:]
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DataError(path: path, reason: "cannot be read (a CLBlast tuner result, clblast_*.json, expected)")
            }
            let best = try ClblastTuning.parseTunerResult(data, file: path)
            kernels[best.kernel] = best.parameters
        }
    }

    /// Reads one tuner result file: the parameter set's name in CLBlast's database, from
    /// `kernel_family` ("xgemm_1" → Xgemm, "xgemm_direct_1" → XgemmDirect; `best_kernel`
    /// names the OpenCL function, XgemmDirectTN say), and `best_parameters` ("NAME=VALUE …",
    /// PRECISION left out: CLBlast does not take it as a parameter).
    public static func parseTunerResult(_ data: Data, file: String) throws -> (kernel: String, parameters: [String: Int]) {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let family = object["kernel_family"] as? String, let text = object["best_parameters"] as? String else {
            throw DataError(path: file, reason: "not a CLBlast tuner result (kernel_family and best_parameters expected)")
        }
        let kernel = family.split(separator: "_").filter { Int($0) == nil }.map { $0.prefix(1).uppercased() + $0.dropFirst() }
            .joined()
        var parameters: [String: Int] = [:]
        for pair in text.split(separator: " ") {
            let parts = pair.split(separator: "=")
            guard parts.count == 2, let value = Int(parts[1]) else {
                throw DataError(path: file, reason: "best_parameters entry '\(pair)' is not NAME=NUMBER")
            }
            if parts[0] != "PRECISION" { parameters[String(parts[0])] = value }
        }
        return (kernel, parameters)
    }

    /// Checks CLBlast with these parameters against a host product on `device` (which
    /// keeps them for the rest of the process: call it on a device that has run no GEMM),
    /// and stores them for later runs only when the check passes. Returns the check's
    /// largest relative error.
    public func checkAndStore(on device: Device) throws -> Float {
        let error = try GemmSelfCheck.worstError(on: device, tuning: self)
        let directory = device.options.cacheDirectory
        guard error <= 1e-4 else {
            throw DataError(path: ClblastTuning.fileURL(for: device.info, in: directory).path,
                            reason: "not written: CLBlast with these parameters computes a wrong SGEMM (max error \(error))")
        }
        try store(for: device.info, in: directory)
        return error
    }

    /// Hands every kernel's parameters to CLBlast for `device`, for the rest of the process.
    func apply(on device: Device) throws {
        for (kernel, parameters) in kernels.sorted(by: { $0.key < $1.key }) {
            let names = parameters.keys.sorted()
            let values = names.map { parameters[$0]! }
            let cNames = names.map { strdup($0) }
            defer { cNames.forEach { free($0) } }
            var pointers = cNames.map { UnsafePointer<CChar>($0) }
            let status = pointers.withUnsafeMutableBufferPointer { namePointers in
                values.withUnsafeBufferPointer { valuePointers in
                    lm_clblast_override(device.handle, kernel, namePointers.baseAddress, valuePointers.baseAddress, names.count)
                }
            }
            try check(status, "applying tuned CLBlast parameters for \(kernel) on \(device.info.name) (from \(ClblastTuning.fileURL(for: device.info, in: device.options.cacheDirectory).path))")
        }
    }
}
