import Foundation
import Testing
@testable import Lumen

private let fixtureImages = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/images")

/// Writes a PNG of one flat colour.
func writePNG(_ url: URL, width: Int = 12, height: Int = 10, value: UInt8 = 128, channels: Int = 3) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    let image = Image(width: width, height: height, channels: channels,
                      pixels: [UInt8](repeating: value, count: width * height * channels))
    try image.pngData().write(to: url)
}

@Suite struct ImageFolderTests {
    @Test func classesAndFilesFollowKerasOrder() throws {
        let folder = try TemporaryFolder()
        let root = folder.url
        try writePNG(root.appendingPathComponent("b_class/2.png"))
        try writePNG(root.appendingPathComponent("b_class/10.PNG"))
        try writePNG(root.appendingPathComponent("b_class/sub/1.png"))
        try writePNG(root.appendingPathComponent("B_upper/x.png"))
        try writePNG(root.appendingPathComponent("a_class/z.png"))
        try FileManager.default.copyItem(at: fixtureImages.appendingPathComponent("rgb.jpg"),
                                         to: root.appendingPathComponent("a_class/y.JPEG"))
        try Data("x".utf8).write(to: root.appendingPathComponent("a_class/.hidden.png"))
        try Data("notes".utf8).write(to: root.appendingPathComponent("a_class/notes.txt"))
        try Data("bmp".utf8).write(to: root.appendingPathComponent("a_class/old.bmp"))
        try Data("tif".utf8).write(to: root.appendingPathComponent("a_class/scan.TIFF"))
        let images = try ImageFolder(root: root)
        // Keras sorts class names by code point: upper case first.
        #expect(images.classes == ["B_upper", "a_class", "b_class"])
        #expect(images.samples.map(\.url.lastPathComponent) == ["x.png", "y.JPEG", "z.png", "10.PNG", "2.png", "1.png"])
        #expect(images.samples.map(\.label) == [0, 1, 1, 2, 2, 2])
        #expect(images.hiddenFiles == 1)
        #expect(images.otherFiles == 1)
        #expect(images.undecodable == ["bmp": 1, "tiff": 1])
        #expect(images.warnings.count == 1)
        #expect(images.warnings[0].contains("1 .bmp, 1 .tiff"))
    }

    @Test func validationSplitTakesTheFirstFractionOfEachClass() throws {
        let folder = try TemporaryFolder()
        for i in 0..<10 { try writePNG(folder.url.appendingPathComponent("cat/\(i).png")) }
        for i in 0..<5 { try writePNG(folder.url.appendingPathComponent("dog/\(i).png")) }
        let (training, validation) = try ImageFolder(root: folder.url).split(validation: 0.25)
        // int(0.25 * 10) = 2 and int(0.25 * 5) = 1, the first files of each class.
        #expect(validation.samples.map(\.url.lastPathComponent) == ["0.png", "1.png", "0.png"])
        #expect(training.samples.count == 12)
        #expect(training.classes == validation.classes)
        #expect(throws: DataError.self) { try ImageFolder(root: folder.url).split(validation: 1.5) }
        // int(0.09 * 10) = 0 and int(0.09 * 5) = 0: no validation image is an error, with
        // the least fraction that takes one (1/10).
        #expect(throws: DataError(path: folder.url.path, reason: "validation split 0.09 takes no sample: the first 0.09 of each "
                                  + "class (at most 10) rounds down to none; use at least 0.1")) {
            try ImageFolder(root: folder.url).split(validation: 0.09)
        }
        #expect(try ImageFolder(root: folder.url).split(validation: 0.1).validation.samples.count == 1)
    }

    /// `lumen bench-data` counts the images it decoded, and a folder of none it can read is
    /// an error naming it, not a rate of 0.
    @Test func dataBenchmarkCountsImagesAndRefusesAnUnreadableFolder() throws {
        let folder = try TemporaryFolder()
        for i in 0..<5 { try writePNG(folder.url.appendingPathComponent("cat/\(i).png")) }
        try Data("not an image".utf8).write(to: folder.url.appendingPathComponent("cat/bad.png"))
        let options = LoaderOptions(height: 8, width: 8, channels: 3)
        #expect(try DataBenchmark.run(folder: ImageFolder(root: folder.url), options: options, threads: 1).images == 5)
        for i in 0..<5 { try Data("not an image".utf8).write(to: folder.url.appendingPathComponent("cat/\(i).png")) }
        #expect(throws: DataError(path: folder.url.path, reason: "no image could be read (6 unusable files)")) {
            try DataBenchmark.run(folder: ImageFolder(root: folder.url), options: options, threads: 1)
        }
    }

    @Test func emptyClassIsKeptAndReported() throws {
        let folder = try TemporaryFolder()
        try writePNG(folder.url.appendingPathComponent("NORMAL/a.png"))
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("PNEUMONIA"), withIntermediateDirectories: true)
        let images = try ImageFolder(root: folder.url)
        #expect(images.classes == ["NORMAL", "PNEUMONIA"])
        #expect(images.emptyClasses == ["PNEUMONIA"])
        #expect(images.warnings.contains { $0.hasSuffix("PNEUMONIA: class folder has no PNG or JPEG images") })
    }

    @Test(arguments: ["missing", "no-classes", "no-images", "a-file"])
    func unusableFoldersAreNamed(kind: String) throws {
        let folder = try TemporaryFolder()
        var root = folder.url.appendingPathComponent("data")
        switch kind {
        case "no-classes": try writePNG(root.appendingPathComponent("loose.png"))
        case "no-images": try Data("x".utf8).write(to: { try! FileManager.default.createDirectory(at: root.appendingPathComponent("cls"), withIntermediateDirectories: true); return root.appendingPathComponent("cls/readme.txt") }())
        case "a-file": try writePNG(root); root = root.appendingPathExtension("")
        default: break
        }
        do {
            _ = try ImageFolder(root: root)
            Issue.record("\(kind) accepted")
        } catch let error as DataError {
            #expect(error.path.hasSuffix("data"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func classesFromTheModelFixTheOrder() throws {
        let folder = try TemporaryFolder()
        try writePNG(folder.url.appendingPathComponent("dog/a.png"))
        let images = try ImageFolder(root: folder.url, classes: ["cat", "dog"])
        #expect(images.samples.map(\.label) == [1])
        try writePNG(folder.url.appendingPathComponent("horse/a.png"))
        #expect(throws: DataError.self) { try ImageFolder(root: folder.url, classes: ["cat", "dog"]) }
    }
}

