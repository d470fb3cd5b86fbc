#!/usr/bin/env python3
"""Writes Keras fixtures under Tests/LumenTests/Fixtures/keras/: augment.safetensors,
callbacks.json, the weight files with predictions.safetensors, and the import-order
models with import-order.safetensors (`make-keras-fixtures.py import-order` writes only
those).

Needs keras (PyPI) with a backend that imports without a GPU, scipy and Pillow:
    pip install keras jax pillow scipy
    KERAS_BACKEND=numpy python3 Scripts/make-keras-fixtures.py

For one fixed image it stores what Keras' ImageDataGenerator helpers return for given
parameters: apply_affine_transform (rotation, shift, shear, zoom; every fill mode),
apply_channel_shift and apply_brightness_shift. The Swift tests apply the same
parameters with Lumen and compare.
"""
import json
import os
import struct

os.environ.setdefault("KERAS_BACKEND", "numpy")
import numpy as np
from keras.src.legacy.preprocessing.image import apply_affine_transform, apply_brightness_shift, apply_channel_shift

from fixture_io import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LumenTests", "Fixtures", "keras")


def main():
    os.makedirs(OUT, exist_ok=True)
    height, width = 21, 17
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([(x * 13 + y * 5) % 256, 128 + 100 * np.sin(x / 3.0 + y / 5.0), (y * 11) % 256], -1)
    image = image.astype(np.float32)
    tensors = {"image": image}
    cases = []
    affine = [
        ("rotate30", dict(theta=30)), ("rotate-75", dict(theta=-75)),
        ("shift", dict(tx=3.5, ty=-2.25)), ("shear20", dict(shear=20)),
        ("zoom", dict(zx=0.8, zy=1.25)), ("combined", dict(theta=12, tx=-1.5, ty=2, shear=-8, zx=1.1, zy=0.9)),
    ]
    for name, params in affine:
        for mode in ["nearest", "constant", "reflect", "wrap"]:
            key = "affine/%s/%s" % (name, mode)
            tensors[key] = apply_affine_transform(image, **params, row_axis=0, col_axis=1, channel_axis=2,
                                                  fill_mode=mode, cval=40.0, order=1)
            cases.append({"key": key, "kind": "affine", "fill_mode": mode, "cval": 40.0, **params})
    for intensity in [35.0, -60.0]:
        key = "channel_shift/%g" % intensity
        tensors[key] = apply_channel_shift(image, intensity, channel_axis=2)
        cases.append({"key": key, "kind": "channel_shift", "intensity": intensity})
    for factor in [0.6, 1.3]:
        key = "brightness/%g" % factor
        tensors[key] = apply_brightness_shift(image, factor)
        cases.append({"key": key, "kind": "brightness", "factor": factor})
    write_safetensors(os.path.join(OUT, "augment.safetensors"), tensors, {"cases": json.dumps(cases)})
    callbacks()
    weight_files()


