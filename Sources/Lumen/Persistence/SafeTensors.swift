import Foundation

/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// header, then the tensor bytes. Lumen stores float32 tensors and a string→string
/// `__metadata__` map. The reader enforces the format's rules: header at most 100 MB and
/// starting with `{`, known dtypes, sizes that match shapes, and data offsets that cover
/// the buffer exactly, with no holes or overlaps.
public struct SafeTensors {
    /// A tensor's shape and float32 values, row-major.
    /// One stored tensor: a `HostTensor`.
    public typealias Entry = HostTensor

    public var tensors: [String: Entry]
    public var metadata: [String: String]

    public init(tensors: [String: Entry] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The format's limit on header size.
    public static let maxHeaderBytes = 100_000_000

    /// Why a file is not a valid safetensors file.
    public struct FormatError: Error, CustomStringConvertible, Equatable {
        public let file: String
        public let defect: String
        public var description: String { "\(file): not a valid safetensors file: \(defect)" }
    }

    // MARK: - Reading

    /// Reads and validates a file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw FormatError(file: url.path, defect: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(data: data, file: url.path)
    }

    /// Parses and validates bytes; `file` names them in errors.
    public init(data: Data, file: String = "<memory>") throws {
        func fail(_ defect: String) -> FormatError { FormatError(file: file, defect: defect) }
        guard data.count >= 8 else { throw fail("shorter than its 8-byte header length (\(data.count) bytes)") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(SafeTensors.maxHeaderBytes) else {
            throw fail("header of \(headerLength) bytes exceeds the 100 MB limit")
        }
        guard UInt64(data.count) >= 8 + headerLength else {
            throw fail("truncated: header says \(headerLength) bytes but the file has \(data.count - 8) after the length")
        }
        let headerBytes = data.subdata(in: 8..<(8 + Int(headerLength)))
        guard headerBytes.first == UInt8(ascii: "{") else { throw fail("header does not start with '{'") }
        guard let header = (try? JSONSerialization.jsonObject(with: headerBytes)) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let buffer = data.subdata(in: (8 + Int(headerLength))..<data.count)

        var metadata: [String: String] = [:]
        var spans: [(begin: Int, end: Int, name: String)] = []
        var tensors: [String: Entry] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, item) in map {
                    guard let text = item as? String else { throw fail("__metadata__ value '\(key)' is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard let info = value as? [String: Any],
                  let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int],
                  let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("tensor '\(name)' has a negative dimension") }
            guard let width = SafeTensors.dtypeWidths[dtype] else { throw fail("tensor '\(name)' has unknown dtype '\(dtype)'") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= buffer.count else {
                throw fail("tensor '\(name)' data_offsets [\(begin), \(end)] fall outside the \(buffer.count)-byte buffer")
            }
            let elements = shape.reduce(1, *)
            guard elements * width == end - begin else {
                throw fail("tensor '\(name)' has \(end - begin) bytes but shape \(shape) of \(dtype) needs \(elements * width)")
            }
            spans.append((begin, end, name))
            tensors[name] = Entry(shape: shape, values: try SafeTensors.floats(buffer, begin, elements, dtype: dtype,
                                                                               name: name, fail: fail))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        for span in spans {
            if span.begin < covered { throw fail("tensor '\(span.name)' overlaps another tensor's data") }
            if span.begin > covered { throw fail("a hole in the data before tensor '\(span.name)' (bytes \(covered)..<\(span.begin))") }
            covered = span.end
        }
        guard covered == buffer.count else { throw fail("\(buffer.count - covered) bytes of data after the last tensor") }
        self.tensors = tensors
        self.metadata = metadata
    }

    static let dtypeWidths: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
    ]

    /// Values as float32. F32 is read as is; F64, F16 and BF16 are converted; integer
    /// tensors (such as PyTorch's num_batches_tracked) are converted too.
    private static func floats(_ buffer: Data, _ begin: Int, _ count: Int, dtype: String, name: String,
                               fail: (String) -> FormatError) throws -> [Float] {
        try buffer.withUnsafeBytes { raw -> [Float] in
            let base = raw.baseAddress!.advanced(by: begin)
            func load<T>(_: T.Type, _ i: Int) -> T { base.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self) }
            switch dtype {
            case "F32": return (0..<count).map { Float(bitPattern: UInt32(littleEndian: load(UInt32.self, $0))) }
            case "F64": return (0..<count).map { Float(Double(bitPattern: UInt64(littleEndian: load(UInt64.self, $0)))) }
            case "F16": return (0..<count).map { Float(Float16(bitPattern: UInt16(littleEndian: load(UInt16.self, $0)))) }
            case "BF16": return (0..<count).map { Float(bitPattern: UInt32(UInt16(littleEndian: load(UInt16.self, $0))) << 16) }
            case "I64": return (0..<count).map { Float(Int64(littleEndian: load(Int64.self, $0))) }
            case "I32": return (0..<count).map { Float(Int32(littleEndian: load(Int32.self, $0))) }
            case "U8", "BOOL": return (0..<count).map { Float(load(UInt8.self, $0)) }
            default: throw fail("tensor '\(name)' has dtype \(dtype), which Lumen does not load")
            }
        }
    }

    // MARK: - Writing

    /// The file's bytes: tensors as F32 in name order, header padded with spaces to a
    /// multiple of 8 bytes.
    public func serialized() throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let entry = tensors[name]!
            guard entry.values.count == entry.shape.reduce(1, *) else {
                throw LumenError.shapeMismatch("tensor '\(name)': \(entry.values.count) values for shape \(entry.shape)")
            }
            let bytes = entry.values.count * 4
            header[name] = ["dtype": "F32", "shape": entry.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var data = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for name in names {
            // The file is little-endian: on such hosts the floats go in as they are,
            // without a second copy of a tensor that may be hundreds of megabytes.
            #if _endian(little)
            tensors[name]!.values.withUnsafeBytes { data.append(contentsOf: $0) }
            #else
            tensors[name]!.values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
            #endif
        }
        return data
    }

    /// Writes the file atomically.
    public func write(to url: URL) throws {
        try AtomicFile.write(try serialized(), to: url)
    }
}