@Suite struct BatchLoaderTests {
    /// 3 classes × 7 images, each image a flat grey encoding its class and number.
    func makeFolder() throws -> (TemporaryFolder, ImageFolder) {
        let folder = try TemporaryFolder()
        for label in 0..<3 {
            for i in 0..<7 {
                try writePNG(folder.url.appendingPathComponent("c\(label)/\(i).png"), value: UInt8(label * 80 + i))
            }
        }
        return (folder, try ImageFolder(root: folder.url))
    }

    func collect(_ loader: BatchLoader, epoch: Int) throws -> [Batch] {
        let stream = loader.epoch(epoch)
        var batches: [Batch] = []
        while let batch = try stream.next() { batches.append(batch) }
        return batches
    }

    @Test func batchesAreNCHWWithLabelsAndAPartialLastBatch() throws {
        let (folder, images) = try makeFolder()
        defer { withExtendedLifetime(folder) {} }
        var options = LoaderOptions(height: 4, width: 5, channels: 1)
        options.batchSize = 8
        options.shuffle = false
        let batches = try collect(try BatchLoader(folder: images, options: options), epoch: 0)
        #expect(batches.map(\.labels.count) == [8, 8, 5])
        #expect(batches[0].shape == [8, 1, 4, 5])
        #expect(batches.flatMap(\.labels) == images.samples.map(\.label))
        // Flat images: every input of sample i is its grey level / 255.
        for (n, label) in batches[1].labels.enumerated() {
            let values = batches[1].inputs[(n * 20)..<((n + 1) * 20)]
            let file = batches[1].files[n].deletingPathExtension().lastPathComponent
            #expect(values.allSatisfy { abs($0 - Float(label * 80 + Int(file)!) / 255) < 1e-6 })
        }
    }

    @Test func shuffleRepeatsForASeedAndChangesPerEpoch() throws {
        let (folder, images) = try makeFolder()
        defer { withExtendedLifetime(folder) {} }
        var options = LoaderOptions(height: 4, width: 4, channels: 3)
        options.seed = 42
        let loader = try BatchLoader(folder: images, options: options)
        #expect(loader.order(epoch: 1) == (try BatchLoader(folder: images, options: options)).order(epoch: 1))
        #expect(loader.order(epoch: 1) != loader.order(epoch: 2))
        #expect(loader.order(epoch: 1).sorted() == Array(images.samples.indices))
    }

    @Test func augmentedBatchesDoNotDependOnThreadCount() throws {
        let (folder, images) = try makeFolder()
        defer { withExtendedLifetime(folder) {} }
        var options = LoaderOptions(height: 9, width: 9, channels: 3)
        var augmentation = Augmentation()
        augmentation.rotationRange = 40
        augmentation.horizontalFlip = true
        augmentation.zoomRange = [0.7, 1.3]
        options.augmentation = augmentation
        options.batchSize = 5
        options.workers = 1
        let one = try collect(try BatchLoader(folder: images, options: options), epoch: 3)
        options.workers = 3
        options.prefetch = 4
        let three = try collect(try BatchLoader(folder: images, options: options), epoch: 3)
        #expect(one.map(\.inputs) == three.map(\.inputs))
        #expect(one.map(\.labels) == three.map(\.labels))
    }

