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

    /// The file for `device` in the cache folder, named by platform, device and driver.
    public static func fileURL(for device: DeviceInfo) -> URL {
        ProgramCache.deviceFileURL("clblast-tuning", for: device)
    }

    /// The parameters as one canonical string (sorted JSON), for keying what depends on them.
    var fingerprint: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// The stored tuning for `device`, or nil when there is none (or it cannot be read).
    public static func stored(for device: DeviceInfo) -> ClblastTuning? {
        try? JSONDecoder().decode(ClblastTuning.self, from: Data(contentsOf: fileURL(for: device)))
    }

    /// Writes the tuning for `device`, atomically.
    public func store(for device: DeviceInfo) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileManager.default.createDirectory(at: ProgramCache.defaultDirectory(), withIntermediateDirectories: true)
        try AtomicFile.write(try encoder.encode(self), to: ClblastTuning.fileURL(for: device))
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
        guard error <= 1e-4 else {
            throw DataError(path: ClblastTuning.fileURL(for: device.info).path,
                            reason: "not written: CLBlast with these parameters computes a wrong SGEMM (max error \(error))")
        }
        try store(for: device.info)
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
            try check(status, "applying tuned CLBlast parameters for \(kernel) on \(device.info.name) (from \(ClblastTuning.fileURL(for: device.info).path))")
        }
    }
}

extension ClblastTuning {
    /// CLBlast's tuners Lumen runs, and the kernel each tunes.
    static let tuners = [("clblast_tuner_xgemm", "xgemm"), ("clblast_tuner_xgemm_direct", "xgemm_direct")]

    /// Runs CLBlast's GEMM tuners on `device` at 512³, each over `fraction` of its first
    /// stage's search space, and returns the best parameters they found. A tuner is stopped once
    /// its first stage has written its result (later stages search the GEMMK=1 kernel's
    /// far larger space). Throws when a tuner is not installed or finds nothing.
    public static func tune(_ device: DeviceInfo, indexInPlatform: Int, fraction: Double,
                            progress: (String) -> Void) throws -> ClblastTuning {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lumen-tune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var kernels: [String: [String: Int]] = [:]
        for (tuner, family) in tuners {
            guard let executable = findExecutable(tuner) else {
                throw DataError(path: tuner, reason: "not found on PATH; it comes with Debian's clblast-utils (Scripts/install-deps installs it)")
            }
            let log = folder.appendingPathComponent("\(tuner).log")
            guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
                throw DataError(path: log.path, reason: "cannot be created for \(tuner)'s output")
            }
            let process = Process()
            process.executableURL = executable
            process.currentDirectoryURL = folder
            // 512³ with one run per candidate: the tuner's 1024³ twice takes several times longer.
            process.arguments = ["-platform", "\(device.platformIndex)", "-device", "\(indexInPlatform)", "-precision", "32",
                                 "-fraction", "\(fraction)", "-m", "512", "-n", "512", "-k", "512", "-runs", "1"]
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            progress("running \(tuner) on \(device.name) over \(fraction) of its first stage")
            let started = Date()
            try process.run()
            var result: URL?
            var lastReport = started
            while result == nil && process.isRunning {
                Thread.sleep(forTimeInterval: 0.5)
                result = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
                    .first { $0.lastPathComponent.hasPrefix("clblast_\(family)_1_") && $0.pathExtension == "json" }
                if Date().timeIntervalSince(lastReport) >= 15 {
                    lastReport = Date()
                    progress(String(format: "  %@: %.0f s", tuner, lastReport.timeIntervalSince(started)))
                }
            }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            try? handle.close()
            guard let result else {
                throw DataError(path: tuner, reason: "finished without a result file (exit \(process.terminationStatus)); its output: \(String(decoding: (try? Data(contentsOf: log).suffix(400)) ?? Data(), as: UTF8.self))")
            }
            // The file may still be being written when first seen: read until it parses.
            var parsed: (kernel: String, parameters: [String: Int])?
            for _ in 0..<20 where parsed == nil {
                parsed = try? parseTunerResult(Data(contentsOf: result), file: result.lastPathComponent)
                if parsed == nil { Thread.sleep(forTimeInterval: 0.25) }
            }
            let best = try parsed ?? parseTunerResult(Data(contentsOf: result), file: result.lastPathComponent)
            kernels[best.kernel] = best.parameters
            progress(String(format: "  %@ done in %.0f s: %@", tuner, Date().timeIntervalSince(started),
                            best.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))
        }
        return ClblastTuning(kernels: kernels)
    }

    private static func findExecutable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
