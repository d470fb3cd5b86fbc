/// How image pixels (0–255) become model inputs: x·scale + offset, then optional
/// per-channel mean and std. 1/255 is Keras' `rescale=1./255`; the "tf" mode of
/// ImageNet bases is scale 1/127.5, offset −1.
public struct Preprocessing: Codable, Equatable, Sendable {
    public var scale: Float
    public var offset: Float
    public var mean: [Float]?
    public var std: [Float]?

    public init(scale: Float = 1 / 255, offset: Float = 0, mean: [Float]? = nil, std: [Float]? = nil) {
        self.scale = scale
        self.offset = offset
        self.mean = mean
        self.std = std
    }

    /// Keras' `rescale=1./255`.
    public static let rescale = Preprocessing()
    /// `preprocess_input` mode "tf": x/127.5 − 1.
    public static let tf = Preprocessing(scale: 1 / 127.5, offset: -1)
}
