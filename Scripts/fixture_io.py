"""Shared by the fixture scripts: a minimal safetensors writer (F32 tensors in name
order, the JSON header padded with spaces to 8 bytes), so the scripts need no
safetensors package."""
import json
import struct

import numpy as np


def write_safetensors(path, tensors, metadata=None):
    header = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for key in sorted(tensors):
        value = tensors[key]
        if hasattr(value, "detach"):
            value = value.detach().numpy()
        data = np.ascontiguousarray(value, dtype="<f4").tobytes()
        header[key] = {"dtype": "F32", "shape": list(np.shape(value)), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
