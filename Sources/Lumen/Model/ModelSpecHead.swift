extension ModelSpec {
    /// The spec with its classifier sized for `classes`, for a checkpoint or model file
    /// that starts training on another set of classes (`--replace-head`). The classifier is
    /// the last layer with weights and must be a Dense layer; it gets one output per class,
    /// or keeps a single sigmoid output for 2 classes. Its activation stays as it was, as a
    /// built-in's does whatever the class count (xray-cnn's sigmoid outputs).
    public func replacingHead(classes: Int) throws -> ModelSpec {
        let weighted: Set<String> = ["Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense", "BatchNormalization", "Residual"]
        guard let index = layers.lastIndex(where: { weighted.contains($0.type) }), layers[index].type == "Dense" else {
            throw LumenError.invalidModelSpec("--replace-head needs a Dense classifier as the model's last layer with weights; \(name)'s is "
                + (layers.last { weighted.contains($0.type) }?.type ?? "missing"))
        }
        var spec = self
        spec.layers[index].units = layers[index].units == 1 && classes == 2 ? 1 : classes
        return spec
    }
}
