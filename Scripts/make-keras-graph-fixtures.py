#!/usr/bin/env python3
"""Writes the graph-model fixtures under Tests/LumenTests/Fixtures/keras-graph/.

Needs Keras 3 with the TensorFlow backend and h5py (a venv: pip install tensorflow-cpu keras h5py):
    KERAS_BACKEND=tensorflow python Scripts/make-keras-graph-fixtures.py

applications.safetensors: keras.applications' MobileNet (alpha 0.25 and 1.0), Xception,
InceptionV3, ResNet50 and DenseNet121 at small input sizes with `weights=None`, 5
classes and no classifier activation. Their weights are too large to commit, so every
variable is set from a formula of its layer's name, its position in the layer and its
shape (`formula` below; Tests/LumenTests/KerasFormulaWeights.swift computes the same),
with BatchNorm statistics far from 0 and 1 so they matter. Stored: two formula inputs,
Keras' outputs, and in the metadata each model's layer names (Keras' order), classes
and parameter count. `<name>.json` is each model's architecture as `model.to_json()`
writes it, which Lumen reads as a full-model file's config.

mobilenet-025.h5 / .keras / -notop-legacy.h5 / .weights.h5: the small MobileNet saved
whole (Keras 3's legacy .h5 and .keras) and as weights only (keras-applications'
legacy layout, without the top; Keras 3's .weights.h5 with the top), for the file paths.

mini-xception.h5 / .keras and graph.safetensors: a small functional model written
here with SeparableConv2D, Add, Concatenate, Multiply, asymmetric ZeroPadding2D,
Cropping2D, Rescaling, GlobalAveragePooling2D(keepdims) + Reshape and a softmax, its
BatchNorm statistics randomised; its inputs and Keras' predictions.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import h5py
import keras
import numpy as np
from keras import layers
from keras.src.legacy.saving import legacy_h5_format

from fixture_io import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LumenTests", "Fixtures", "keras-graph")


def phase(name):
    return sum((i + 1) * ord(c) for i, c in enumerate(name)) % 997


def uniform(count, salt):
    """count numbers in [-1, 1) from an integer hash of (position, salt): exact on any machine."""
    h = (np.arange(count, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(salt)) % np.uint64(1 << 32)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) % np.uint64(1 << 32)
    h ^= h >> np.uint64(13)
    return h.astype(np.float64) / float(1 << 31) - 1.0


def formula(layer, index, shape):
    """The value of variable `index` of `layer`: hashed uniforms keyed by the layer's name
    and the variable's position, scaled by its role (He-uniform kernels by fan-in,
    BatchNorm vectors around their usual values, small biases)."""
    n = int(np.prod(shape))
    s = uniform(n, phase(layer.name) * 40503 + index * 9973)
    kind = type(layer).__name__
    if kind == "BatchNormalization":
        roles = (["gamma"] if layer.scale else []) + ["beta", "mean", "variance"]
        role = roles[index]
        values = {"gamma": 1 + 0.2 * s, "beta": 0.1 * s, "mean": 0.1 * s, "variance": 0.75 + 0.5 * s * s}[role]
    elif len(shape) == 1:
        values = 0.05 * s
    else:
        if kind == "DepthwiseConv2D" or (kind == "SeparableConv2D" and index == 0):
            fan_in = shape[0] * shape[1]
        else:
            fan_in = int(np.prod(shape[:-1]))
        values = np.sqrt(6.0 / fan_in) * s
    return values.reshape(shape).astype(np.float32)


def set_formula_weights(model):
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([formula(layer, i, w.shape) for i, w in enumerate(layer.weights)])


def formula_input(count, size, salt):
    """Hashed uniform images in [-1, 1), each sample with its own salt."""
    return np.stack([uniform(size * size * 3, salt + 7919 * k) for k in range(count)]).reshape(count, size, size, 3).astype(np.float32)


APPLICATIONS = [
    ("mobilenet-025", lambda **k: keras.applications.MobileNet(alpha=0.25, **k), 32),
    ("mobilenet-100", lambda **k: keras.applications.MobileNet(alpha=1.0, **k), 32),
    ("xception", keras.applications.Xception, 71),
    ("inception-v3", keras.applications.InceptionV3, 75),
    ("resnet50", keras.applications.ResNet50, 32),
    ("densenet121", keras.applications.DenseNet121, 32),
]


def applications():
    tensors, metadata = {}, {}
    for name, constructor, size in APPLICATIONS:
        keras.backend.clear_session()  # Keras' automatic names count from a fresh session
        model = constructor(weights=None, input_shape=(size, size, 3), classes=5, classifier_activation=None)
        set_formula_weights(model)
        x = formula_input(2, size, 11)
        tensors[name + "/x"] = x
        tensors[name + "/y"] = model.predict(x, verbose=0)
        metadata[name] = json.dumps({"size": size, "classes": 5, "params": model.count_params(),
                                     "layers": [l.name for l in model.layers if type(l).__name__ != "InputLayer"]})
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            f.write(model.to_json())
        if name == "mobilenet-025":
            model.save(os.path.join(OUT, "mobilenet-025.h5"))
            model.save(os.path.join(OUT, "mobilenet-025.keras"))
            model.save_weights(os.path.join(OUT, "mobilenet-025.weights.h5"))
            keras.backend.clear_session()
            notop = keras.applications.MobileNet(alpha=0.25, weights=None, input_shape=(size, size, 3), include_top=False)
            set_formula_weights(notop)
            with h5py.File(os.path.join(OUT, "mobilenet-025-notop-legacy.h5"), "w") as f:
                legacy_h5_format.save_weights_to_hdf5_group(f, notop)
            tensors[name + "/notop"] = notop.predict(x, verbose=0)
    write_safetensors(os.path.join(OUT, "applications.safetensors"), tensors, metadata)


def mini_xception():
    keras.backend.clear_session()
    inputs = keras.Input(shape=(20, 18, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1, name="rescale")(inputs)
    x = layers.ZeroPadding2D(((1, 0), (2, 1)), name="pad")(x)
    x = layers.Conv2D(8, 3, strides=2, use_bias=False, name="stem")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    residual = layers.Conv2D(16, 1, strides=2, padding="same", use_bias=False, name="project")(x)
    y = layers.SeparableConv2D(16, 3, padding="same", use_bias=False, name="sep1")(x)
    y = layers.BatchNormalization(name="sep1_bn")(y)
    y = layers.ReLU(6.0, name="sep1_relu")(y)
    y = layers.SeparableConv2D(16, 3, padding="same", depth_multiplier=2, name="sep2")(y)
    y = layers.MaxPooling2D(3, strides=2, padding="same", name="pool")(y)
    x = layers.Add(name="add")([y, residual])
    a = layers.Conv2D(6, (1, 3), padding="same", activation="relu", name="branch_a")(x)
    b = layers.DepthwiseConv2D(3, padding="same", name="branch_b")(x)
    x = layers.Concatenate(name="concat")([a, b, x])
    gate = layers.Conv2D(38, 1, activation="sigmoid", name="gate")(x)
    x = layers.Multiply(name="gated")([x, gate])
    x = layers.Cropping2D(((1, 0), (0, 1)), name="crop")(x)
    x = layers.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
    x = layers.Conv2D(4, 1, name="logits")(x)
    x = layers.Reshape((4,), name="flat")(x)
    outputs = layers.Activation("softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="mini_xception")
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.2, b.shape),
                               rng.normal(0, 0.3, m.shape), rng.uniform(0.5, 2.0, v.shape)])
    model.save(os.path.join(OUT, "mini-xception.h5"))
    model.save(os.path.join(OUT, "mini-xception.keras"))
    x = rng.uniform(0, 255, (3, 20, 18, 3)).astype(np.float32)
    write_safetensors(os.path.join(OUT, "graph.safetensors"), {"x": x, "y": model.predict(x, verbose=0)},
                      {"params": str(model.count_params())})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    applications()
    mini_xception()
