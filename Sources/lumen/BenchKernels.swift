import ArgumentParser
import Foundation
import Lumen

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels",
        abstract: "Measure kernel speeds per device, side by side: GEMM per backend, convolution, memory-bound ops, compile time.")

    @Option(help: "all, or a device selector.") var device: String = "auto"
    @Option(help: "Model whose convolutions to time: xray-cnn, fashion-cnn or a spec.") var shapes: String = "xray-cnn"
    @Option(help: "Batch size for the convolution timings.") var batchSize: Int = 16
    @Option(help: "Timed runs per measurement (the median is kept).") var runs: Int = 3
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
            guard runs >= 1 else { throw ValidationError("--runs must be at least 1, got \(runs)") }
            let environment = try RuntimeEnvironment.current()
            let all = try DeviceInfo.all()
            let chosen = device == "all" ? all : [try DeviceSelector(device).resolve(in: all)]
            let spec = try ModelReference(shapes).spec(classes: 2, inputSize: nil, channels: nil)
            let convolutions = try KernelBenchmark.convShapes(for: spec)
            var reports: [KernelBenchmark.Report] = []
            for info in chosen {
                // Plain status lines on standard error, so --json output stays clean.
                reports.append(try KernelBenchmark.run(device: try environment.open(info), convolutions: convolutions,
                                                       batch: batchSize, runs: runs) { step in
                    FileHandle.standardError.write(Data("\(info.label): \(step)\n".utf8))
                })
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(reports), as: UTF8.self))
            } else {
                print(SideBySide(reports).text)
            }
        }
    }
}

/// The reports as one table: a row per measurement, a column per device (and backend).
private struct SideBySide {
    let reports: [KernelBenchmark.Report]
    init(_ reports: [KernelBenchmark.Report]) { self.reports = reports }

    var text: String {
        guard let first = reports.first else { return "no devices" }
        var lines: [String] = []
        func row(_ label: String, _ cells: [String]) {
            lines.append(label.padding(toLength: 44, withPad: " ", startingAt: 0)
                         + cells.map { $0.leftPadded(to: 12) }.joined())
        }
        for (index, report) in reports.enumerated() { lines.append("device \(index + 1): \(report.device)") }
        let backends = first.gemm.first.map { Array($0.gflops.keys).sorted() } ?? []
        lines.append("")
        row("GEMM GFLOP/s", reports.indices.flatMap { d in backends.map { "\(d + 1):\($0)" } })
        for (i, g) in first.gemm.enumerated() {
            row("  " + g.shape, reports.flatMap { r in backends.map { String(format: "%.1f", r.gemm[i].gflops[$0] ?? 0) } })
        }
        lines.append("")
        row("convolution GFLOP/s (batch \(first.conv.first?.batch ?? 0))", reports.indices.flatMap { d in
            ["\(d + 1):fwd", "\(d + 1):bwd-data", "\(d + 1):bwd-filt"] })
        for (i, c) in first.conv.enumerated() {
            row("  " + c.layer, reports.flatMap { r in
                [r.conv[i].forwardGFLOPs, r.conv[i].backwardDataGFLOPs, r.conv[i].backwardFilterGFLOPs].map { String(format: "%.1f", $0) }
            })
        }
        lines.append("")
        row("memory-bound GB/s", reports.indices.map { "device \($0 + 1)" })
        for (i, b) in first.bandwidth.enumerated() {
            row("  " + b.op, reports.map { String(format: "%.1f", $0.bandwidth[i].gigabytesPerSecond) })
        }
        lines.append("")
        row("seconds", reports.indices.map { "device \($0 + 1)" })
        row("  first kernel in a process", reports.map { String(format: "%.2f", $0.firstKernelSeconds) })
        row("  compile conv.cl, nothing cached", reports.map { String(format: "%.2f", $0.compileColdSeconds) })
        row("  load conv.cl from Lumen's cache", reports.map { String(format: "%.3f", $0.compileWarmSeconds) })
        return lines.joined(separator: "\n")
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? " " + self : String(repeating: " ", count: width - count) + self }
}
