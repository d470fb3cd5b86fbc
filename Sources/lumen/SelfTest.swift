import ArgumentParser
import Foundation
import Lumen

struct SelfTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "self-test",
        abstract: "Run a first kernel and CLBlast's GEMM self-check on a device, with timings.")

    @OptionGroup var deviceOption: DeviceOption
    @Flag(help: "Print the timings as JSON.") var json = false

    func run() throws {
        let start = Date()
        try reportingErrors {
            let report = try DeviceSelfTest.run(try deviceOption.open(), since: start)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print("device:       \(report.device.label)")
                print(String(format: "first kernel: %.2f s after start (fill + read back, checked)", report.firstKernelSeconds))
                let verdict = report.forcedGemm.map { "LUMEN_GEMM=\($0) matches the host product; CLBlast not built" }
                    ?? (report.clblastPassed ? "CLBlast SGEMM matches the host product"
                        : "CLBlast SGEMM is wrong here; Lumen's own GEMM matches the host product and serves this device")
                print(String(format: "GEMM check:   %.2f s, %@", report.gemmCheckSeconds, verdict))
                print("CLBlast:      " + (report.clblastTuned ? "tuned parameters (lumen tune-clblast)" : "default parameters"))
                print("self-test passed")
            }
        }
    }
}
