import CLShim
import Foundation

/// Compiled program binaries on disk, so a second process skips the OpenCL compiler.
///
/// Entries live in `<directory>/programs/<key>.bin`, where the key hashes the kernel
/// source, the build options, the platform, the device name and the driver version, so a
/// changed kernel or an updated driver never meets a stale binary. Each file carries a
/// magic, its payload length and a checksum; a corrupt, truncated or rejected entry is
/// rebuilt from source and replaced, never fatal.
struct ProgramCache {
    let directory: URL
    /// Told when a program is compiled from source (seconds, on first use).
    var reporter: Reporter = .silent

    /// `LUMEN_CACHE_DIR`, else `~/.cache/lumen` (or `$XDG_CACHE_HOME/lumen`), from the
    /// environment the CLI read.
    static func defaultDirectory(environment: [String: String]) -> URL {
        if let override = environment["LUMEN_CACHE_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("lumen")
        }
        let home = environment["HOME"].map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache/lumen", isDirectory: true)
    }

    private static let magic = Array("LUMENPRG".utf8)
    private static let formatVersion: UInt32 = 1

    /// A per-device file in the cache folder `directory`, `<prefix>-<hash>.json`, the hash
    /// taken over the platform, device name, driver version and `extra`.
    static func deviceFileURL(_ prefix: String, for device: DeviceInfo, in directory: URL, keyedAlsoBy extra: [String] = []) -> URL {
        let key = ([device.platform, device.name, device.driverVersion] + extra).joined(separator: "\u{0}")
        return directory.appendingPathComponent("\(prefix)-\(StableHash.hex128(key)).json")
    }

    /// The cache file for a program; exposed for tests that corrupt it.
    func entryURL(source: String, options: String, device: DeviceInfo) -> URL {
        let key = [source, options, device.platform, device.name, device.deviceVersion, device.driverVersion]
            .joined(separator: "\u{0}")
        return directory.appendingPathComponent("programs", isDirectory: true)
            .appendingPathComponent(StableHash.hex128(key) + ".bin")
    }

    /// A built program for `device`: from the cached binary when it loads, else compiled
    /// from `source` and stored for next time.
    func build(name: String, source: String, options: String, on device: Device) throws -> OpaquePointer {
        let url = entryURL(source: source, options: options, device: device.info)
        if let binary = readEntry(url) {
            var program: OpaquePointer?
            let status = binary.withUnsafeBufferPointer { bytes in
                lm_program_build_binary(device.handle, bytes.baseAddress, bytes.count, options, &program, nil, 0)
            }
            if status == 0, let program { return program }
            // A binary the driver rejects is stale: fall through and rebuild.
        }
        reporter.note("compiling the '\(name)' kernels for \(device.info.name) (first use; cached afterwards)")
        var program: OpaquePointer?
        var log = [CChar](repeating: 0, count: 64 * 1024)
        let status = lm_program_build_source(device.handle, source, options, &program, &log, log.count)
        if status == CL_BUILD_PROGRAM_FAILURE {
            let logText = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let logURL = writeBuildLog(name: name, device: device.info, log: logText)
            throw LumenError.kernelBuildFailed(program: name, device: device.info.name, logFile: logURL.path)
        }
        try check(status, "building kernel program \(name) on \(device.info.name)")
        guard let program else { throw CLError(status: CL_INVALID_PROGRAM, operation: "building \(name)") }
        storeBinary(of: program, at: url)
        return program
    }

    private func readEntry(_ url: URL) -> [UInt8]? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        let bytes = [UInt8](data)
        let headerSize = ProgramCache.magic.count + 4 + 8 + 8
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == ProgramCache.magic else { return nil }
        let version = bytes.readLittleEndian(UInt32.self, at: 8)
        let length = bytes.readLittleEndian(UInt64.self, at: 12)
        let checksum = bytes.readLittleEndian(UInt64.self, at: 20)
        guard version == ProgramCache.formatVersion, UInt64(bytes.count - headerSize) == length else { return nil }
        let payload = Array(bytes[headerSize...])
        guard StableHash.fnv1a64(payload) == checksum else { return nil }
        return payload
    }

    /// Saves the program's binary. Failing to cache is not an error: the next run
    /// compiles again.
    private func storeBinary(of program: OpaquePointer, at url: URL) {
        var size = 0
        guard lm_program_binary(program, nil, 0, &size) == 0, size > 0 else { return }
        var payload = [UInt8](repeating: 0, count: size)
        guard lm_program_binary(program, &payload, size, &size) == 0 else { return }
        var file = ProgramCache.magic
        file.appendLittleEndian(ProgramCache.formatVersion)
        file.appendLittleEndian(UInt64(payload.count))
        file.appendLittleEndian(StableHash.fnv1a64(payload))
        file += payload
        try? AtomicFile.write(Data(file), to: url)
    }

    private func writeBuildLog(name: String, device: DeviceInfo, log: String) -> URL {
        let folder = directory.appendingPathComponent("build-logs", isDirectory: true)
        let safeDevice = device.name.map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let safeName = name.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "-" }
        let url = folder.appendingPathComponent("\(String(safeName))-\(String(safeDevice)).log")
        let text = "program: \(name)\ndevice: \(device.label)\ndriver: \(device.driverVersion)\n\n\(log)\n"
        if (try? AtomicFile.write(Data(text.utf8), to: url)) != nil { return url }
        let fallback = FileManager.default.temporaryDirectory.appendingPathComponent("lumen-\(String(safeName))-build.log")
        try? Data(text.utf8).write(to: fallback)
        return fallback
    }
}

extension Array where Element == UInt8 {
    func readLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        for byte in 0..<MemoryLayout<T>.size {
            value |= T(self[offset + byte]) << (8 * byte)
        }
        return value
    }

    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        for byte in 0..<MemoryLayout<T>.size {
            append(UInt8(truncatingIfNeeded: value >> (8 * byte)))
        }
    }
}
