import Foundation

/// Every epoch's logs, written as Keras' CSVLogger writes them (`epoch` then the keys in
/// sorted order) to history.csv, and as JSON to history.json.
public struct History: Codable, Equatable {
    public var epochs: [[String: Double]] = []

    public init() {}

    public var keys: [String] { Array(Set(epochs.flatMap(\.keys))).sorted() }

    /// The values of one key across epochs.
    public func values(_ key: String) -> [Double?] { epochs.map { $0[key] } }

    public func csv() -> String {
        let keys = self.keys
        var lines = [(["epoch"] + keys).joined(separator: ",")]
        for (index, logs) in epochs.enumerated() {
            lines.append(([String(index)] + keys.map { logs[$0].map { String($0) } ?? "" }).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes both files atomically.
    public func write(csv csvURL: URL, json jsonURL: URL) throws {
        try AtomicFile.write(Data(csv().utf8), to: csvURL)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(epochs), to: jsonURL)
    }

    public init(from decoder: Decoder) throws {
        epochs = try decoder.singleValueContainer().decode([[String: Double]].self)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(epochs)
    }
}
