import Foundation

/// Runs CLBlast's own GEMM tuners (`clblast_tuner_xgemm`, `clblast_tuner_xgemm_direct`,
/// from Debian's clblast-utils) for `lumen tune-clblast`.
public enum ClblastTuner {
    /// CLBlast's tuners Lumen runs, and the kernel each tunes.
    static let tuners = [("clblast_tuner_xgemm", "xgemm"), ("clblast_tuner_xgemm_direct", "xgemm_direct")]

    /// Runs CLBlast's GEMM tuners on `device` at 512³, each over `fraction` of its first
    /// stage's search space, and returns the best parameters they found. A tuner is stopped once
    /// its first stage has written its result (later stages search the GEMMK=1 kernel's
    /// far larger space). Throws when a tuner is not installed or finds nothing.
    /// `searchPath` is the `PATH` the tuners are looked up in.
    public static func tune(_ device: DeviceInfo, indexInPlatform: Int, fraction: Double, searchPath: String,
                            progress: (String) -> Void) throws -> ClblastTuning {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lumen-tune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var kernels: [String: [String: Int]] = [:]
        for (tuner, family) in tuners {
            guard let executable = findExecutable(tuner, in: searchPath) else {
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
                parsed = try? ClblastTuning.parseTunerResult(Data(contentsOf: result), file: result.lastPathComponent)
                if parsed == nil { Thread.sleep(forTimeInterval: 0.25) }
            }
            let best = try parsed ?? ClblastTuning.parseTunerResult(Data(contentsOf: result), file: result.lastPathComponent)
            kernels[best.kernel] = best.parameters
            progress(String(format: "  %@ done in %.0f s: %@", tuner, Date().timeIntervalSince(started),
                            best.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))
        }
        return ClblastTuning(kernels: kernels)
    }

    private static func findExecutable(_ name: String, in path: String) -> URL? {
        path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
