import Foundation

/// Writes files so that a crash or kill mid-write leaves the previous file whole:
/// a temporary file in the same folder, fsync, then rename over the target.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        do {
            try replace(url, with: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Puts `complete`, a file already written and synced on the same file system, in
    /// place of `url` in one rename: a reader sees the old file or the new one, never a part.
    public static func replace(_ url: URL, with complete: URL) throws {
        guard rename(complete.path, url.path) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }
}

extension AtomicFile {
    /// Read-modify-write of `url` that other processes doing the same cannot interleave
    /// with: an exclusive `flock` on `<url>.lock` is held while `change` turns the current
    /// contents (nil when there is no file) into the new ones, which are then written
    /// atomically. Returns what `change` returned besides the data.
    public static func update<Result>(_ url: URL, _ change: (Data?) throws -> (data: Data, result: Result)) throws -> Result {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let lockPath = url.path + ".lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT, 0o644)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }
        defer { flock(descriptor, LOCK_UN) }
        let (data, result) = try change(try? Data(contentsOf: url))
        try write(data, to: url)
        return result
    }
}
