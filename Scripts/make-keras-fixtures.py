#!/usr/bin/env python3
"""Writes Keras augmentation fixtures to Tests/LumenTests/Fixtures/keras/augment.safetensors.

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

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LumenTests", "Fixtures", "keras")


def save(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for key in sorted(tensors):
        data = np.ascontiguousarray(tensors[key], dtype="<f4").tobytes()
        header[key] = {"dtype": "F32", "shape": list(np.shape(tensors[key])), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


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
    save(os.path.join(OUT, "augment.safetensors"), tensors, {"cases": json.dumps(cases)})


if __name__ == "__main__":
    main()
