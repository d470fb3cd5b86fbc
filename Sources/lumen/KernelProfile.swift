import Foundation
import Lumen

/// With `LUMEN_PROFILE=1` (the device opened with profiling): where the device time
/// went, per kernel, over the whole command, on standard error (the 15 longest; with
/// `LUMEN_PROFILE=shapes` every kernel and shape); nothing otherwise.
func printKernelProfile(_ device: Device, _ note: String) {
    let profile = device.takeProfile()
    guard !profile.isEmpty else { return }
    let total = profile.reduce(0) { $0 + $1.seconds }
    FileHandle.standardError.write(Data("kernel profile (OpenCL events, \(note)): \(String(format: "%.2f", total)) s of device time\n".utf8))
    for entry in profile.prefix(device.profilesShapes ? profile.count : 15) {
        FileHandle.standardError.write(Data(String(format: "  %5.1f%%  %8.3f s  %6d calls  %@\n", 100 * entry.seconds / max(total, 1e-9),
                                                   entry.seconds, entry.calls, entry.name).utf8))
    }
}
