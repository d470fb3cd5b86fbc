#!/usr/bin/env python3
"""Writes Tests/LumenTests/Fixtures/onnx/: for each model below, a Lumen checkpoint
(lumen init, then its BatchNorm statistics and biases randomised so they matter), the
ONNX file `lumen export-onnx` writes for it, and what ONNX Runtime computes with that
file on a few random inputs. The Swift test exports the checkpoint again, checks the
bytes are the file ONNX Runtime ran, and compares Lumen's predictions with ONNX
Runtime's outputs.

Needs onnx and onnxruntime (PyPI) and a built lumen:
    pip install onnx onnxruntime numpy
    python3 Scripts/make-onnx-fixtures.py
"""
import json
import os
import struct
import subprocess
import tempfile

import numpy as np
import onnx
import onnxruntime

from fixture_io import write_safetensors

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "Tests", "LumenTests", "Fixtures", "onnx")

# Every layer Lumen has, with every activation, in two models.
MODELS = {
    "every-layer": ("3", """
name: every-layer
input_shape: [12, 12, 3]
layers:
  - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: relu6}
  - {type: DepthwiseConv2D, kernel_size: 3, strides: 2, padding: same, depth_multiplier: 2, activation: leaky_relu}
  - {type: BatchNormalization}
  - {type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}
  - type: Residual
    activation: relu
    layers:
      - {type: Conv2D, filters: 8, kernel_size: 1, activation: relu}
      - {type: Conv2D, filters: 8, kernel_size: 3, padding: same}
  - {type: AveragePooling2D, pool_size: 2, padding: same}
  - {type: Conv2D, filters: 5, kernel_size: 1, activation: tanh, use_bias: false}
  - {type: GlobalAveragePooling2D}
  - {type: Dropout, rate: 0.3}
  - {type: Dense, units: 6}
  - {type: BatchNormalization, scale: false}
  - {type: Activation, activation: relu}
  - {type: Dense, units: 3, activation: softmax}
"""),
    "binary-sigmoid": ("2", """
name: binary-sigmoid
input_shape: [11, 10, 1]
layers:
  - {type: Conv2D, filters: 3, kernel_size: 3, strides: 2, padding: 1, activation: sigmoid}
  - {type: MaxPooling2D, pool_size: 2}
  - {type: Conv2D, filters: 4, kernel_size: 2, padding: same}
  - {type: LeakyReLU, alpha: 0.2}
  - {type: GlobalMaxPooling2D}
  - {type: Dense, units: 4, activation: tanh}
  - {type: Flatten}
  - {type: Dense, units: 1, activation: sigmoid}
"""),
    # The layers Keras' ImageNet bases bring (Xception's separable convolutions, the
    # ResNet, DenseNet and MobileNet paddings, MobileNet's head reshape, Keras 3's
    # rescaling) with asymmetric margins so a swapped side shows, and a graph's merges.
    "keras-layers": ("3", """
name: keras-layers
input_shape: [13, 12, 3]
layers:
  - {type: Rescaling, name: rescale, scale: 0.5, offset: -0.25}
  - {type: ZeroPadding2D, name: pad, padding: [[1, 2], [0, 1]]}
  - {type: SeparableConv2D, name: sep1, filters: 6, kernel_size: 3, strides: 2, padding: same, depth_multiplier: 2, activation: relu}
  - {type: Cropping2D, name: crop, cropping: [[1, 0], [0, 2]]}
  - {type: SeparableConv2D, name: sep2, filters: 5, kernel_size: 3, padding: same, use_bias: false}
  - {type: BatchNormalization, name: norm}
  - {type: Conv2D, name: proj, inputs: [crop], filters: 5, kernel_size: 1}
  - {type: Add, name: add, inputs: [norm, proj]}
  - {type: Conv2D, name: gate, inputs: [crop], filters: 5, kernel_size: 1, activation: sigmoid}
  - {type: Multiply, name: gated, inputs: [add, gate]}
  - {type: Concatenate, name: concat, inputs: [gated, crop]}
  - {type: GlobalAveragePooling2D, name: pool, keepdims: true}
  - {type: Conv2D, name: squeeze, filters: 4, kernel_size: 1, activation: tanh}
  - {type: Reshape, name: flat, target_shape: [4]}
  - {type: Dense, name: dense, units: 6, activation: relu}
  - {type: Reshape, name: map, target_shape: [1, 1, 6]}
  - {type: Conv2D, name: logits, filters: 3, kernel_size: 1}
  - {type: Reshape, name: vector, target_shape: [-1]}
  - {type: Activation, name: softmax, activation: softmax}
"""),
}


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for key, info in header.items():
        start, end = info["data_offsets"]
        tensors[key] = np.frombuffer(data[8 + n + start:8 + n + end], dtype="<f4").reshape(info["shape"]).copy()
    return tensors, metadata


def main():
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["swift", "build", "--product", "lumen"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    lumen = os.path.join(ROOT, ".build", "debug", "lumen")
    rng = np.random.default_rng(11)
    for name, (classes, spec) in MODELS.items():
        with tempfile.TemporaryDirectory() as folder:
            spec_path = os.path.join(folder, name + ".yaml")
            open(spec_path, "w").write(spec)
            checkpoint = os.path.join(OUT, name + ".safetensors")
            subprocess.run([lumen, "init", "--model", spec_path, "--classes", classes, "--seed", "5", "--out", checkpoint],
                           check=True, stdout=subprocess.DEVNULL)
        tensors, metadata = read_safetensors(checkpoint)
        for key, value in tensors.items():
            if key.endswith("running_mean") or key.endswith(".bias"):
                tensors[key] = rng.normal(0, 0.3, value.shape).astype(np.float32)
            elif key.endswith("running_var"):
                tensors[key] = rng.uniform(0.4, 1.6, value.shape).astype(np.float32)
            elif key.endswith(".weight") and value.ndim == 1:
                tensors[key] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
        write_safetensors(checkpoint, tensors, metadata)
        model_path = os.path.join(OUT, name + ".onnx")
        subprocess.run([lumen, "export-onnx", "--model", checkpoint, "--out", model_path], check=True,
                       stdout=subprocess.DEVNULL)
        onnx.checker.check_model(onnx.load(model_path), full_check=True)
        session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        shape = json.loads(metadata["model"])["input_shape"]
        x = rng.uniform(-1, 1, (3, shape[2], shape[0], shape[1])).astype(np.float32)
        (y,) = session.run(["probabilities"], {"input": x})
        write_safetensors(os.path.join(OUT, name + "-outputs.safetensors"), {"x": x, "y": y},
                          {"onnxruntime": onnxruntime.__version__})
        print("%s: %s -> %s, probabilities %s" % (name, x.shape, y.shape, np.round(y[0], 3)))


if __name__ == "__main__":
    main()
