/// The architectures Lumen ships, by the names `--model` takes.
public enum BuiltinModel: String, CaseIterable, Sendable {
    /// The chest X-ray tutorial's CNN: four [Conv 3×3 → ReLU → MaxPool 2 → BatchNorm]
    /// blocks of 64, 128, 256 and 256 filters, then Dense 128 → Dropout 0.2 → Dense 64 →
    /// Dropout 0.2 → Dense sigmoid. 150×150×3 and 2 classes by default.
    case xrayCNN = "xray-cnn"
    /// A small Fashion-MNIST CNN: Conv 32 → pool → Conv 64 → pool → Dense 128 → softmax.
    case fashionCNN = "fashion-cnn"
    /// torchvision's ResNet-18, 224×224×3, with its module names.
    case resnet18 = "resnet18"
    /// torchvision's MobileNetV2, 224×224×3, with its module names.
    case mobilenetV2 = "mobilenet-v2"
    /// keras.applications' MobileNetV2, 224×224×3, with its layer names and padding.
    case kerasMobilenetV2 = "mobilenet-v2-keras"
    /// keras.applications' MobileNet (v1), 224×224×3; width `--alpha` 0.25–1.0.
    case mobilenet
    /// keras.applications' Xception, 299×299×3.
    case xception
    /// keras.applications' InceptionV3, 299×299×3.
    case inceptionV3 = "inception-v3"
    /// keras.applications' ResNet50, 224×224×3.
    case resnet50
    /// keras.applications' DenseNet121 (CheXNet's base), 224×224×3.
    case densenet121

    /// The default input (height, width, channels).
    public var defaultInput: (size: Int, channels: Int) {
        switch self {
        case .xrayCNN: return (150, 3)
        case .fashionCNN: return (28, 1)
        case .resnet18, .mobilenetV2, .kerasMobilenetV2, .mobilenet, .resnet50, .densenet121: return (224, 3)
        case .xception, .inceptionV3: return (299, 3)
        }
    }

    /// How the architecture expects its inputs: x/255 for the tutorials' CNNs, ImageNet
    /// mean and std for torchvision's models, and each Keras application's own
    /// `preprocess_input`: "tf" (x/127.5 − 1) for MobileNet, Xception and InceptionV3,
    /// "caffe" (BGR, ImageNet means subtracted) for ResNet50, "torch" for DenseNet121.
    public var defaultPreprocessing: Preprocessing {
        switch self {
        case .xrayCNN, .fashionCNN: return .rescale
        case .resnet18, .mobilenetV2: return ImageNetModels.preprocessing
        case .kerasMobilenetV2, .mobilenet, .xception, .inceptionV3: return .tf
        case .densenet121: return ImageNetModels.preprocessing
        case .resnet50: return .caffe
        }
    }

    /// The spec for `classes` outputs and a square input.
    public func spec(classes: Int, inputSize: Int? = nil, channels: Int? = nil, alpha: Float = 1) -> ModelSpec {
        let size = inputSize ?? defaultInput.size
        let input = [size, size, channels ?? defaultInput.channels]
        func conv(_ filters: Int) -> LayerSpec {
            var spec = LayerSpec(type: "Conv2D")
            spec.filters = filters
            spec.kernelSize = 3
            spec.activation = .relu
            return spec
        }
        func pool() -> LayerSpec {
            var spec = LayerSpec(type: "MaxPooling2D")
            spec.poolSize = 2
            return spec
        }
        func dense(_ units: Int, _ activation: ActivationKind) -> LayerSpec {
            var spec = LayerSpec(type: "Dense")
            spec.units = units
            spec.activation = activation
            return spec
        }
        func dropout(_ rate: Float) -> LayerSpec {
            var spec = LayerSpec(type: "Dropout")
            spec.rate = rate
            return spec
        }
        switch self {
        case .xrayCNN:
            let blocks = [64, 128, 256, 256].flatMap { [conv($0), pool(), LayerSpec(type: "BatchNormalization")] }
            let head = [LayerSpec(type: "Flatten"), dense(128, .relu), dropout(0.2), dense(64, .relu), dropout(0.2),
                        dense(classes, .sigmoid)]
            return ModelSpec(name: rawValue, inputShape: input, layers: blocks + head)
        case .resnet18:
            return ImageNetModels.resnet18(classes: classes, size: size, channels: input[2])
        case .mobilenetV2:
            return ImageNetModels.mobilenetV2(classes: classes, size: size, channels: input[2])
        case .kerasMobilenetV2:
            return ImageNetModels.kerasMobilenetV2(classes: classes, size: size, channels: input[2])
        case .mobilenet:
            return KerasApplications.mobilenet(classes: classes, size: size, channels: input[2], alpha: alpha)
        case .xception:
            return KerasApplications.xception(classes: classes, size: size, channels: input[2])
        case .inceptionV3:
            return KerasApplications.inceptionV3(classes: classes, size: size, channels: input[2])
        case .resnet50:
            return KerasApplications.resnet50(classes: classes, size: size, channels: input[2])
        case .densenet121:
            return KerasApplications.densenet121(classes: classes, size: size, channels: input[2])
        case .fashionCNN:
            return ModelSpec(name: rawValue, inputShape: input, layers: [
                conv(32), pool(), conv(64), pool(), LayerSpec(type: "Flatten"), dense(128, .relu),
                dense(classes, .softmax),
            ])
        }
    }
}
