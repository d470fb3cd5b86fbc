#!/usr/bin/python3
"""Writes a torchvision model's state dict as safetensors for `lumen train --pretrained`.

Usage: /usr/bin/python3 Scripts/export-torchvision.py resnet18|mobilenet_v2 OUT.safetensors [--weights FILE.pth] [--classes N]

Without --weights the model is torchvision's random initialisation (no weights can be
downloaded on machines without network); with it, FILE.pth is a state dict saved by
PyTorch (e.g. torchvision's resnet18-f37072fd.pth, fetched elsewhere). Tensor names are
kept as they are: Lumen's resnet18 and mobilenet-v2 use torchvision's module names.
PyTorch's num_batches_tracked counters are left out. Needs python3-torchvision.
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(__file__))
from fixture_io import write_safetensors


def main():
    args = sys.argv[1:]
    if len(args) < 2 or args[0] not in ("resnet18", "mobilenet_v2"):
        sys.exit(__doc__)
    name, out = args[0], args[1]
    weights = args[args.index("--weights") + 1] if "--weights" in args else None
    classes = int(args[args.index("--classes") + 1]) if "--classes" in args else 1000
    model = getattr(torchvision.models, name)(num_classes=classes)
    if weights:
        model.load_state_dict(torch.load(weights, map_location="cpu"))
    state = {k: v.float() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    write_safetensors(out, state, {"source": "torchvision.models.%s" % name})
    print("export-torchvision: wrote %s: %d tensors, %d parameters" % (out, len(state), sum(v.numel() for v in state.values())))


if __name__ == "__main__":
    main()
