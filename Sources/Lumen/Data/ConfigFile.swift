import Foundation
import Yams

/// Reads settings files in YAML (through Yams) or JSON, by their extension.
public enum ConfigFile {
    /// Decodes `T` from a .yaml/.yml or .json file, naming the file and the defect on error.
    public static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw DataError(path: url.path, reason: "cannot be read (\((error as NSError).localizedDescription))")
        }
        do {
            if url.pathExtension.lowercased() == "json" {
                return try JSONDecoder().decode(T.self, from: Data(text.utf8))
            }
            return try YAMLDecoder().decode(T.self, from: text)
        } catch let error as LumenError {
            throw DataError(path: url.path, reason: error.description)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
                let DecodingError.dataCorrupted(context) {
            // Yams reports an error thrown while decoding (a strict spec's) as corrupt data.
            if let underlying = context.underlyingError as? LumenError {
                throw DataError(path: url.path, reason: underlying.description)
            }
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw DataError(path: url.path, reason: "\(key.isEmpty ? "" : key + ": ")\(context.debugDescription)")
        } catch {
            throw DataError(path: url.path, reason: "not valid YAML or JSON: \(error)")
        }
    }
}

/// The parts of a training config that the data pipeline reads.
public struct DataConfig: Decodable {
    public var augmentation: Augmentation?
}
