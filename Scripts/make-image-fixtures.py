#!/usr/bin/python3
"""Writes image fixtures under Tests/LumenTests/Fixtures/images/ with Pillow and PyTorch.

Run with Debian's python3-pil and python3-torch:
    /usr/bin/python3 Scripts/make-image-fixtures.py

- Sample JPEG and PNG files (RGB, grayscale, palette, 16-bit, alpha, EXIF-rotated, CMYK
  and YCCK JPEGs) and
  reference.safetensors with the pixels Pillow decodes from each, and Pillow's NEAREST
  resize of each to 16x12, the Keras default.
- A checkpoint written here, outside Lumen, in Lumen's layout (fashion-cnn names and
  metadata), with the probabilities PyTorch predicts for the sample images after Keras'
  preprocessing (nearest resize, x/255). `lumen predict` must reproduce them.
"""
import io
import json
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from fixture_io import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LumenTests", "Fixtures", "images")
rng = np.random.default_rng(7)


def smooth_rgb(width, height):
    """A picture with gradients and blobs, so JPEG artefacts stay mild."""
    y, x = np.mgrid[0:height, 0:width]
    r = 128 + 100 * np.sin(x / 5.0)
    g = 128 + 100 * np.cos(y / 4.0)
    b = (x * 255 // max(width - 1, 1) + y * 3) % 256
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def exif_with_orientation(value):
    """A minimal little-endian EXIF block holding only Orientation."""
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
    tiff += struct.pack("<HHII", 0x0112, 3, 1, value) + struct.pack("<I", 0)
    return b"Exif\x00\x00" + tiff


def write_ycck(cmyk, path):
    """A YCCK JPEG of the (height, width, 4) bytes, through Scripts/write-ycck-jpeg.c."""
    import subprocess
    import tempfile
    source = os.path.join(os.path.dirname(__file__), "write-ycck-jpeg.c")
    with tempfile.TemporaryDirectory() as folder:
        program = os.path.join(folder, "write-ycck-jpeg")
        subprocess.run(["cc", source, "-ljpeg", "-o", program], check=True)
        with open(path, "wb") as out:
            subprocess.run([program, str(cmyk.shape[1]), str(cmyk.shape[0])], input=cmyk.tobytes(), stdout=out, check=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    samples = {}
    rgb = Image.fromarray(smooth_rgb(37, 23), "RGB")
    rgb.save(os.path.join(OUT, "rgb.jpg"), quality=92)
    rgb.save(os.path.join(OUT, "rgb.png"))
    gray = Image.fromarray(smooth_rgb(31, 29)[:, :, 0], "L")
    gray.save(os.path.join(OUT, "gray.jpg"), quality=90)
    gray.save(os.path.join(OUT, "gray.png"))
    rgb.convert("P", palette=Image.ADAPTIVE, colors=16).save(os.path.join(OUT, "palette.png"))
    sixteen = (smooth_rgb(20, 18)[:, :, 1].astype(np.uint16) * 257)
    Image.fromarray(sixteen, "I;16").save(os.path.join(OUT, "gray16.png"))
    rgba = np.concatenate([smooth_rgb(19, 17), np.full((17, 19, 1), 255, np.uint8)], axis=-1)
    rgba[:, :9, 3] = 90  # partly transparent: Keras (Pillow) drops alpha, so must Lumen
    Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "rgba.png"))
    # Stored sideways with EXIF orientation 6: a viewer rotates it 90 degrees clockwise.
    rgb.save(os.path.join(OUT, "rotated.jpg"), quality=92, exif=exif_with_orientation(6))
    # Print-ready exports: CMYK as Pillow writes it (Adobe marker, inverted values), and
    # YCCK, written by a small libjpeg program since Pillow cannot.
    cmyk = np.concatenate([smooth_rgb(29, 21), (smooth_rgb(29, 21)[:, :, :1] // 3)], axis=-1)
    Image.fromarray(cmyk, "CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=92)
    write_ycck(cmyk, os.path.join(OUT, "ycck.jpg"))
    with open(os.path.join(OUT, "not-an-image.jpg"), "w") as f:
        f.write("this is text, not a JPEG\n")
    data = open(os.path.join(OUT, "rgb.jpg"), "rb").read()
    with open(os.path.join(OUT, "truncated.jpg"), "wb") as f:
        f.write(data[: len(data) // 2])
    open(os.path.join(OUT, "empty.png"), "wb").close()
    # A valid PNG header claiming 20000 x 20000 pixels, with no pixel data.
    import zlib
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    with open(os.path.join(OUT, "huge.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\\x00")) + chunk(b"IEND", b""))

    from PIL import ImageOps
    reference = {}
    for name in ["rgb.jpg", "rgb.png", "gray.jpg", "gray.png", "palette.png", "gray16.png", "rgba.png", "rotated.jpg",
                 "cmyk.jpg", "ycck.jpg"]:
        image = ImageOps.exif_transpose(Image.open(os.path.join(OUT, name)))
        for mode, channels in [("RGB", 3), ("L", 1)]:
            if name == "gray16.png":
                converted = Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8), "L").convert(mode)
            else:
                converted = image.convert(mode)
            pixels = np.asarray(converted, dtype=np.float32).reshape(converted.height, converted.width, channels)
            reference["%s/%d/pixels" % (name, channels)] = pixels
            resized = converted.resize((16, 12), Image.NEAREST)
            reference["%s/%d/nearest" % (name, channels)] = np.asarray(resized, dtype=np.float32).reshape(12, 16, channels)
    write_safetensors(os.path.join(OUT, "reference.safetensors"), reference, {})

    # A fashion-cnn checkpoint written outside Lumen, and what PyTorch predicts with it.
    torch.manual_seed(3)
    spec = {"name": "fashion-cnn", "input_shape": [28, 28, 1], "layers": [
        {"type": "Conv2D", "filters": 32, "kernel_size": 3, "activation": "relu"},
        {"type": "MaxPooling2D", "pool_size": 2},
        {"type": "Conv2D", "filters": 64, "kernel_size": 3, "activation": "relu"},
        {"type": "MaxPooling2D", "pool_size": 2},
        {"type": "Flatten"},
        {"type": "Dense", "units": 128, "activation": "relu"},
        {"type": "Dense", "units": 3, "activation": "softmax"},
    ]}
    layers = {"conv2d": torch.nn.Conv2d(1, 32, 3), "conv2d_1": torch.nn.Conv2d(32, 64, 3),
              "dense": torch.nn.Linear(1600, 128), "dense_1": torch.nn.Linear(128, 3)}
    tensors = {}
    for name, layer in layers.items():
        tensors[name + ".weight"] = layer.weight.detach().numpy() * 3
        tensors[name + ".bias"] = layer.bias.detach().numpy()
    classes = ["boot", "coat", "shirt"]
    write_safetensors(os.path.join(OUT, "fashion-checkpoint.safetensors"), tensors, {
        "format": "lumen-checkpoint", "format_version": "1", "model": json.dumps(spec),
        "classes": json.dumps(classes), "preprocessing": json.dumps({"scale": 1 / 255, "offset": 0}),
    })
    files = ["gray.jpg", "gray.png", "gray16.png", "palette.png", "rgb.jpg", "rgb.png", "rgba.png", "rotated.jpg"]
    batch = []
    for name in files:
        image = ImageOps.exif_transpose(Image.open(os.path.join(OUT, name)))
        if name == "gray16.png":
            image = Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8), "L")
        image = image.convert("L").resize((28, 28), Image.NEAREST)
        batch.append(np.asarray(image, dtype=np.float32)[None] / 255.0)
    x = torch.from_numpy(np.stack(batch))
    w = {k: torch.from_numpy(v) for k, v in tensors.items()}
    h = F.max_pool2d(F.relu(F.conv2d(x, w["conv2d.weight"], w["conv2d.bias"])), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w["conv2d_1.weight"], w["conv2d_1.bias"])), 2)
    h = F.relu(F.linear(h.reshape(len(files), -1), w["dense.weight"], w["dense.bias"]))
    probabilities = F.softmax(F.linear(h, w["dense_1.weight"], w["dense_1.bias"]), dim=1)
    with open(os.path.join(OUT, "fashion-predictions.json"), "w") as f:
        json.dump({"classes": classes, "predictions": [
            {"file": name, "probabilities": p.tolist()} for name, p in zip(files, probabilities)]}, f, indent=1)


if __name__ == "__main__":
    main()
