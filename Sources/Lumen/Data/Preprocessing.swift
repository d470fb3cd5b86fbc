/// How image pixels (0–255) become model inputs: x·scale + offset, then optional
/// per-channel mean and std. 1/255 is Keras' `rescale=1./255`; the "tf" mode of
/// ImageNet bases is scale 1/127.5, offset −1.
public struct Preprocessing: Codable, Equatable, Sendable {
    public var scale: Float
    public var offset: Float
    public var mean: [Float]?
    public var std: [Float]?
    /// RGB in, BGR out (Keras' "caffe" mode); mean and std are then in BGR order.
    public var reversesChannels: Bool?

    public init(scale: Float = 1 / 255, offset: Float = 0, mean: [Float]? = nil, std: [Float]? = nil,
                reversesChannels: Bool? = nil) {
        self.scale = scale
        self.offset = offset
        self.mean = mean
        self.std = std
        self.reversesChannels = reversesChannels
    }

    /// Keras' `rescale=1./255`.
    public static let rescale = Preprocessing()
    /// Pixels as they are (0–255): for models that scale their own input.
    public static let raw = Preprocessing(scale: 1, offset: 0)
    /// `preprocess_input` mode "tf": x/127.5 − 1.
    public static let tf = Preprocessing(scale: 1 / 127.5, offset: -1)
    /// `preprocess_input` mode "caffe" (ResNet50): BGR, ImageNet means subtracted, no scaling.
    public static let caffe = Preprocessing(scale: 1, offset: 0, mean: [103.939, 116.779, 123.68], reversesChannels: true)
}
