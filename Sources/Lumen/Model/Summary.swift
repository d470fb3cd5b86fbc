import Foundation

extension Model {
    /// Parameter counts as Keras reports them: running statistics count as non-trainable.
    public var parameterCounts: (total: Int, trainable: Int, nonTrainable: Int) {
        let all = parameters
        let trainable = all.filter(\.trainable).reduce(0) { $0 + $1.value.count }
        let total = all.reduce(0) { $0 + $1.value.count }
        return (total, trainable, total - trainable)
    }

    /// A Keras-style summary table: one row per layer with its output shape (Keras'
    /// channels-last order), parameter count, for a graph the layers it takes (Keras'
    /// functional "Connected to" column, after a row for the input), and whether it
    /// trains; then the totals.
    public func summary() -> String {
        let graph = !isSequential
        let headers = ["Layer (type)", "Output Shape", "Param #"] + (graph ? ["Connected to"] : []) + ["Trainable"]
        var rows: [[String]] = []
        func add(_ layer: Layer, shape: [Int], indent: String, sources: [Int]? = nil) {
            let count = layer.parameters.reduce(0) { $0 + $1.value.count }
            let connected = (sources ?? []).map { ($0 < 0 ? spec.resolvedInputName : layers[$0].name) + "[0][0]" }
            rows.append(["\(indent)\(layer.name) (\(layer.typeName))", Layer.kerasShape(shape), Model.grouped(count)]
                        + (graph ? [connected.isEmpty ? "" : connected.joined(separator: ", ")] : []) + [layer.trainable ? "Y" : "N"])
        }
        if graph {
            rows.append(["\(spec.resolvedInputName) (InputLayer)", Layer.kerasShape(spec.channelsFirstInput), "0", "-", "-"])
        }
        for (index, (layer, shape)) in zip(layers, outputShapes).enumerated() {
            add(layer, shape: shape, indent: "", sources: inputs[index])
            if let block = layer as? Residual {
                // Each path from the block's input, every row showing that layer's output.
                let source = inputs[index].first ?? -1
                for path in [block.main, block.shortcut] {
                    var inner = source < 0 ? spec.channelsFirstInput : outputShapes[source]
                    for sub in path {
                        inner = (try? sub.outputShape(for: inner)) ?? inner
                        add(sub, shape: inner, indent: "  ")
                    }
                }
            }
        }
        let widths = (0..<headers.count).map { column in
            max(headers[column].count, rows.map { $0[column].count }.max() ?? 0) + 2
        }
        let lineWidth = widths.reduce(0, +)
        func format(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined()
                .replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        let counts = parameterCounts
        var lines = ["Model: \"\(spec.name)\"", String(repeating: "_", count: lineWidth), format(headers),
                     String(repeating: "=", count: lineWidth)]
        for (index, row) in rows.enumerated() {
            lines.append(format(row))
            if index < rows.count - 1 { lines.append(String(repeating: "_", count: lineWidth)) }
        }
        lines += [String(repeating: "=", count: lineWidth),
                  "Total params: \(Model.grouped(counts.total))",
                  "Trainable params: \(Model.grouped(counts.trainable))",
                  "Non-trainable params: \(Model.grouped(counts.nonTrainable))",
                  String(repeating: "_", count: lineWidth)]
        return lines.joined(separator: "\n")
    }

    /// 2577858 -> "2,577,858".
    public static func groupedCount(_ value: Int) -> String { grouped(value) }

    static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
            result.append(digit)
        }
        return result
    }
}
