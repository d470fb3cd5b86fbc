import Foundation
import Testing
@testable import Lumen

/// `lumen self-test --full`: its kernel checks pass on this device in both kernel
/// families, and fail, naming the kernel, when one kernel is broken on purpose.
@Suite struct SelfTestTests {
    /// The test device again, with `program`'s source edited by `breaking`.
    static func brokenDevice(_ program: String, style: KernelStyle, _ breaking: (String) -> String) throws -> Device {
        var options = testDevice.options
        options.kernelStyle = style
        let source = try #require(EmbeddedKernels.sources[program])
        let broken = breaking(source)
        #expect(broken != source, "the edit did not apply to \(program).cl")
        options.kernelSources = [program: broken]
        return try Device.open(testDevice.info, options: options)
    }

    @Test(arguments: KernelStyle.allCases)
    func everyKernelCheckPasses(style: KernelStyle) throws {
        let checks = KernelChecks.run(on: device(for: style))
        for check in checks where !check.passed { Issue.record("\(check.name): \(check.failure ?? "no shape")") }
        #expect(checks.count > 25)
        #expect(checks.allSatisfy { $0.cases > 0 })
        print("\(style): \(checks.count) kernel checks, worst \(checks.map(\.worst).max() ?? .nan)")
    }

    /// Average pooling that divides by one cell too many where a window has more than
    /// three: only "average pool forward" fails, with the shape that showed it.
    @Test(arguments: KernelStyle.allCases)
    func aBrokenKernelIsNamed(style: KernelStyle) throws {
        let broken = try Self.brokenDevice("pool", style: style) {
            $0.replacingOccurrences(of: "total / (float)cells", with: "total / (float)(cells + (cells > 3))")
        }
        let checks = KernelChecks.pooling(on: broken)
        let failed = checks.filter { !$0.passed }
        #expect(failed.map(\.name) == ["average pool forward"])
        #expect(failed.first?.failure?.contains("window") == true, "\(failed.first?.failure ?? "")")
    }

    /// A backward kernel broken where the forward is right: the model step's gradients
    /// disagree with finite differences of its loss (BatchNorm's input gradient loses
    /// its mean-of-dy term in training).
    @Test func aBrokenBackwardKernelFailsTheTrainingStep() throws {
        let style = testDevice.kernelStyle
        let healthy = ModelStepCheck.run(ModelStepCheck.smallSpec(.xrayCNN), named: "xray-cnn", on: testDevice)
        #expect(healthy.passed, "\(healthy.failure ?? "")")
        let broken = try Self.brokenDevice("batchnorm", style: style) {
            $0.replacingOccurrences(of: "- db - xhat * dg", with: "- xhat * dg")
                .replacingOccurrences(of: "- dbeta[c] - xhat", with: "- xhat")
        }
        let step = ModelStepCheck.run(ModelStepCheck.smallSpec(.xrayCNN), named: "xray-cnn", on: broken)
        print("healthy: \(healthy.relativeError), broken: \(step.relativeError) at \(step.worstTensor)")
        #expect(!step.passed)
        #expect(step.failure?.contains("finite differences") == true, "\(step.failure ?? "")")
    }

    /// The command: one line per kernel and a non-zero exit naming the broken kernel,
    /// with the broken source given as `LUMEN_KERNEL_DIR`.
    @Test func theCommandNamesABrokenKernel() throws {
        let folder = try TemporaryFolder()
        let source = try #require(EmbeddedKernels.sources["pool"])
        try source.replacingOccurrences(of: "total / (float)cells", with: "total / (float)(cells + 1)")
            .write(to: folder.url.appendingPathComponent("pool.cl"), atomically: true, encoding: .utf8)
        let result = try LumenProcess.run(["self-test", "--full", "--models", "none", "--kernels", "cpu"],
                                          environment: ["LUMEN_KERNEL_DIR": folder.url.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("cpu average pool forward"), "\(result.stderr)")
        #expect(result.stdout.contains("max pool forward") && result.stdout.contains("FAILED"))
        let unknown = try LumenProcess.run(["self-test", "--full", "--only", "gemm,convolutions"])
        #expect(unknown.status != 0 && unknown.stderr.split(separator: "\n").count == 1)
        #expect(unknown.stderr.contains("--only=convolutions") && unknown.stderr.contains("conv2d"), "\(unknown.stderr)")
        let healthy = try LumenProcess.run(["self-test", "--full", "--models", "fashion-cnn", "--kernels", "gpu"])
        #expect(healthy.status == 0, "\(healthy.stderr)")
        #expect(healthy.stdout.contains("fashion-cnn") && healthy.stdout.contains("self-test passed"))
    }
}
