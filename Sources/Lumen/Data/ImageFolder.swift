import Foundation

/// A folder of images, one subfolder per class: Keras' `flow_from_directory` layout.
///
/// Classes are the subfolder names sorted as Keras sorts them (by code point); files are
/// walked recursively in sorted order. PNG and JPEG files are used. Other formats Keras
/// accepts (bmp, ppm, tif, tiff) are counted, not decoded, and reported in one warning;
/// hidden files and other files are counted and ignored.
public struct ImageFolder: Sendable {
    /// One image and its class index.
    public struct Sample: Equatable, Sendable {
        public let url: URL
        public let label: Int
    }

    public let root: URL
    public let classes: [String]
    public private(set) var samples: [Sample]
    /// Files with a Keras image extension that Lumen does not decode, by extension.
    public let undecodable: [String: Int]
    public let hiddenFiles: Int
    public let otherFiles: Int
    /// Classes whose folder holds no usable image.
    public var emptyClasses: [String] {
        let used = Set(samples.map(\.label))
        return classes.indices.filter { !used.contains($0) }.map { classes[$0] }
    }

    static let decodable: Set<String> = ["png", "jpg", "jpeg"]

    /// Scans `root`. `classes`, when given (from the training folder or a checkpoint),
    /// fixes the class list and order; a subfolder not in it is an error.
    public init(root: URL, classes fixed: [String]? = nil) throws {
        func fail(_ reason: String) -> DataError { DataError(path: root.path, reason: reason) }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isFolder) else {
            throw fail("no such folder")
        }
        guard isFolder.boolValue else { throw fail("is a file; expected a folder with one subfolder per class") }
        let entries: [URL]
        do {
            entries = try FileManager.default.contentsOfDirectory(at: root, includingPropertiesForKeys: [.isDirectoryKey])
        } catch {
            throw fail("cannot be listed (\((error as NSError).localizedDescription))")
        }
        let found = entries.filter { !$0.lastPathComponent.hasPrefix(".") && ImageFolder.isFolder($0) }
            .map(\.lastPathComponent).sorted { Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) }
        guard !found.isEmpty else {
            throw fail("has no class subfolders; expected one folder per class (e.g. NORMAL/, PNEUMONIA/) holding images")
        }
        let classes = fixed ?? found
        if let fixed {
            let unknown = found.filter { !fixed.contains($0) }
            guard unknown.isEmpty else {
                throw fail("has class folders \(unknown) that the model does not know; its classes are \(fixed)")
            }
        }
        var samples: [Sample] = []
        var undecodable: [String: Int] = [:]
        var hidden = 0, other = 0
        for (label, name) in classes.enumerated() {
            let folder = root.appendingPathComponent(name, isDirectory: true)
            guard FileManager.default.fileExists(atPath: folder.path) else { continue }
            guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else {
                throw DataError(path: folder.path, reason: "cannot be listed")
            }
            var files: [URL] = []
            for case let file as URL in walker {
                let name = file.lastPathComponent
                if name.hasPrefix(".") {
                    hidden += 1
                    if ImageFolder.isFolder(file) { walker.skipDescendants() }
                    continue
                }
                if ImageFolder.isFolder(file) { continue }
                let ext = file.pathExtension.lowercased()
                if ImageFolder.decodable.contains(ext) {
                    files.append(file)
                } else if ImageFiles.extensions.contains(ext) {
                    undecodable[ext, default: 0] += 1
                } else {
                    other += 1
                }
            }
            files.sort { $0.path < $1.path }
            samples += files.map { Sample(url: $0, label: label) }
        }
        guard !samples.isEmpty else {
            throw fail("holds no PNG or JPEG images in its class folders \(found)")
        }
        self.root = root
        self.classes = classes
        self.samples = samples
        self.undecodable = undecodable
        self.hiddenFiles = hidden
        self.otherFiles = other
    }

    static func isFolder(_ url: URL) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue
    }

    /// Keras' `validation_split`: the first `fraction` of each class's sorted files is
    /// validation, the rest training.
    public func split(validation fraction: Double) throws -> (training: ImageFolder, validation: ImageFolder) {
        guard fraction > 0, fraction < 1 else {
            throw DataError(path: root.path, reason: "validation split must be between 0 and 1, got \(fraction)")
        }
        var training = self, validation = self
        training.samples = []
        validation.samples = []
        for label in classes.indices {
            let ofClass = samples.filter { $0.label == label }
            let cut = Int(fraction * Double(ofClass.count))
            validation.samples += ofClass.prefix(cut)
            training.samples += ofClass.dropFirst(cut)
        }
        guard !validation.samples.isEmpty else {
            throw DataError(path: root.path, reason: emptySplit(fraction, largestClass: classCounts.max() ?? 0))
        }
        return (training, validation)
    }

    /// Lines worth telling the user about the scan: skipped formats, empty classes.
    public var warnings: [String] {
        var lines: [String] = []
        if !undecodable.isEmpty {
            let counts = undecodable.keys.sorted().map { "\(undecodable[$0]!) .\($0)" }.joined(separator: ", ")
            lines.append("\(root.path): skipped \(counts) file(s): Lumen decodes PNG and JPEG only; convert them to use them")
        }
        for name in emptyClasses { lines.append("\(root.path)/\(name): class folder has no PNG or JPEG images") }
        return lines
    }

    /// Per-class image counts.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classes.count)
        for sample in samples { counts[sample.label] += 1 }
        return counts
    }
}

/// A problem with a data folder or file; names the path.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Why a validation split took no sample: each class's first `fraction` rounds down to
/// none (Keras' rule), and the smallest fraction that would take one.
func emptySplit(_ fraction: Double, largestClass: Int) -> String {
    let least = largestClass > 0 ? String(format: "%.3g", 1 / Double(largestClass)) : "–"
    return "validation split \(fraction) takes no sample: the first \(fraction) of each class (at most \(largestClass)) rounds down to none; use at least \(least)"
}
