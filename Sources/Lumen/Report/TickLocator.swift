import Foundation

/// Axis ticks at round values, as matplotlib's default locator (MaxNLocator) places
/// them: the smallest step of 1, 2, 2.5 or 5 × 10ᵏ that needs at most `maxIntervals`
/// intervals to cover the range, and the multiples of it inside the range.
enum TickLocator {
    static func ticks(from lower: Double, to upper: Double, maxIntervals: Int = 5, integer: Bool = false) -> [Double] {
        guard upper > lower, lower.isFinite, upper.isFinite else { return [lower] }
        let raw = (upper - lower) / Double(max(maxIntervals, 1))
        let scale = pow(10, (log10(raw)).rounded(.down))
        let multiples: [Double] = integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]
        var step = multiples.map { $0 * scale }.first { $0 >= raw * (1 - 1e-9) } ?? 10 * scale
        if integer { step = max(1, step.rounded()) }
        let first = (lower / step - 1e-9).rounded(.up), last = (upper / step + 1e-9).rounded(.down)
        guard first <= last else { return [lower] }
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// Labels with as many decimals as the step needs, and no more ("0.82", "2.5", "200").
    static func labels(_ ticks: [Double]) -> [String] {
        guard ticks.count > 1 else { return ticks.map { format($0, decimals: $0 == $0.rounded() ? 0 : 2) } }
        let step = abs(ticks[1] - ticks[0])
        var decimals = max(0, Int((-log10(step)).rounded(.up)))
        while decimals < 6, abs(step * pow(10, Double(decimals)) - (step * pow(10, Double(decimals))).rounded()) > 1e-6 {
            decimals += 1
        }
        return ticks.map { format($0, decimals: decimals) }
    }

    private static func format(_ value: Double, decimals: Int) -> String {
        let text = String(format: "%.\(decimals)f", value)
        return text.hasPrefix("-") && Double(text) == 0 ? String(text.dropFirst()) : text
    }
}
