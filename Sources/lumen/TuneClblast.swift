import ArgumentParser
import Foundation
import Lumen

struct TuneClblast: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune-clblast",
        abstract: "Tune CLBlast's GEMM kernels for a device with CLBlast's own tuners; later runs use the parameters.",
        discussion: """
            Runs clblast_tuner_xgemm and clblast_tuner_xgemm_direct (Debian's clblast-utils), checks the tuned \
            kernels against a host product, and keeps the parameters in Lumen's cache folder. From then on the \
            device's first GEMM hands them to CLBlast, and Lumen's per-shape timing compares tuned CLBlast with \
            its own kernels. --import takes tuner result files (clblast_*.json) made elsewhere; --clear forgets.
            """)

    @OptionGroup var deviceOption: DeviceOption
    @Option(help: "Fraction of each tuner's first-stage search space to try.") var fraction: Double = 0.002
    @Option(name: .customLong("import"), parsing: .upToNextOption, help: "Tuner result files to use instead of running the tuners.")
    var importFiles: [String] = []
    @Flag(help: "Remove the stored tuning for the device.") var clear = false

    func run() throws {
        try reportingErrors {
            guard fraction > 0, fraction <= 1 else { throw ValidationError("--fraction must be in (0, 1], got \(fraction)") }
            let environment = try RuntimeEnvironment.current()
            let all = try DeviceInfo.all()
            let info = try environment.selector(deviceOption.device).resolve(in: all)
            let file = ClblastTuning.fileURL(for: info, in: environment.device.cacheDirectory)
            if clear {
                try? FileManager.default.removeItem(at: file)
                print("removed the CLBlast tuning for \(info.label) (\(file.path))")
                return
            }
            var tuning = ClblastTuning(kernels: [:])
            if importFiles.isEmpty {
                let indexInPlatform = all.filter { $0.platformIndex == info.platformIndex && $0.index < info.index }.count
                // Progress on standard error, unbuffered: the tuners take minutes.
                tuning = try ClblastTuner.tune(info, indexInPlatform: indexInPlatform, fraction: fraction,
                                               searchPath: environment.searchPath) {
                    FileHandle.standardError.write(Data("\($0)\n".utf8))
                }
            } else {
                tuning = try ClblastTuning(importing: importFiles)
            }
            let error = try tuning.checkAndStore(on: try environment.open(info))
            print("kept tuned CLBlast parameters for \(info.label) in \(file.path) (self-check max error \(error))")
        }
    }
}