def callbacks():
    """Replays metric sequences through Keras' own ModelCheckpoint, ReduceLROnPlateau and
    EarlyStopping and records, per epoch, the learning rate, whether training stops and
    whether a checkpoint is written."""
    import tempfile
    import keras
    loss = [0.9, 0.8, 0.85, 0.81, 0.8, 0.79, 0.795, 0.80, 0.82, 0.78, 0.78, 0.7799, 0.80, 0.81, 0.82, 0.83]
    accuracy = [0.5, 0.6, 0.62, 0.615, 0.63, 0.70, 0.705, 0.71, 0.69, 0.74, 0.745, 0.74, 0.80, 0.81, 0.805, 0.80]
    scenarios = [
        ("reduce_seed", "ReduceLROnPlateau", dict(monitor="val_loss", factor=0.2, patience=3, mode="min", min_lr=1e-5)),
        ("reduce_acc_cooldown", "ReduceLROnPlateau", dict(monitor="val_accuracy", mode="max", factor=0.5, patience=1, cooldown=2, min_delta=0.01)),
        ("reduce_min_lr", "ReduceLROnPlateau", dict(monitor="val_loss", factor=0.1, patience=1, min_lr=2e-5)),
        ("stop_seed", "EarlyStopping", dict(monitor="val_loss", min_delta=1e-10, patience=3, restore_best_weights=True)),
        ("stop_baseline", "EarlyStopping", dict(monitor="val_accuracy", mode="max", patience=2, baseline=0.72)),
        ("stop_delta", "EarlyStopping", dict(monitor="val_loss", patience=2, min_delta=0.015, start_from_epoch=2)),
        ("checkpoint_best_loss", "ModelCheckpoint", dict(monitor="val_loss", save_best_only=True)),
        ("checkpoint_best_acc", "ModelCheckpoint", dict(monitor="val_accuracy", save_best_only=True, mode="max")),
        ("checkpoint_every", "ModelCheckpoint", dict(monitor="val_loss", save_best_only=False)),
        ("checkpoint_threshold", "ModelCheckpoint", dict(monitor="val_loss", save_best_only=True, initial_value_threshold=0.8)),
    ]
    results = []
    for name, kind, args in scenarios:
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        folder = tempfile.mkdtemp()
        if kind == "ModelCheckpoint":
            callback = keras.callbacks.ModelCheckpoint(os.path.join(folder, "{epoch}.weights.h5"), save_weights_only=True, **args)
        else:
            callback = getattr(keras.callbacks, kind)(**args)
        callback.set_model(model)
        callback.on_train_begin()
        epochs = []
        for epoch, (l, a) in enumerate(zip(loss, accuracy)):
            callback.on_epoch_end(epoch, {"loss": l + 0.1, "val_loss": l, "val_accuracy": a})
            saved = os.path.exists(os.path.join(folder, "%d.weights.h5" % (epoch + 1)))
            epochs.append({"learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
                           "stop": bool(model.stop_training), "saved": saved})
            if model.stop_training:
                break
        callback.on_train_end()
        result = {"name": name, "kind": kind, "args": args, "epochs": epochs}
        if kind == "EarlyStopping":
            result["best_epoch"] = int(callback.best_epoch)
        results.append(result)
    with open(os.path.join(OUT, "callbacks.json"), "w") as f:
        json.dump({"val_loss": loss, "val_accuracy": accuracy, "scenarios": results}, f, indent=1)


