/// keras.applications' ImageNet bases as Lumen graphs, with Keras' layer names (its
/// automatic names too, counted per class as in a fresh Keras session), padding,
/// BatchNorm settings and layer order, so their weight files import by name or by order:
/// MobileNet (v1), Xception, InceptionV3, ResNet50 and DenseNet121.
enum KerasApplications {
    /// Writes a graph in the order the Keras code builds it.
    struct Builder {
        private(set) var layers: [LayerSpec] = []
        private var counts: [String: Int] = [:]
        static let input = "input_layer"

        /// Adds `spec` taking `inputs`; an unnamed layer gets Keras' automatic name.
        @discardableResult
        mutating func add(_ spec: LayerSpec, _ inputs: [String]) -> String {
            var spec = spec
            if spec.name == nil {
                let stem = LayerFactory.stem(spec.type)
                let count = counts[stem, default: 0]
                counts[stem] = count + 1
                spec.name = count == 0 ? stem : "\(stem)_\(count)"
            }
            spec.inputs = inputs
            layers.append(spec)
            return spec.name!
        }

        @discardableResult
        mutating func add(_ spec: LayerSpec, _ input: String) -> String { add(spec, [input]) }

        /// The spec in Keras' layer order.
        func spec(name: String, size: Int, channels: Int) -> ModelSpec {
            let sorted = (try? KerasLayerOrder.sorted(layers, inputName: Builder.input)) ?? layers
            return ModelSpec(name: name, inputShape: [size, size, channels], layers: sorted, inputName: Builder.input)
        }
    }

    static func conv(_ name: String?, _ filters: Int, _ kernel: WindowSize, stride: Int = 1, padding: Padding = .valid,
                     bias: Bool = true) -> LayerSpec {
        var spec = LayerSpec(type: "Conv2D", name: name)
        spec.filters = filters
        spec.kernelSize = kernel
        spec.strides = WindowSize(stride)
        spec.padding = padding
        spec.useBias = bias
        return spec
    }

    static func norm(_ name: String?, epsilon: Float = 1e-3, scale: Bool = true) -> LayerSpec {
        var spec = LayerSpec(type: "BatchNormalization", name: name)
        spec.momentum = 0.99
        spec.epsilon = epsilon
        if !scale { spec.scale = .flag(false) }
        return spec
    }

    static func activation(_ name: String?, _ kind: ActivationKind) -> LayerSpec {
        var spec = LayerSpec(type: "Activation", name: name)
        spec.activation = kind
        return spec
    }

    static func pool(_ type: String, _ name: String?, _ size: Int, stride: Int, padding: Padding = .valid) -> LayerSpec {
        var spec = LayerSpec(type: type, name: name)
        spec.poolSize = WindowSize(size)
        spec.strides = WindowSize(stride)
        spec.padding = padding
        return spec
    }

    static func zeroPadding(_ name: String?, _ top: Int, _ bottom: Int, _ left: Int, _ right: Int) -> LayerSpec {
        var spec = LayerSpec(type: "ZeroPadding2D", name: name)
        spec.padding = .cells(top: top, bottom: bottom, left: left, right: right)
        return spec
    }

    static func merge(_ type: String, _ name: String?) -> LayerSpec { LayerSpec(type: type, name: name) }

    /// GlobalAveragePooling2D "avg_pool" and Dense "predictions" with a softmax: the
    /// classification top of Xception, InceptionV3, ResNet50 and DenseNet121.
    static func top(_ b: inout Builder, _ x: String, classes: Int) {
        let pooled = b.add(LayerSpec(type: "GlobalAveragePooling2D", name: "avg_pool"), x)
        var dense = LayerSpec(type: "Dense", name: "predictions")
        dense.units = classes
        dense.activation = .softmax
        b.add(dense, pooled)
    }

