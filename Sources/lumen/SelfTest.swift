import ArgumentParser
import Foundation
import Lumen

struct SelfTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "self-test",
        abstract: "Check that a device computes correctly: a first kernel and the GEMM check, or with --full every kernel and a training step of each built-in.",
        discussion: """
            --full runs every kernel of both kernel families (CPU-style and GPU-style) on small \
            shapes, 1×1 to 4×4 maps included, against plain-Swift references, one line per \
            kernel; then one training step of each built-in at a small input, its gradient \
            against finite differences of the loss and its SGD update against the host. \
            With LUMEN_GEMM=lumen CLBlast is never compiled (a short run under a simulator).
            """)

    @OptionGroup var deviceOption: DeviceOption
    @Flag(help: "Check every kernel and a training step of each built-in.") var full = false
    @Option(help: ArgumentHelp("With --full: the built-ins to train a step of, comma-separated, or all, or none.",
                               valueName: "names")) var models = "all"
    @Option(help: ArgumentHelp("With --full: the kernel families to check (cpu, gpu, or both).", valueName: "families"))
    var kernels = "cpu,gpu"
    @Option(help: ArgumentHelp("With --full: only these groups of kernel checks, comma-separated (gemm, conv2d, direct, winograd, depthwise, pooling, global-pooling, batchnorm, activations, reductions, layout, elementwise, dropout, loss).",
                               valueName: "groups")) var only: String?
    @Flag(help: "Print the results as JSON.") var json = false

    func run() throws {
        let start = Date()
        try reportingErrors {
            if full {
                try runFull()
                return
            }
            let report = try DeviceSelfTest.run(try deviceOption.open(), since: start)
            if json {
                print(try encodedJSON(report))
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

    private func runFull() throws {
        let families = try kernels.split(separator: ",").map { name -> KernelStyle in
            guard let style = KernelStyle(rawValue: name.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw LumenError.invalidSetting(name: "--kernels", value: String(name), valid: KernelStyle.allCases.map(\.rawValue))
            }
            return style
        }
        // Built-ins at their small inputs; model files (spec, Keras) at their own size.
        let specs: [(name: String, spec: ModelSpec)]
        switch models.lowercased() {
        case "all": specs = BuiltinModel.allCases.map { ($0.rawValue, ModelStepCheck.smallSpec($0)) }
        case "none", "": specs = []
        default:
            specs = try models.split(separator: ",").map { item in
                let name = String(item)
                if let builtin = BuiltinModel(rawValue: name) { return (name, ModelStepCheck.smallSpec(builtin)) }
                guard FileManager.default.fileExists(atPath: name) else {
                    throw LumenError.invalidSetting(name: "--models", value: name,
                                                    valid: ["all", "none", "a model file"] + BuiltinModel.allCases.map(\.rawValue))
                }
                return (name, try ModelReference(name).spec(classes: 3, inputSize: nil, channels: nil))
            }
        }
        let groups = try only.map { list in
            try Set(list.split(separator: ",").map { name -> String in
                guard KernelChecks.groups.contains(where: { $0.name == name }) else {
                    throw LumenError.invalidSetting(name: "--only", value: String(name), valid: KernelChecks.groups.map(\.name))
                }
                return String(name)
            })
        }
        let environment = try RuntimeEnvironment.current()
        let selector = environment.selector(deviceOption.device)
        var report = FullSelfTest()
        var firstLogits: [String: [Float]] = [:]
        for family in families {
            var options = environment
            options.device.kernelStyle = family
            let device = try options.open(selector)
            report.device = device.info.label
            if !json { print("\(device.info.label), \(family.rawValue)-style kernels:") }
            report.kernels += KernelChecks.run(on: device, only: groups) { check in
                if !json { print(Self.line(check)) }
            }
            for (name, spec) in specs {
                var step = ModelStepCheck.run(spec, named: name, on: device)
                if let earlier = firstLogits[name], step.passed {
                    let worst = zip(step.logits, earlier).map { abs($0 - $1) / (abs($1) + 1) }.max() ?? .infinity
                    if !(worst <= 1e-3) {
                        step.failure = "its logits differ from the other kernel family's by \(worst)"
                        step.passed = false
                    }
                } else if step.passed {
                    firstLogits[name] = step.logits
                }
                if !json { print(Self.line(step)) }
                report.models.append(step)
            }
        }
        let failed = report.kernels.filter { !$0.passed }.map { "\($0.family) \($0.name)" }
            + report.models.filter { !$0.passed }.map { "\($0.family) \($0.model) training step" }
        report.passed = failed.isEmpty
        if json { print(try encodedJSON(report)) }
        guard failed.isEmpty else {
            fail("self-test failed on \(report.device): \(failed.count) of \(report.kernels.count + report.models.count) checks: "
                 + failed.joined(separator: ", "))
        }
        if !json { print("self-test passed: \(report.kernels.count) kernel checks and \(report.models.count) training steps") }
    }

    /// What `--full --json` prints.
    struct FullSelfTest: Encodable {
        var device = ""
        var kernels: [KernelCheck] = []
        var models: [ModelStepCheck] = []
        var passed = false
    }

    static func line(_ check: KernelCheck) -> String {
        let verdict = check.passed ? "ok" : "FAILED: \(check.failure ?? "no shape compared")"
        return String(format: "  %@ %@ %4d shapes  max error %.1e (limit %.0e)  %@",
                      check.family, check.name.padding(toLength: 54, withPad: " ", startingAt: 0), check.cases, Double(check.worst), Double(check.tolerance), verdict)
    }

    static func line(_ step: ModelStepCheck) -> String {
        let verdict = step.passed ? "ok" : "FAILED: \(step.failure ?? "")"
        return String(format: "  %@ %@ %3d² training step  %2d tensors' gradients vs finite differences off by ≤ %.1e (limit %.0e), SGD update off by %.0e  %.1f s  %@",
                      step.family, step.model.padding(toLength: 18, withPad: " ", startingAt: 0), step.inputSize,
                      step.tensorsChecked, step.relativeError, step.tolerance,
                      Double(step.updateError), step.seconds, verdict)
    }
}

func encodedJSON<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
