import ArgumentParser
import Foundation
import Lumen

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels",
        abstract: "Measure kernel speeds per device: GEMM GFLOP/s for CLBlast and Lumen's kernel, memory-bound ops in GB/s.")

    @Option(help: "all, or a device selector.") var device: String = "auto"
    @Option(help: "Model whose convolution GEMM shapes to time: xray-cnn, fashion-cnn or a spec.") var shapes: String = "xray-cnn"
    @Option(help: "Timed runs per measurement (the median is kept).") var runs: Int = 3
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let all = try DeviceInfo.all()
            let chosen = device == "all" ? all : [try DeviceSelector(device).resolve(in: all)]
            let spec = try ModelReference(shapes).spec(classes: 2, inputSize: nil, channels: nil)
            let gemmShapes = try KernelBenchmark.gemmShapes(for: spec)
            var reports: [KernelBenchmark.Report] = []
            for info in chosen {
                reports.append(try KernelBenchmark.run(device: try Device.open(info), shapes: gemmShapes, runs: runs))
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(reports), as: UTF8.self))
                return
            }
            for report in reports {
                print("\(report.device)   (first kernel after \(String(format: "%.2f", report.firstKernelSeconds)) s)")
                print("  GEMM GFLOP/s                               CLBlast    Lumen")
                for g in report.gemm {
                    print("  " + g.shape.padding(toLength: 40, withPad: " ", startingAt: 0)
                          + String(format: "%9.1f %8.1f", g.clblastGFLOPs, g.lumenGFLOPs))
                }
                print("  memory-bound GB/s")
                for b in report.bandwidth {
                    print("  " + b.op.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: "%9.1f", b.gigabytesPerSecond))
                }
            }
        }
    }
}