def weight_files():
    """Keras weight files for `lumen import-keras`, with what Keras predicts:
    xray-cnn (the tutorial's model, at 48x48) as a full-model legacy .h5 and as a Keras 3
    .weights.h5; a small model as Keras 2-style save_weights (root layer_names), and the
    same with layer_names split into chunks as Keras does above 64 KB."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format
    keras.utils.set_random_seed(4)

    def xray():
        layers = [keras.Input((48, 48, 3))]
        for filters in [64, 128, 256, 256]:
            layers += [keras.layers.Conv2D(filters, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                       keras.layers.BatchNormalization()]
        layers += [keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.2),
                   keras.layers.Dense(64, activation="relu"), keras.layers.Dropout(0.2), keras.layers.Dense(2, activation="sigmoid")]
        return keras.Sequential(layers)

    def small():
        return keras.Sequential([keras.Input((10, 12, 3)), keras.layers.Conv2D(5, 3, padding="same", activation="relu"),
                                 keras.layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False),
                                 keras.layers.BatchNormalization(scale=False), keras.layers.Flatten(),
                                 keras.layers.Dense(4, activation="softmax")])

    def randomise_statistics(model):
        rng = np.random.default_rng(9)
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                weights = layer.get_weights()
                weights[-2] = rng.normal(0, 0.1, weights[-2].shape).astype(np.float32)
                weights[-1] = rng.uniform(0.5, 1.5, weights[-1].shape).astype(np.float32)
                if layer.scale:
                    weights[0] = rng.uniform(0.5, 1.5, weights[0].shape).astype(np.float32)
                layer.set_weights(weights)

    results = {}
    model = xray()
    randomise_statistics(model)
    x = np.random.default_rng(1).random((2, 48, 48, 3), dtype=np.float32)
    results["xray"] = {"x": x, "y": model.predict(x, verbose=0)}
    model.save(os.path.join(OUT, "xray-cnn-full.h5"))
    model.save_weights(os.path.join(OUT, "xray-cnn.weights.h5"))
    model = small()
    randomise_statistics(model)
    x = np.random.default_rng(2).random((3, 10, 12, 3), dtype=np.float32)
    results["small"] = {"x": x, "y": model.predict(x, verbose=0)}
    with h5py.File(os.path.join(OUT, "small-legacy.h5"), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    with h5py.File(os.path.join(OUT, "small-legacy-chunked.h5"), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
        names = f.attrs["layer_names"]
        del f.attrs["layer_names"]
        f.attrs["layer_names0"] = names[:2]
        f.attrs["layer_names1"] = names[2:]
    model = keras.applications.MobileNetV2(weights=None, input_shape=(64, 64, 3), classes=10)
    randomise_statistics(model)
    x = np.random.default_rng(3).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    results["mobilenet_v2"] = {"x": x, "y": model.predict(x, verbose=0)}
    model.save(os.path.join(OUT, "mobilenet_v2-full.h5"))
    write_safetensors(os.path.join(OUT, "predictions.safetensors"),
                      {"%s/%s" % (k, n): v for k, d in results.items() for n, v in d.items()})


def import_order_files():
    """Two Keras models whose import went wrong before, with what Keras predicts:
    `narrow` shrinks a 13x13 input through stride-2 "same" convolutions, a depthwise one
    and a "same" max pool down to 2x2 and 1x1 maps, where windows overhang both edges;
    `flatten-dropout` puts Dropout, BatchNormalization and Activation between Flatten
    and Dense (the Keras MNIST convnet's order), so the Dense rows and the BatchNorm
    vectors must move from Keras' (h, w, c) flattening to Lumen's (c, h, w). Each is saved
    as a full-model .h5 and a Keras 3 .weights.h5."""
    import keras
    keras.utils.set_random_seed(21)
    L = keras.layers

    def narrow():
        return keras.Sequential([
            keras.Input((13, 13, 3)),
            L.Conv2D(6, 3, strides=2, padding="same", activation="relu"),        # 7x7
            L.Conv2D(8, 5, strides=2, padding="same", activation="relu"),        # 4x4
            L.MaxPooling2D(3, strides=2, padding="same"),                          # 2x2
            L.DepthwiseConv2D(3, strides=1, padding="same", depth_multiplier=2),   # 2x2
            L.BatchNormalization(),
            L.Conv2D(10, 3, strides=2, padding="same", activation="relu"),       # 1x1
            L.Conv2D(12, 3, padding="same", activation="relu"),                  # 1x1
            L.AveragePooling2D(2, padding="same"),                                 # 1x1
            L.Flatten(),
            L.Dense(4, activation="softmax"),
        ])

    def flatten_dropout():
        return keras.Sequential([
            keras.Input((13, 13, 3)),
            L.Conv2D(5, 3, strides=2, padding="same", activation="relu"),        # 7x7
            L.MaxPooling2D(2, padding="same"),                                     # 4x4
            L.Conv2D(6, 3, strides=2, padding="same"),                             # 2x2
            L.Flatten(),
            L.Dropout(0.5),
            L.BatchNormalization(),
            L.Activation("relu"),
            L.Dense(5, activation="softmax"),
        ])

    results = {}
    for name, build, seed in [("narrow", narrow, 5), ("flatten-dropout", flatten_dropout, 6)]:
        model = build()
        rng = np.random.default_rng(seed)
        # Kernels scaled by fan-in and random BatchNorm statistics: every weight matters
        # and the probabilities stay spread, so a misplaced row or window shows.
        for layer in model.layers:
            weights = layer.get_weights()
            if not weights:
                continue
            if isinstance(layer, L.BatchNormalization):
                gamma, beta, mean, variance = [w.shape for w in weights]
                weights = [rng.uniform(0.5, 1.5, gamma), rng.normal(0, 0.2, beta), rng.normal(0, 0.3, mean),
                           rng.uniform(0.3, 1.5, variance)]
            else:
                kernel = weights[0].shape
                fan_in = int(np.prod(kernel[:-1])) if not isinstance(layer, L.DepthwiseConv2D) else kernel[0] * kernel[1]
                weights = [rng.normal(0, 1.5 / np.sqrt(fan_in), kernel)] + [rng.normal(0, 0.1, w.shape) for w in weights[1:]]
            layer.set_weights([w.astype(np.float32) for w in weights])
        x = rng.uniform(-1, 1, (3, 13, 13, 3)).astype(np.float32)
        results[name] = {"x": x, "y": model.predict(x, verbose=0)}
        model.save(os.path.join(OUT, "%s-full.h5" % name))
        model.save_weights(os.path.join(OUT, "%s.weights.h5" % name))
    write_safetensors(os.path.join(OUT, "import-order.safetensors"),
                      {"%s/%s" % (k, n): v for k, d in results.items() for n, v in d.items()})


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["import-order"]:
        import_order_files()
    else:
        main()
        import_order_files()
