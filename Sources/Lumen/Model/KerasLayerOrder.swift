/// The order in which Keras lists a functional model's layers (`model.layers`, its
/// config, legacy weight files, the class-counted names of Keras 3 weight files): by
/// decreasing depth from the output, and within one depth in the order a depth-first
/// walk from the output first meets them. Built-in graphs are written in the order
/// their code builds them and then put in this order, so weight files match layer by
/// layer as Keras matches them.
enum KerasLayerOrder {
    static func sorted(_ layers: [LayerSpec], inputName: String) throws -> [LayerSpec] {
        let inputs = try Model.connections(layers, inputName: inputName)
        let count = layers.count
        // Depth-first from the output: first-visit indices, and nodes in post-order.
        var firstSeen = [Int](repeating: -1, count: count)
        var postOrder: [Int] = []
        var finished = [Bool](repeating: false, count: count)
        var seen = 0
        func visit(_ node: Int) {
            if finished[node] { return }
            if firstSeen[node] < 0 { firstSeen[node] = seen; seen += 1 }
            for source in inputs[node] where source >= 0 { visit(source) }
            finished[node] = true
            postOrder.append(node)
        }
        visit(count - 1)
        // Depth: the longest path to the output.
        var depth = [Int](repeating: 0, count: count)
        for node in postOrder.reversed() {
            for source in inputs[node] where source >= 0 { depth[source] = max(depth[source], depth[node] + 1) }
        }
        let order = (0..<count).sorted { a, b in depth[a] != depth[b] ? depth[a] > depth[b] : firstSeen[a] < firstSeen[b] }
        return order.map { position in
            var layer = layers[position]
            layer.inputs = inputs[position].map { $0 < 0 ? inputName : layers[$0].name! }
            return layer
        }
    }
}
