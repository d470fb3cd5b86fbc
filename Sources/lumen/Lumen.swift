import ArgumentParser
import Foundation
import Lumen

@main
struct LumenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lumen",
        abstract: "Train and evaluate image classifiers on any OpenCL device.",
        subcommands: [Devices.self, SelfTest.self, Init.self, Summary.self, Predict.self, PreviewAugment.self, BenchData.self, Train.self, Evaluate.self, GradCam.self, BenchTrain.self, BenchKernels.self, TuneClblast.self, ExtractFeatures.self, Combine.self, ImportKeras.self, ExportOnnx.self]
    )
}

/// `--device`, shared by every subcommand that runs kernels.
struct DeviceOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Device: auto, cpu, gpu, gpu:N, an index from `lumen devices`, or part of a device name; for `train`, several separated by commas, or all-gpus. Defaults to $LUMEN_DEVICE, then auto.",
        valueName: "selector"))
    var device: String?

    var selector: DeviceSelector { DeviceSelector.resolveFlag(device, environment: ProcessInfo.processInfo.environment) }
}

/// Runs `body`; a Lumen or OpenCL error becomes one line on stderr and exit status 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as LumenError {
        fail(error.description)
    } catch let error as CLError {
        fail(error.description)
    } catch let error as SafeTensors.FormatError {
        fail(error.description)
    } catch let error as CheckpointError {
        fail(error.description)
    } catch let error as ImageError {
        fail(error.description)
    } catch let error as DataError {
        fail(error.description)
    }
}

/// The MPI job this process belongs to, set once by `train` under mpirun: an error on
/// any rank is told with its rank and stops every rank.
enum MPIJob {
    nonisolated(unsafe) static var current: ProcessGroup?
}

func fail(_ message: String) -> Never {
    if let group = MPIJob.current, group.size > 1 {
        FileHandle.standardError.write(Data("lumen: error: rank \(group.rank) of \(group.size): \(message); stopping every rank\n".utf8))
        group.abortAll()
        exit(1)
    }
    FileHandle.standardError.write(Data("lumen: error: \(message)\n".utf8))
    exit(1)
}

/// One warning line on stderr.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("lumen: warning: \(message)\n".utf8))
}

extension Checkpoint {
    /// The checkpoint at `path`; with `base` (`--base`), a head trained on that base's
    /// features, joined to it.
    init(contentsOf path: URL, joinedTo base: String?, device: Device) throws {
        self = try Checkpoint(contentsOf: path)
        if let base {
            self = try TransferComposition.combine(base: try Checkpoint(contentsOf: URL(fileURLWithPath: base)), head: self, device: device)
        }
    }
}
