import Foundation

/// How a user names a device with `--device` or `LUMEN_DEVICE`.
///
/// - `auto`: the first GPU across all platforms, else the first CPU, else the first device;
/// - `cpu`, `gpu`: the first device of that kind; `cpu:N`, `gpu:N`: the Nth of that kind, from 0;
/// - `3`: the device with that index in `lumen devices`;
/// - anything else: the first device whose name contains the text, ignoring case.
public enum DeviceSelector: Equatable, Sendable, CustomStringConvertible {
    case auto
    case kind(DeviceKind, ordinal: Int)
    case index(Int)
    case nameContains(String)

    /// The environment variable read when no `--device` flag is given.
    public static let environmentVariable = "LUMEN_DEVICE"

    /// Parses a selector. Text that is no keyword and no number is a name substring.
    public init(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let lower = trimmed.lowercased()
        if lower == "auto" || lower.isEmpty {
            self = .auto
        } else if let number = Int(lower), number >= 0 {
            self = .index(number)
        } else if let kind = DeviceSelector.kindPrefix(lower) {
            self = kind
        } else {
            self = .nameContains(trimmed)
        }
    }

    /// The `--device` flag when given, else `LUMEN_DEVICE`, else `auto`.
    public static func resolveFlag(_ flag: String?, environment: [String: String]) -> DeviceSelector {
        if let flag { return DeviceSelector(flag) }
        if let text = environment[environmentVariable], !text.isEmpty { return DeviceSelector(text) }
        return .auto
    }

    private static func kindPrefix(_ lower: String) -> DeviceSelector? {
        for kind in [DeviceKind.cpu, .gpu] {
            let word = kind.rawValue
            if lower == word { return .kind(kind, ordinal: 0) }
            if lower.hasPrefix(word + ":"), let ordinal = Int(lower.dropFirst(word.count + 1)), ordinal >= 0 {
                return .kind(kind, ordinal: ordinal)
            }
        }
        return nil
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .kind(let kind, let ordinal): return ordinal == 0 ? kind.rawValue : "\(kind.rawValue):\(ordinal)"
        case .index(let index): return String(index)
        case .nameContains(let text): return text
        }
    }

    /// The device this selector picks from `devices`, or nil when none fits.
    public func match(in devices: [DeviceInfo]) -> DeviceInfo? {
        switch self {
        case .auto:
            return devices.first { $0.kind == .gpu } ?? devices.first { $0.kind == .cpu } ?? devices.first
        case .kind(let kind, let ordinal):
            let ofKind = devices.filter { $0.kind == kind }
            return ordinal < ofKind.count ? ofKind[ordinal] : nil
        case .index(let index):
            return devices.first { $0.index == index }
        case .nameContains(let text):
            return devices.first { $0.name.range(of: text, options: .caseInsensitive) != nil }
        }
    }

    /// The device this selector picks, or `LumenError.noMatchingDevice` listing what exists.
    public func resolve(in devices: [DeviceInfo]) throws -> DeviceInfo {
        guard let device = match(in: devices) else {
            throw LumenError.noMatchingDevice(selector: description, available: devices.map(\.label))
        }
        return device
    }
}