    /// MobileNet v1 with width `alpha` (0.25, 0.5, 0.75, 1.0): ReLU6, stride-2 depthwise
    /// convolutions after ZeroPadding2D(((0, 1), (0, 1))), and Keras' 1 × 1 convolution top.
    static func mobilenet(classes: Int, size: Int, channels: Int, alpha: Float) -> ModelSpec {
        var b = Builder()
        func relu6(_ name: String) -> LayerSpec { var s = LayerSpec(type: "ReLU", name: name); s.maxValue = 6; return s }
        func width(_ filters: Int) -> Int { Int(Float(filters) * alpha) }
        var x = b.add(conv("conv1", width(32), 3, stride: 2, padding: .same, bias: false), Builder.input)
        x = b.add(norm("conv1_bn"), x)
        x = b.add(relu6("conv1_relu"), x)
        let blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
                      (512, 1), (1024, 2), (1024, 1)]
        for (index, (filters, stride)) in blocks.enumerated() {
            let id = index + 1
            if stride != 1 { x = b.add(zeroPadding("conv_pad_\(id)", 0, 1, 0, 1), x) }
            var dw = LayerSpec(type: "DepthwiseConv2D", name: "conv_dw_\(id)")
            dw.kernelSize = 3
            dw.strides = WindowSize(stride)
            dw.padding = stride == 1 ? .same : .valid
            dw.useBias = false
            x = b.add(dw, x)
            x = b.add(norm("conv_dw_\(id)_bn"), x)
            x = b.add(relu6("conv_dw_\(id)_relu"), x)
            x = b.add(conv("conv_pw_\(id)", width(filters), 1, padding: .same, bias: false), x)
            x = b.add(norm("conv_pw_\(id)_bn"), x)
            x = b.add(relu6("conv_pw_\(id)_relu"), x)
        }
        var gap = LayerSpec(type: "GlobalAveragePooling2D")
        gap.keepdims = true
        x = b.add(gap, x)
        var dropout = LayerSpec(type: "Dropout", name: "dropout")
        dropout.rate = 1e-3
        x = b.add(dropout, x)
        x = b.add(conv("conv_preds", classes, 1, padding: .same), x)
        var reshape = LayerSpec(type: "Reshape", name: "reshape_2")
        reshape.targetShape = [classes]
        x = b.add(reshape, x)
        b.add(activation("predictions", .softmax), x)
        return b.spec(name: "mobilenet", size: size, channels: channels)
    }

    /// Xception: entry flow with projected residuals, eight middle blocks, exit flow.
    static func xception(classes: Int, size: Int, channels: Int) -> ModelSpec {
        var b = Builder()
        func separable(_ name: String, _ filters: Int) -> LayerSpec {
            var spec = LayerSpec(type: "SeparableConv2D", name: name)
            spec.filters = filters
            spec.kernelSize = 3
            spec.padding = .same
            spec.useBias = false
            return spec
        }
        var x = b.add(conv("block1_conv1", 32, 3, stride: 2, bias: false), Builder.input)
        x = b.add(norm("block1_conv1_bn"), x)
        x = b.add(activation("block1_conv1_act", .relu), x)
        x = b.add(conv("block1_conv2", 64, 3, bias: false), x)
        x = b.add(norm("block1_conv2_bn"), x)
        x = b.add(activation("block1_conv2_act", .relu), x)
        /// A downsampling block: two separable convolutions and a max pool beside a strided 1 × 1 projection.
        func entry(_ block: Int, _ first: Int, _ second: Int, leadingReLU: Bool) {
            var residual = b.add(conv(nil, second, 1, stride: 2, padding: .same, bias: false), x)
            residual = b.add(norm(nil), residual)
            if leadingReLU { x = b.add(activation("block\(block)_sepconv1_act", .relu), x) }
            x = b.add(separable("block\(block)_sepconv1", first), x)
            x = b.add(norm("block\(block)_sepconv1_bn"), x)
            x = b.add(activation("block\(block)_sepconv2_act", .relu), x)
            x = b.add(separable("block\(block)_sepconv2", second), x)
            x = b.add(norm("block\(block)_sepconv2_bn"), x)
            x = b.add(pool("MaxPooling2D", "block\(block)_pool", 3, stride: 2, padding: .same), x)
            x = b.add(merge("Add", nil), [x, residual])
        }
        entry(2, 128, 128, leadingReLU: false)
        entry(3, 256, 256, leadingReLU: true)
        entry(4, 728, 728, leadingReLU: true)
        for block in 5...12 {
            let residual = x
            for part in 1...3 {
                x = b.add(activation("block\(block)_sepconv\(part)_act", .relu), x)
                x = b.add(separable("block\(block)_sepconv\(part)", 728), x)
                x = b.add(norm("block\(block)_sepconv\(part)_bn"), x)
            }
            x = b.add(merge("Add", nil), [x, residual])
        }
        entry(13, 728, 1024, leadingReLU: true)
        x = b.add(separable("block14_sepconv1", 1536), x)
        x = b.add(norm("block14_sepconv1_bn"), x)
        x = b.add(activation("block14_sepconv1_act", .relu), x)
        x = b.add(separable("block14_sepconv2", 2048), x)
        x = b.add(norm("block14_sepconv2_bn"), x)
        x = b.add(activation("block14_sepconv2_act", .relu), x)
        top(&b, x, classes: classes)
        return b.spec(name: "xception", size: size, channels: channels)
    }

    /// InceptionV3: conv2d_bn units (Conv2D without bias, BatchNormalization(scale=False),
    /// ReLU), automatically named, and the mixed0–mixed10 blocks.
    static func inceptionV3(classes: Int, size: Int, channels: Int) -> ModelSpec {
        var b = Builder()
        func unit(_ x: String, _ filters: Int, _ rows: Int, _ columns: Int, stride: Int = 1, padding: Padding = .same) -> String {
            var y = b.add(conv(nil, filters, WindowSize(rows, columns), stride: stride, padding: padding, bias: false), x)
            y = b.add(norm(nil, scale: false), y)
            return b.add(activation(nil, .relu), y)
        }
        func concat(_ name: String?, _ parts: [String]) -> String { b.add(merge("Concatenate", name), parts) }
        func averageBranch(_ x: String, _ filters: Int) -> String {
            unit(b.add(pool("AveragePooling2D", nil, 3, stride: 1, padding: .same), x), filters, 1, 1)
        }
        var x = unit(Builder.input, 32, 3, 3, stride: 2, padding: .valid)
        x = unit(x, 32, 3, 3, padding: .valid)
        x = unit(x, 64, 3, 3)
        x = b.add(pool("MaxPooling2D", nil, 3, stride: 2), x)
        x = unit(x, 80, 1, 1, padding: .valid)
        x = unit(x, 192, 3, 3, padding: .valid)
        x = b.add(pool("MaxPooling2D", nil, 3, stride: 2), x)
        for (index, poolFilters) in [32, 64, 64].enumerated() {
            let a = unit(x, 64, 1, 1)
            let five = unit(unit(x, 48, 1, 1), 64, 5, 5)
            let double = unit(unit(unit(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
            let pooled = averageBranch(x, poolFilters)
            x = concat("mixed\(index)", [a, five, double, pooled])
        }
        do {
            let three = unit(x, 384, 3, 3, stride: 2, padding: .valid)
            let double = unit(unit(unit(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, stride: 2, padding: .valid)
            let pooled = b.add(pool("MaxPooling2D", nil, 3, stride: 2), x)
            x = concat("mixed3", [three, double, pooled])
        }
        for (index, width) in [128, 160, 160, 192].enumerated() {
            let a = unit(x, 192, 1, 1)
            let seven = unit(unit(unit(x, width, 1, 1), width, 1, 7), 192, 7, 1)
            var double = unit(x, width, 1, 1)
            double = unit(unit(unit(unit(double, width, 7, 1), width, 1, 7), width, 7, 1), 192, 1, 7)
            let pooled = averageBranch(x, 192)
            x = concat("mixed\(4 + index)", [a, seven, double, pooled])
        }
        do {
            let three = unit(unit(x, 192, 1, 1), 320, 3, 3, stride: 2, padding: .valid)
            let seven = unit(unit(unit(unit(x, 192, 1, 1), 192, 1, 7), 192, 7, 1), 192, 3, 3, stride: 2, padding: .valid)
            let pooled = b.add(pool("MaxPooling2D", nil, 3, stride: 2), x)
            x = concat("mixed8", [three, seven, pooled])
        }
        for index in 0..<2 {
            let a = unit(x, 320, 1, 1)
            let three = unit(x, 384, 1, 1)
            let threes = concat("mixed9_\(index)", [unit(three, 384, 1, 3), unit(three, 384, 3, 1)])
            let double = unit(unit(x, 448, 1, 1), 384, 3, 3)
            let doubles = concat(nil, [unit(double, 384, 1, 3), unit(double, 384, 3, 1)])
            let pooled = averageBranch(x, 192)
            x = concat("mixed\(9 + index)", [a, threes, doubles, pooled])
        }
        top(&b, x, classes: classes)
        return b.spec(name: "inception-v3", size: size, channels: channels)
    }

    /// ResNet50 (v1): bottleneck blocks [3, 4, 6, 3] with convolution biases and
    /// BatchNorm epsilon 1.001e-5.
    static func resnet50(classes: Int, size: Int, channels: Int) -> ModelSpec {
        var b = Builder()
        var x = b.add(zeroPadding("conv1_pad", 3, 3, 3, 3), Builder.input)
        x = b.add(conv("conv1_conv", 64, 7, stride: 2), x)
        x = b.add(norm("conv1_bn", epsilon: 1.001e-5), x)
        x = b.add(activation("conv1_relu", .relu), x)
        x = b.add(zeroPadding("pool1_pad", 1, 1, 1, 1), x)
        x = b.add(pool("MaxPooling2D", "pool1_pool", 3, stride: 2), x)
        for (stage, (filters, blocks, stride)) in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)].enumerated() {
            for block in 1...blocks {
                let name = "conv\(stage + 2)_block\(block)"
                let s = block == 1 ? stride : 1
                var shortcut = x
                if block == 1 {
                    shortcut = b.add(conv("\(name)_0_conv", 4 * filters, 1, stride: s), x)
                    shortcut = b.add(norm("\(name)_0_bn", epsilon: 1.001e-5), shortcut)
                }
                var y = b.add(conv("\(name)_1_conv", filters, 1, stride: s), x)
                y = b.add(norm("\(name)_1_bn", epsilon: 1.001e-5), y)
                y = b.add(activation("\(name)_1_relu", .relu), y)
                y = b.add(conv("\(name)_2_conv", filters, 3, padding: .same), y)
                y = b.add(norm("\(name)_2_bn", epsilon: 1.001e-5), y)
                y = b.add(activation("\(name)_2_relu", .relu), y)
                y = b.add(conv("\(name)_3_conv", 4 * filters, 1), y)
                y = b.add(norm("\(name)_3_bn", epsilon: 1.001e-5), y)
                y = b.add(merge("Add", "\(name)_add"), [shortcut, y])
                x = b.add(activation("\(name)_out", .relu), y)
            }
        }
        top(&b, x, classes: classes)
        return b.spec(name: "resnet50", size: size, channels: channels)
    }

    /// DenseNet121: dense blocks [6, 12, 24, 16] of growth 32, transitions halving the
    /// channels, BatchNorm epsilon 1.001e-5. CheXNet's base.
    static func densenet121(classes: Int, size: Int, channels: Int) -> ModelSpec {
        var b = Builder()
        var x = b.add(zeroPadding(nil, 3, 3, 3, 3), Builder.input)
        x = b.add(conv("conv1_conv", 64, 7, stride: 2, bias: false), x)
        x = b.add(norm("conv1_bn", epsilon: 1.001e-5), x)
        x = b.add(activation("conv1_relu", .relu), x)
        x = b.add(zeroPadding(nil, 1, 1, 1, 1), x)
        x = b.add(pool("MaxPooling2D", "pool1", 3, stride: 2), x)
        var width = 64
        for (stage, blocks) in [6, 12, 24, 16].enumerated() {
            for block in 1...blocks {
                let name = "conv\(stage + 2)_block\(block)"
                var y = b.add(norm("\(name)_0_bn", epsilon: 1.001e-5), x)
                y = b.add(activation("\(name)_0_relu", .relu), y)
                y = b.add(conv("\(name)_1_conv", 128, 1, bias: false), y)
                y = b.add(norm("\(name)_1_bn", epsilon: 1.001e-5), y)
                y = b.add(activation("\(name)_1_relu", .relu), y)
                y = b.add(conv("\(name)_2_conv", 32, 3, padding: .same, bias: false), y)
                x = b.add(merge("Concatenate", "\(name)_concat"), [x, y])
                width += 32
            }
            if stage < 3 {
                let name = "pool\(stage + 2)"
                x = b.add(norm("\(name)_bn", epsilon: 1.001e-5), x)
                x = b.add(activation("\(name)_relu", .relu), x)
                width /= 2
                x = b.add(conv("\(name)_conv", width, 1, bias: false), x)
                x = b.add(pool("AveragePooling2D", "\(name)_pool", 2, stride: 2), x)
            }
        }
        x = b.add(norm("bn", epsilon: 1.001e-5), x)
        x = b.add(activation("relu", .relu), x)
        top(&b, x, classes: classes)
        return b.spec(name: "densenet121", size: size, channels: channels)
    }
}