    @Test func badFilesAreReportedOnceAndSkipped() throws {
        let (folder, _) = try makeFolder()
        defer { withExtendedLifetime(folder) {} }
        let badDir = folder.url.appendingPathComponent("c1")
        try Data().write(to: badDir.appendingPathComponent("zero.png"))
        try Data("text".utf8).write(to: badDir.appendingPathComponent("text.jpg"))
        try FileManager.default.copyItem(at: fixtureImages.appendingPathComponent("truncated.jpg"), to: badDir.appendingPathComponent("cut.jpg"))
        try FileManager.default.copyItem(at: fixtureImages.appendingPathComponent("huge.png"), to: badDir.appendingPathComponent("huge.png"))
        #expect(try writeBadCRC(badDir.appendingPathComponent("crc.png")) > 0)
        try FileManager.default.createSymbolicLink(at: badDir.appendingPathComponent("gone.png"),
                                                   withDestinationURL: folder.url.appendingPathComponent("nowhere.png"))
        try writePNG(badDir.appendingPathComponent("tiny.png"), width: 1, height: 1)
        let images = try ImageFolder(root: folder.url)
        var options = LoaderOptions(height: 6, width: 6, channels: 3)
        options.batchSize = 4
        let loader = try BatchLoader(folder: images, options: options)
        let reported = ReportLog()
        loader.badFile = { reported.add($0) }
        let first = try collect(loader, epoch: 0)
        let second = try collect(loader, epoch: 1)
        let expectedBad = ["zero.png", "text.jpg", "cut.jpg", "huge.png", "crc.png", "gone.png"]
        #expect(Set(reported.files.map { URL(fileURLWithPath: $0).lastPathComponent }) == Set(expectedBad))
        #expect(reported.files.count == expectedBad.count)  // once each, not once per epoch
        let good = images.samples.count - expectedBad.count  // tiny.png is good
        #expect(first.reduce(0) { $0 + $1.labels.count } == good)
        #expect(second.reduce(0) { $0 + $1.labels.count } == good)
        #expect(reported.messages.allSatisfy { !$0.contains("\n") })
    }

    /// Print exports (CMYK and YCCK JPEGs) load like any other image: none skipped,
    /// even in strict mode, in both colour modes.
    @Test(arguments: [1, 3])
    func cmykAndYcckJpegsLoadWithNoFileSkipped(channels: Int) throws {
        let folder = try TemporaryFolder()
        for (index, name) in ["cmyk.jpg", "ycck.jpg", "cmyk.jpg", "rgb.jpg"].enumerated() {
            let target = folder.url.appendingPathComponent(index % 2 == 0 ? "a" : "b").appendingPathComponent("\(index)-\(name)")
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: fixtureImages.appendingPathComponent(name), to: target)
        }
        var options = LoaderOptions(height: 8, width: 8, channels: channels)
        options.batchSize = 3
        options.strict = true
        let loader = try BatchLoader(folder: try ImageFolder(root: folder.url), options: options)
        let reported = ReportLog()
        loader.badFile = { reported.add($0) }
        let batches = try collect(loader, epoch: 0)
        #expect(reported.files.isEmpty)
        #expect(batches.reduce(0) { $0 + $1.labels.count } == 4)
    }

    @Test func strictModeStopsAtTheFirstBadFile() throws {
        let (folder, _) = try makeFolder()
        defer { withExtendedLifetime(folder) {} }
        try Data("text".utf8).write(to: folder.url.appendingPathComponent("c2/0bad.jpg"))
        var options = LoaderOptions(height: 6, width: 6, channels: 1)
        options.strict = true
        options.shuffle = false
        let loader = try BatchLoader(folder: try ImageFolder(root: folder.url), options: options)
        do {
            _ = try collect(loader, epoch: 0)
            Issue.record("strict loading went past a bad file")
        } catch let error as ImageError {
            #expect(error.file.hasSuffix("0bad.jpg"))
        }
    }

    @Test func droppingAStreamMidEpochStopsItsThread() throws {
        let (folder, images) = try makeFolder()
        defer { withExtendedLifetime(folder) {} }
        var options = LoaderOptions(height: 4, width: 4, channels: 1)
        options.batchSize = 2
        let loader = try BatchLoader(folder: images, options: options)
        for epoch in 0..<20 {
            let stream = loader.epoch(epoch)
            _ = try stream.next()
        }
        // Reaching here without hanging is the check; a last full epoch still works.
        #expect(try collect(loader, epoch: 99).count == 11)
    }

    /// A PNG whose IDAT checksum is wrong.
    func writeBadCRC(_ url: URL) throws -> Int {
        try writePNG(url)
        var bytes = [UInt8](try Data(contentsOf: url))
        let idat = Array("IDAT".utf8)
        guard let start = (0..<(bytes.count - 4)).first(where: { Array(bytes[$0..<($0 + 4)]) == idat }) else { return 0 }
        let length = Int(bytes[start - 4]) << 24 | Int(bytes[start - 3]) << 16 | Int(bytes[start - 2]) << 8 | Int(bytes[start - 1])
        bytes[start + 4 + length] ^= 0xFF
        try Data(bytes).write(to: url)
        return start
    }
}

/// Collects reports from worker threads.
final class ReportLog: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var files: [String] = []
    private(set) var messages: [String] = []

    func add(_ error: ImageError) {
        lock.lock()
        files.append(error.file)
        messages.append(error.description)
        lock.unlock()
    }
}
