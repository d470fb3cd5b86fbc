import Foundation

/// The check behind `lumen self-test`: on a device just opened, run and verify a first
/// kernel, then run the CLBlast GEMM self-check, timing each step.
public struct DeviceSelfTest: Encodable {
    public let device: DeviceInfo
    /// Seconds from `start` until a first kernel ran and its result was read back.
    public let firstKernelSeconds: Double
    /// Seconds the GEMM self-check took, compile included.
    public let gemmCheckSeconds: Double
    /// False when CLBlast failed the check and Lumen's own GEMM serves the device.
    public let clblastPassed: Bool
    /// Whether CLBlast ran with tuned parameters (`lumen tune-clblast`).
    public let clblastTuned: Bool
    /// The forced Lumen GEMM that was checked instead of CLBlast (`LUMEN_GEMM=lumen-…`),
    /// CLBlast left unbuilt; nil when CLBlast was checked.
    public let forcedGemm: String?

    /// Throws when the kernel result is wrong or no GEMM passes its check.
    public static func run(_ device: Device, since start: Date) throws -> DeviceSelfTest {
        let probe = try Tensor(on: device, shape: [1000], repeating: 0.5)
        let values = try probe.toArray()
        guard values.allSatisfy({ $0 == 0.5 }) else {
            throw LumenError.shapeMismatch("the fill kernel on \(device.info.name) wrote wrong values")
        }
        let firstKernel = Date().timeIntervalSince(start)
        let gemmStart = Date()
        let planner = GemmPlanner.of(device)
        try planner.requireCheckedGemm()
        return DeviceSelfTest(device: device.info, firstKernelSeconds: firstKernel,
                              gemmCheckSeconds: Date().timeIntervalSince(gemmStart),
                              clblastPassed: planner.clblastUsable, clblastTuned: planner.clblastTuning != nil,
                              forcedGemm: planner.clblastSkipped ? planner.settings.forced?.name : nil)
    }
}
