import Foundation
import Testing

/// Runs the built `lumen` binary as a user would.
struct LumenProcess {
    static var binary: URL {
        // The test bundle sits in the same build folder as the `lumen` product.
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = bundle.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("lumen").path),
              folder.path != "/" {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent("lumen")
    }

    /// Runs `lumen ARGUMENTS`; with `timeout`, a run still going after that many seconds is
    /// terminated (a hang fails the test instead of stalling the suite).
    static func run(_ arguments: [String], environment: [String: String] = [:],
                    timeout: TimeInterval? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        return try collect(process, timeout: timeout)
    }

    /// Starts `process` and returns its exit status and output, terminating it after
    /// `timeout` seconds if given.
    static func collect(_ process: Process, timeout: TimeInterval? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        if let timeout {
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { if process.isRunning { process.terminate() } }
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

@Suite struct DevicesCommandTests {
    @Test func listsDevicesAndMarksAuto() throws {
        let result = try LumenProcess.run(["devices"])
        #expect(result.status == 0)
        let rows = result.stdout.split(separator: "\n")
        #expect(rows.count >= 2)
        #expect(rows.filter { $0.hasPrefix("auto") }.count == 1)
    }

    @Test func jsonHasOneAutoDevice() throws {
        let result = try LumenProcess.run(["devices", "--json", "--device", "0"])
        #expect(result.status == 0)
        let entries = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(!entries.isEmpty)
        #expect(entries.filter { $0["auto"] as? Bool == true }.count == 1)
        #expect(entries.first?["selected"] as? Bool == true)
        for key in ["index", "platform", "name", "kind", "vendor", "computeUnits", "clockMHz",
                    "globalMemoryBytes", "openCLCVersion"] {
            #expect(entries.first?[key] != nil, "missing \(key)")
        }
    }

    @Test func unmatchedSelectorFailsWithAList() throws {
        let result = try LumenProcess.run(["devices", "--device", "no-such"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no-such"))
        #expect(result.stderr.contains("devices: 0:"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func environmentVariableSelects() throws {
        let result = try LumenProcess.run(["devices", "--json"], environment: ["LUMEN_DEVICE": "no-such"])
        // --json without --device still lists; the variable is used when a device is needed.
        #expect(result.status == 0)
        let selfTest = try LumenProcess.run(["self-test"], environment: ["LUMEN_DEVICE": "no-such"])
        #expect(selfTest.status != 0)
        #expect(selfTest.stderr.contains("no-such"))
    }

    @Test func noPlatformGivesOneLineWithTheFix() throws {
        let empty = try TemporaryFolder()
        let result = try LumenProcess.run(["devices"], environment: ["OCL_ICD_VENDORS": empty.url.path,
                                                                     "OPENCL_VENDOR_PATH": empty.url.path])
        #expect(result.status != 0)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("apt-get install pocl-opencl-icd"))
        #expect(!result.stderr.contains("-1001"))
    }

    @Test func selfTestPasses() throws {
        let result = try LumenProcess.run(["self-test", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((report?["firstKernelSeconds"] as? Double ?? -1) >= 0)
    }
}

@Suite struct BenchKernelsCommandTests {
    /// Every measurement the command promises is present, for every backend, and is a
    /// positive rate; the table form has a column per backend. (Speeds themselves are
    /// compared by Scripts/bench-*, never by a test.)
    @Test func reportsEveryBackendConvolutionAndCompileTime() throws {
        let result = try LumenProcess.run(["bench-kernels", "--device", "cpu", "--shapes", "fashion-cnn", "--batch-size", "2",
                                           "--runs", "1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let reports = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
        let report = try #require(reports.first)
        let gemm = report["gemm"] as? [[String: Any]] ?? []
        #expect(gemm.count == 3)  // fashion-cnn's two convolutions and 1024³
        for row in gemm {
            let rates = row["gflops"] as? [String: Double] ?? [:]
            for backend in ["clblast", "lumen-8x32", "lumen-4x64", "lumen-local32"] {
                #expect((rates[backend] ?? 0) > 0, "\(row["shape"] ?? "?") \(backend)")
            }
        }
        let conv = report["conv"] as? [[String: Any]] ?? []
        #expect(conv.count == 2)
        for row in conv {
            for key in ["forward_gflops", "backward_data_gflops", "backward_filter_gflops"] {
                #expect((row[key] as? Double ?? 0) > 0, "\(row["layer"] ?? "?") \(key)")
            }
        }
        let ops = (report["bandwidth"] as? [[String: Any]] ?? []).compactMap { $0["op"] as? String }
        for op in ["max pool 2×2 forward", "batch norm normalize", "relu forward", "Adam update"] {
            #expect(ops.contains(op), "missing \(op)")
        }
        #expect((report["compile_cold_seconds"] as? Double ?? 0) > (report["compile_warm_seconds"] as? Double ?? 1))
    }
}
