/// ImageNet architectures with torchvision's module names, so a torchvision state dict
/// (exported by Scripts/export-torchvision.py) loads by name.
enum ImageNetModels {
    private static func conv(_ name: String, _ filters: Int, _ kernel: Int, stride: Int = 1, padding: Int = 0) -> LayerSpec {
        var spec = LayerSpec(type: "Conv2D", name: name)
        spec.filters = filters
        spec.kernelSize = WindowSize(kernel)
        spec.strides = WindowSize(stride)
        spec.padding = .explicit(padding)
        spec.useBias = false
        return spec
    }

    private static func depthwise(_ name: String, stride: Int) -> LayerSpec {
        var spec = LayerSpec(type: "DepthwiseConv2D", name: name)
        spec.kernelSize = 3
        spec.strides = WindowSize(stride)
        spec.padding = .explicit(1)
        spec.useBias = false
        return spec
    }

    /// PyTorch's BatchNorm defaults (momentum 0.1, eps 1e-5) in Keras' terms.
    private static func norm(_ name: String) -> LayerSpec {
        var spec = LayerSpec(type: "BatchNormalization", name: name)
        spec.momentum = 0.9
        spec.epsilon = 1e-5
        return spec
    }

    private static func activation(_ name: String, _ kind: ActivationKind) -> LayerSpec {
        var spec = LayerSpec(type: "Activation", name: name)
        spec.activation = kind
        return spec
    }

    private static func head(_ name: String, classes: Int) -> LayerSpec {
        var spec = LayerSpec(type: "Dense", name: name)
        spec.units = classes
        spec.activation = .softmax
        return spec
    }

    /// torchvision's resnet18: BasicBlocks [2, 2, 2, 2].
    static func resnet18(classes: Int, size: Int, channels: Int) -> ModelSpec {
        var layers = [conv("conv1", 64, 7, stride: 2, padding: 3), norm("bn1"), activation("relu", .relu)]
        var pool = LayerSpec(type: "MaxPooling2D", name: "maxpool")
        pool.poolSize = 3
        pool.strides = 2
        pool.padding = .explicit(1)
        layers.append(pool)
        var inputs = 64
        for (stage, (width, stride)) in [(64, 1), (128, 2), (256, 2), (512, 2)].enumerated() {
            for block in 0..<2 {
                let name = "layer\(stage + 1).\(block)"
                let s = block == 0 ? stride : 1
                var residual = LayerSpec(type: "Residual", name: name)
                residual.layers = [conv("\(name).conv1", width, 3, stride: s, padding: 1), norm("\(name).bn1"),
                                   activation("\(name).relu", .relu), conv("\(name).conv2", width, 3, padding: 1), norm("\(name).bn2")]
                if s != 1 || inputs != width {
                    residual.shortcut = [conv("\(name).downsample.0", width, 1, stride: s), norm("\(name).downsample.1")]
                }
                residual.activation = .relu
                layers.append(residual)
                inputs = width
            }
        }
        layers += [LayerSpec(type: "GlobalAveragePooling2D", name: "avgpool"), head("fc", classes: classes)]
        return ModelSpec(name: "resnet18", inputShape: [size, size, channels], layers: layers)
    }

