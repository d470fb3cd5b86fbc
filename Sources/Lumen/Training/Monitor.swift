/// Which way a monitored metric should move, with Keras 3's rule for `mode: auto`:
/// minimise when the name without `val_` is `loss`, maximise metrics that go up
/// (accuracy, auc), and refuse anything else.
public struct Monitor: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable { case auto, min, max }

    public var name: String
    public var mode: Mode
    /// Improvements smaller than this do not count (taken as an absolute value).
    public var minDelta: Double

    public init(_ name: String, mode: Mode = .auto, minDelta: Double = 0) {
        self.name = name
        self.mode = mode
        self.minDelta = abs(minDelta)
    }

    /// Metrics whose direction is known.
    static let increasing: Set<String> = ["accuracy", "acc", "auc"]

    /// True to minimise. Throws for `auto` on a metric with no known direction.
    public func minimises() throws -> Bool {
        switch mode {
        case .min: return true
        case .max: return false
        case .auto:
            let bare = name.hasPrefix("val_") ? String(name.dropFirst(4)) : name
            if bare == "loss" { return true }
            if Monitor.increasing.contains(bare) { return false }
            throw LumenError.invalidCallback("cannot tell whether '\(name)' should go up or down; set mode: min or mode: max")
        }
    }

    /// Keras' test: `current − min_delta < best` when minimising, `current − min_delta > best`
    /// when maximising (min_delta negated for min). No best yet always counts.
    public func isImprovement(_ current: Double, over best: Double?) throws -> Bool {
        guard let best else { return true }
        return try minimises() ? current + minDelta < best : current - minDelta > best
    }
}
