import ArgumentParser
import Foundation
import Lumen

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every OpenCL device and mark the one `auto` picks.",
        discussion: "With --device, also show which device that selector resolves to.")

    @OptionGroup var deviceOption: DeviceOption
    @Flag(help: "Print the same data as JSON.") var json = false

    /// One row of `--json` output.
    struct Entry: Encodable {
        let device: DeviceInfo
        let auto: Bool
        let selected: Bool

        func encode(to encoder: Encoder) throws {
            try device.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(auto, forKey: .auto)
            try container.encode(selected, forKey: .selected)
        }

        enum Keys: String, CodingKey { case auto, selected }
    }

    func run() throws {
        try reportingErrors {
            let devices = try DeviceInfo.all()
            let automatic = DeviceSelector.auto.match(in: devices)
            let selected = deviceOption.device == nil ? nil : try deviceOption.selector.resolve(in: devices)
            if json {
                let entries = devices.map {
                    Entry(device: $0, auto: $0.index == automatic?.index, selected: $0.index == selected?.index)
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(entries), as: UTF8.self))
                return
            }
            let environment = try RuntimeEnvironment.current()
            if environment.launchedByMPI {
                // Under mpirun: the world, and the device each rank would train on.
                let group = try ProcessGroup.mpi()
                defer { group.finish() }
                let chosen = try environment.selector(deviceOption.device, localRank: group.localRank).resolve(in: devices)
                if group.isMain {
                    print(DeviceTable.render(devices, auto: automatic?.index, selected: nil))
                    print("MPI world: \(group.size) ranks")
                }
                fflush(stdout)
                var ranks = [Float](repeating: 0, count: group.size)
                ranks[group.rank] = 1
                try group.sum(&ranks)  // every rank has its table out before the rank lines
                print("rank \(group.rank) of \(group.size) (local rank \(group.localRank)): \(chosen.label)")
                return
            }
            print(DeviceTable.render(devices, auto: automatic?.index, selected: selected?.index))
            if let selected {
                print("--device \(deviceOption.selector) → \(selected.label)")
            }
        }
    }
}

/// The `lumen devices` table.
enum DeviceTable {
    static func render(_ devices: [DeviceInfo], auto: Int?, selected: Int?) -> String {
        let header = ["", "#", "platform", "name", "type", "vendor", "CUs", "clock", "memory", "OpenCL C"]
        var rows = [header]
        for device in devices {
            var mark = device.index == auto ? "auto" : ""
            if device.index == selected { mark += mark.isEmpty ? "selected" : ",selected" }
            rows.append([
                mark, String(device.index), device.platform, device.name, device.kind.rawValue, device.vendor,
                String(device.computeUnits), "\(device.clockMHz) MHz",
                String(format: "%.1f GiB", Double(device.globalMemoryBytes) / 1_073_741_824),
                device.openCLCVersion,
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            zip(row, widths).map { cell, width in cell.padding(toLength: width, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n")
    }
}