    /// MobileNetV2's inverted residual stages, shared by both variants: expansion t,
    /// output channels c, repeats n, first stride s.
    private static let mobilenetV2Blocks = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    /// torchvision's mobilenet_v2 (width 1.0): inverted residual blocks with ReLU6.
    static func mobilenetV2(classes: Int, size: Int, channels: Int) -> ModelSpec {
        var layers = [conv("features.0.0", 32, 3, stride: 2, padding: 1), norm("features.0.1"), activation("features.0.2", .relu6)]
        var inputs = 32, index = 1
        for (t, c, n, s) in mobilenetV2Blocks {
            for repeatIndex in 0..<n {
                let stride = repeatIndex == 0 ? s : 1
                let prefix = "features.\(index).conv"
                var block: [LayerSpec] = []
                var part = 0
                if t != 1 {
                    block += [conv("\(prefix).0.0", inputs * t, 1), norm("\(prefix).0.1"), activation("\(prefix).0.2", .relu6)]
                    part = 1
                }
                block += [depthwise("\(prefix).\(part).0", stride: stride), norm("\(prefix).\(part).1"),
                          activation("\(prefix).\(part).2", .relu6),
                          conv("\(prefix).\(part + 1)", c, 1), norm("\(prefix).\(part + 2)")]
                if stride == 1 && inputs == c {
                    var residual = LayerSpec(type: "Residual", name: "features.\(index)")
                    residual.layers = block
                    layers.append(residual)
                } else {
                    layers += block
                }
                inputs = c
                index += 1
            }
        }
        layers += [conv("features.18.0", 1280, 1), norm("features.18.1"), activation("features.18.2", .relu6),
                   LayerSpec(type: "GlobalAveragePooling2D", name: "avgpool"),
                   { var d = LayerSpec(type: "Dropout", name: "classifier.0"); d.rate = 0.2; return d }(),
                   head("classifier.1", classes: classes)]
        return ModelSpec(name: "mobilenet-v2", inputShape: [size, size, channels], layers: layers)
    }

    /// keras.applications' MobileNetV2 (alpha 1.0) with its layer names: Keras' "same"
    /// padding (the extra cell after, which its ZeroPadding2D + "valid" also gives),
    /// BatchNorm epsilon 1e-3 and momentum 0.999, no dropout before the classifier. Its
    /// legacy .h5 weights import in layer order.
    static func kerasMobilenetV2(classes: Int, size: Int, channels: Int) -> ModelSpec {
        func kconv(_ name: String, _ filters: Int, _ kernel: Int, stride: Int = 1) -> LayerSpec {
            var spec = LayerSpec(type: "Conv2D", name: name)
            spec.filters = filters
            spec.kernelSize = WindowSize(kernel)
            spec.strides = WindowSize(stride)
            spec.padding = .same
            spec.useBias = false
            return spec
        }
        func knorm(_ name: String) -> LayerSpec {
            var spec = LayerSpec(type: "BatchNormalization", name: name)
            spec.momentum = 0.999
            spec.epsilon = 1e-3
            return spec
        }
        var layers = [kconv("Conv1", 32, 3, stride: 2), knorm("bn_Conv1"), activation("Conv1_relu", .relu6)]
        var inputs = 32, id = 0
        for (t, c, n, s) in mobilenetV2Blocks {
            for repeatIndex in 0..<n {
                let stride = repeatIndex == 0 ? s : 1
                let prefix = id == 0 ? "expanded_conv_" : "block_\(id)_"
                var block: [LayerSpec] = []
                if id != 0 {
                    block += [kconv("\(prefix)expand", inputs * t, 1), knorm("\(prefix)expand_BN"), activation("\(prefix)expand_relu", .relu6)]
                }
                var dw = LayerSpec(type: "DepthwiseConv2D", name: "\(prefix)depthwise")
                dw.kernelSize = 3
                dw.strides = WindowSize(stride)
                dw.padding = .same
                dw.useBias = false
                block += [dw, knorm("\(prefix)depthwise_BN"), activation("\(prefix)depthwise_relu", .relu6),
                          kconv("\(prefix)project", c, 1), knorm("\(prefix)project_BN")]
                if stride == 1 && inputs == c {
                    var residual = LayerSpec(type: "Residual", name: "\(prefix)add")
                    residual.layers = block
                    layers.append(residual)
                } else {
                    layers += block
                }
                inputs = c
                id += 1
            }
        }
        layers += [kconv("Conv_1", 1280, 1), knorm("Conv_1_bn"), activation("out_relu", .relu6),
                   LayerSpec(type: "GlobalAveragePooling2D", name: "global_average_pooling2d"), head("predictions", classes: classes)]
        return ModelSpec(name: "mobilenet-v2-keras", inputShape: [size, size, channels], layers: layers)
    }

    /// torchvision's normalisation: x/255, then the ImageNet mean and std per channel.
    static let preprocessing = Preprocessing(scale: 1 / 255, offset: 0, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
}
