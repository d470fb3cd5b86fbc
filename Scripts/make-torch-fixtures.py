#!/usr/bin/python3
"""Writes the PyTorch parity fixtures under Tests/LumenTests/Fixtures/torch/.

Run with Debian's python3-torch (`apt-get install python3-torch`):
    /usr/bin/python3 Scripts/make-torch-fixtures.py

Each fixture is one .safetensors file holding a case's inputs, parameters, upstream
gradient, and PyTorch's outputs and gradients; its __metadata__ "config" entry (JSON)
holds the case's settings. Where Keras and PyTorch differ (asymmetric "same" padding,
BatchNorm momentum, Adam's epsilon, decoupled weight decay), the script builds Keras'
semantics out of PyTorch operations and autograd, so the fixtures state what Lumen must
compute. The tests never run Python; the fixtures are committed.
"""
import json
import math
import os
import numpy as np
import torch
import torch.nn.functional as F

from fixture_io import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LumenTests", "Fixtures", "torch")
torch.manual_seed(1234)
np.random.seed(1234)


def save(name, tensors, config):
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, name + ".safetensors"), tensors, {"config": json.dumps(config, sort_keys=True)})


def keras_same(size, kernel, stride):
    """(before, after) padding of Keras' "same": the extra cell goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_for(x, kernel, stride, padding, value=0.0):
    if padding == "valid":
        return x
    top, bottom = keras_same(x.shape[2], kernel, stride)
    left, right = keras_same(x.shape[3], kernel, stride)
    return F.pad(x, (left, right, top, bottom), value=value)


def leaf(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_(True)


# MARK: - Convolution

def conv_case(name, n, c, h, w, o, k, s, padding, bias):
    x, weight = leaf(n, c, h, w), leaf(o, c, k, k, scale=0.3)
    b = leaf(o) if bias else None
    y = F.conv2d(pad_for(x, k, s, padding), weight, b, stride=s)
    dy = torch.randn_like(y)
    y.backward(dy)
    tensors = {"x": x, "weight": weight, "y": y, "dy": dy, "dx": x.grad, "dweight": weight.grad}
    if bias:
        tensors.update({"bias": b, "dbias": b.grad})
    save(name, tensors, {"kernel": k, "stride": s, "padding": padding, "bias": bias, "filters": o})


def depthwise_case(name, n, c, h, w, m, k, s, padding):
    x, weight, b = leaf(n, c, h, w), leaf(c * m, 1, k, k, scale=0.3), leaf(c * m)
    y = F.conv2d(pad_for(x, k, s, padding), weight, b, stride=s, groups=c)
    dy = torch.randn_like(y)
    y.backward(dy)
    save(name, {"x": x, "weight": weight, "bias": b, "y": y, "dy": dy, "dx": x.grad, "dweight": weight.grad,
                "dbias": b.grad}, {"kernel": k, "stride": s, "padding": padding, "multiplier": m})


# MARK: - Pooling

def pool_case(name, mode, k, s, padding, h=9, w=10):
    x = leaf(2, 3, h, w)
    if mode == "max":
        y = F.max_pool2d(pad_for(x, k, s, padding, value=-math.inf), k, s)
    else:
        # Keras averages only the cells inside the image.
        sums = F.avg_pool2d(pad_for(x, k, s, padding), k, s)
        counts = F.avg_pool2d(pad_for(torch.ones_like(x), k, s, padding), k, s)
        y = sums / counts
    dy = torch.randn_like(y)
    y.backward(dy)
    save(name, {"x": x, "y": y, "dy": dy, "dx": x.grad}, {"mode": mode, "pool": k, "stride": s, "padding": padding})


def global_pool_case(name, mode):
    x = leaf(2, 3, 5, 4)
    y = x.mean(dim=(2, 3)) if mode == "average" else x.amax(dim=(2, 3))
    dy = torch.randn_like(y)
    y.backward(dy)
    save(name, {"x": x, "y": y, "dy": dy, "dx": x.grad}, {"mode": mode})


# MARK: - Batch norm

def batchnorm_case(name, shape, scale, training, momentum=0.99, eps=1e-3):
    x = leaf(*shape, scale=2.0)
    with torch.no_grad():
        x += 0.5
    c = shape[1]
    gamma = (torch.rand(c) + 0.5).requires_grad_(True)
    beta = leaf(c, scale=0.5)
    running_mean, running_var = torch.randn(c) * 0.1, torch.rand(c) + 0.5
    axes = [0] + list(range(2, len(shape)))
    view = [1, c] + [1] * (len(shape) - 2)
    if training:
        mean = x.mean(dim=axes)
        var = ((x - mean.view(view)) ** 2).mean(dim=axes)  # biased, as Keras
        new_mean = momentum * running_mean + (1 - momentum) * mean.detach()
        new_var = momentum * running_var + (1 - momentum) * var.detach()
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean, running_var
    y = (x - mean.view(view)) / torch.sqrt(var.view(view) + eps)
    y = (y * gamma.view(view) if scale else y) + beta.view(view)
    dy = torch.randn_like(y)
    y.backward(dy)
    tensors = {"x": x, "beta": beta, "running_mean": running_mean, "running_var": running_var, "y": y, "dy": dy,
               "dx": x.grad, "dbeta": beta.grad, "new_running_mean": new_mean, "new_running_var": new_var}
    if scale:
        tensors.update({"gamma": gamma, "dgamma": gamma.grad})
    save(name, tensors, {"scale": scale, "training": training, "momentum": momentum, "epsilon": eps})


# MARK: - Dense, activations, losses

def dense_case(name):
    x, weight, b = leaf(5, 7), leaf(4, 7, scale=0.4), leaf(4)
    y = F.linear(x, weight, b)
    dy = torch.randn_like(y)
    y.backward(dy)
    save(name, {"x": x, "weight": weight, "bias": b, "y": y, "dy": dy, "dx": x.grad, "dweight": weight.grad,
                "dbias": b.grad}, {"units": 4})


def activation_case(kind):
    x = leaf(4, 9, scale=3.0)
    functions = {
        "relu": F.relu, "relu6": F.relu6, "leaky_relu": lambda v: F.leaky_relu(v, 0.3), "sigmoid": torch.sigmoid,
        "tanh": torch.tanh, "softmax": lambda v: F.softmax(v, dim=1),
    }
    y = functions[kind](x)
    dy = torch.randn_like(y)
    y.backward(dy)
    save("activation_" + kind, {"x": x, "y": y, "dy": dy, "dx": x.grad}, {"kind": kind, "alpha": 0.3})


def keras_loss(kind, z, labels, smoothing, weights):
    n, k = z.shape
    if kind == "binary_crossentropy":
        t = F.one_hot(labels, 2).float() if k == 2 else labels.float().view(n, 1)
        t = t * (1 - smoothing) + smoothing / 2
        per_sample = F.binary_cross_entropy_with_logits(z, t, reduction="none").mean(dim=1)
    else:
        t = F.one_hot(labels, k).float() * (1 - smoothing) + smoothing / k
        per_sample = -(t * F.log_softmax(z, dim=1)).sum(dim=1)
    w = torch.tensor(weights)[labels] if weights else torch.ones(n)
    return (per_sample * w).sum() / n


def loss_case(name, kind, k, smoothing=0.0, weights=None):
    n = 6
    z = leaf(n, k, scale=2.0)
    classes = 2 if k == 1 else k
    labels = torch.randint(0, classes, (n,))
    labels[0], labels[1] = 0, classes - 1
    loss = keras_loss(kind, z, labels, smoothing, weights)
    loss.backward()
    save(name, {"logits": z, "labels": labels.float(), "loss": loss.detach().view(1), "dlogits": z.grad},
         {"kind": kind, "smoothing": smoothing, "weights": weights})


# MARK: - Optimizers (Keras' update rules, written out)

def optimizer_case(name, kind, steps=3, **options):
    p = np.random.randn(10).astype(np.float64)
    grads = [np.random.randn(10) for _ in range(steps)]
    tensors = {"p0": p.copy()}
    lr, wd = options.get("lr"), options.get("weight_decay", 0.0)
    velocity, m, v = np.zeros(10), np.zeros(10), np.zeros(10)
    for t, g in enumerate(grads, start=1):
        p = p - lr * wd * p
        if kind == "sgd":
            mom = options.get("momentum", 0.0)
            if mom == 0:
                p = p - lr * g
            else:
                velocity = mom * velocity - lr * g
                p = p + (mom * velocity - lr * g if options.get("nesterov") else velocity)
        else:
            b1, b2, eps = 0.9, 0.999, 1e-7
            alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            m = m + (g - m) * (1 - b1)
            v = v + (g * g - v) * (1 - b2)
            p = p - alpha * m / (np.sqrt(v) + eps)
        tensors["g%d" % t] = g
        tensors["p%d" % t] = p.copy()
    save(name, tensors, dict(options, kind=kind, steps=steps))


# MARK: - A whole xray-cnn Adam step

def mix32(x):
    x = np.uint32(x)
    x ^= x >> np.uint32(16)
    x = np.uint32((int(x) * 0x7FEB352D) & 0xFFFFFFFF)
    x ^= x >> np.uint32(15)
    x = np.uint32((int(x) * 0x846CA68B) & 0xFFFFFFFF)
    x ^= x >> np.uint32(16)
    return x


def lumen_dropout_mask(count, rate, layer_seed, step):
    """Lumen's dropout mask: a pure function of (layer seed, step, element index)."""
    step_seed = mix32((int(layer_seed) + int(mix32(step))) & 0xFFFFFFFF)
    key = int(mix32(step_seed))
    indices = np.arange(count, dtype=np.uint64)
    x = (indices ^ np.uint64(key)).astype(np.uint64)
    x ^= x >> np.uint64(16); x = (x * np.uint64(0x7FEB352D)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(15); x = (x * np.uint64(0x846CA68B)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    u = (x >> np.uint64(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)
    keep = np.float32(1.0) / (np.float32(1.0) - np.float32(rate))
    return torch.from_numpy(np.where(u >= np.float32(rate), keep, np.float32(0.0)).astype(np.float32))


def xray_step(name, n=2, size=64):
    convs = [("conv2d", 3, 64), ("conv2d_1", 64, 128), ("conv2d_2", 128, 256), ("conv2d_3", 256, 256)]
    bns = ["batch_normalization", "batch_normalization_1", "batch_normalization_2", "batch_normalization_3"]
    params, stats = {}, {}
    for conv, c_in, c_out in convs:
        layer = torch.nn.Conv2d(c_in, c_out, 3)
        params[conv + ".weight"] = layer.weight.detach().clone()
        params[conv + ".bias"] = layer.bias.detach().clone()
    for bn, (_, _, c) in zip(bns, convs):
        params[bn + ".weight"] = torch.rand(c) + 0.5
        params[bn + ".bias"] = torch.randn(c) * 0.1
        stats[bn + ".running_mean"] = torch.zeros(c)
        stats[bn + ".running_var"] = torch.ones(c)
    spatial = size
    for _ in range(4):
        spatial = (spatial - 2) // 2
    flat = 256 * spatial * spatial
    for dense, fan_in, fan_out in [("dense", flat, 128), ("dense_1", 128, 64), ("dense_2", 64, 2)]:
        layer = torch.nn.Linear(fan_in, fan_out)
        params[dense + ".weight"] = layer.weight.detach().clone()
        params[dense + ".bias"] = layer.bias.detach().clone()
    for tensor in params.values():
        tensor.requires_grad_(True)

    x = torch.rand(n, 3, size, size)
    labels = torch.tensor([0, 1][:n] + [1] * max(0, n - 2))
    h = x
    new_stats = {}
    for (conv, _, _), bn in zip(convs, bns):
        h = F.relu(F.conv2d(h, params[conv + ".weight"], params[conv + ".bias"]))
        h = F.max_pool2d(h, 2)
        mean = h.mean(dim=(0, 2, 3))
        var = ((h - mean.view(1, -1, 1, 1)) ** 2).mean(dim=(0, 2, 3))
        h = (h - mean.view(1, -1, 1, 1)) / torch.sqrt(var.view(1, -1, 1, 1) + 1e-3)
        h = h * params[bn + ".weight"].view(1, -1, 1, 1) + params[bn + ".bias"].view(1, -1, 1, 1)
        new_stats[bn + ".running_mean"] = 0.99 * stats[bn + ".running_mean"] + 0.01 * mean.detach()
        new_stats[bn + ".running_var"] = 0.99 * stats[bn + ".running_var"] + 0.01 * var.detach()
    h = h.reshape(n, -1)
    # Layer positions in naming order: dropout is 15th, dropout_1 17th; model seed 0.
    h = F.relu(F.linear(h, params["dense.weight"], params["dense.bias"]))
    h = h * lumen_dropout_mask(h.numel(), 0.2, mix32(15), 1).view(h.shape)
    h = F.relu(F.linear(h, params["dense_1.weight"], params["dense_1.bias"]))
    h = h * lumen_dropout_mask(h.numel(), 0.2, mix32(17), 1).view(h.shape)
    logits = F.linear(h, params["dense_2.weight"], params["dense_2.bias"])
    loss = keras_loss("binary_crossentropy", logits, labels, 0.0, None)
    loss.backward()

    tensors = {"x": x, "labels": labels.float(), "loss": loss.detach().view(1), "logits": logits}
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
    alpha = lr * math.sqrt(1 - b2) / (1 - b1)
    for key, value in params.items():
        g = value.grad.double()
        m = (1 - b1) * g
        v = (1 - b2) * g * g
        tensors["init/" + key] = value
        tensors["grad/" + key] = value.grad
        tensors["after/" + key] = value.detach().double() - alpha * m / (torch.sqrt(v) + eps)
    for key in stats:
        tensors["init/" + key] = stats[key]
        tensors["after/" + key] = new_stats[key]
    save(name, tensors, {"batch": n, "size": size, "lr": lr})


def gradcam_case(name):
    """Grad-CAM on a small CNN in inference mode, by autograd: the fixture model is
    Conv2D 6 (relu) -> MaxPool 2 -> BatchNorm -> Conv2D 8 same (relu) -> Flatten -> Dense 3
    softmax, Lumen's names; the map is taken at conv2d_1 for the predicted class."""
    w = {
        "conv2d.weight": torch.randn(6, 3, 3, 3) * 0.4, "conv2d.bias": torch.randn(6) * 0.1,
        "batch_normalization.weight": torch.rand(6) + 0.5, "batch_normalization.bias": torch.randn(6) * 0.1,
        "batch_normalization.running_mean": torch.rand(6) * 0.3, "batch_normalization.running_var": torch.rand(6) + 0.5,
        "conv2d_1.weight": torch.randn(8, 6, 3, 3) * 0.3, "conv2d_1.bias": torch.randn(8) * 0.1,
        "dense.weight": torch.randn(3, 8 * 7 * 7) * 0.1, "dense.bias": torch.randn(3) * 0.1,
    }
    x = torch.rand(1, 3, 16, 16)
    h = F.max_pool2d(F.relu(F.conv2d(x, w["conv2d.weight"], w["conv2d.bias"])), 2)
    h = F.batch_norm(h, w["batch_normalization.running_mean"], w["batch_normalization.running_var"],
                     w["batch_normalization.weight"], w["batch_normalization.bias"], training=False, eps=1e-3)
    a = F.relu(F.conv2d(h, w["conv2d_1.weight"], w["conv2d_1.bias"], padding=1)).detach().requires_grad_(True)
    logits = F.linear(a.reshape(1, -1), w["dense.weight"], w["dense.bias"])
    chosen = int(logits.argmax())
    logits[0, chosen].backward()
    weights = a.grad.mean(dim=(2, 3))
    cam = F.relu((weights[:, :, None, None] * a).sum(dim=1))[0]
    cam = cam / cam.max()
    tensors = dict(w)
    tensors.update({"x": x, "cam": cam.detach(), "class": torch.tensor([float(chosen)])})
    save(name, tensors, {"layer": "conv2d_1"})


def formula_value(name, shape, i):
    """The deterministic weights both sides compute (see torchvisionParity in the tests)."""
    phase = sum(name.encode()) * 0.0137
    v = math.sin(0.6180339887 * i + phase)
    # BatchNorm statistics and scales far from the identity, so they matter.
    if name.endswith("running_mean"):
        return 0.2 * v
    if name.endswith("running_var"):
        return 0.6 + 0.4 * (1 + v)
    if len(shape) >= 2:
        fan_in = 1
        for d in shape[1:]:
            fan_in *= d
        return math.sqrt(4.0 / fan_in) * v
    if name.endswith(".weight"):
        return 1 + 0.3 * v
    return 0.1 * v


def torchvision_case(name, builder, classes=10):
    """torchvision's own model with formula weights, in eval mode, on a 2x3x64x64 batch."""
    model = builder(num_classes=classes)
    state = model.state_dict()
    for key, tensor in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        shape = list(tensor.shape)
        count = tensor.numel()
        values = torch.tensor([formula_value(key, shape, i) for i in range(count)], dtype=torch.float64)
        state[key] = values.reshape(shape).float()
    model.load_state_dict(state)
    model.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)
    save(name, {"x": x, "logits": logits}, {"classes": classes, "names": sorted(k for k in state if not k.endswith("num_batches_tracked"))})


def narrow_cases():
    """Maps 1–4 cells wide, where windows overhang both edges; their own seed, so the
    other fixtures keep their values."""
    with torch.random.fork_rng():
        torch.manual_seed(4321)
        conv_case("conv_narrow_k3_s2_same_2x2", 2, 3, 2, 2, 4, 3, 2, "same", True)
        conv_case("conv_narrow_k3_s2_same_3x1", 2, 2, 3, 1, 3, 3, 2, "same", True)
        conv_case("conv_narrow_k5_s1_same_1x4", 1, 2, 1, 4, 3, 5, 1, "same", False)
        conv_case("conv_narrow_k7_s2_same_4x3", 2, 2, 4, 3, 3, 7, 2, "same", True)
        conv_case("conv_narrow_k2_s2_same_1x3", 2, 3, 1, 3, 2, 2, 2, "same", True)
        depthwise_case("depthwise_narrow_k3_s2_same_2x1", 2, 3, 2, 1, 1, 3, 2, "same")
        depthwise_case("depthwise_narrow_k5_s1_same_3x4_m2", 1, 2, 3, 4, 2, 5, 1, "same")
        depthwise_case("depthwise_narrow_k3_s1_same_1x1", 2, 2, 1, 1, 1, 3, 1, "same")
        for mode in ["max", "average"]:
            pool_case("pool_narrow_%s_k3_s2_same_2x2" % mode, mode, 3, 2, "same", h=2, w=2)
            pool_case("pool_narrow_%s_k2_s2_same_1x3" % mode, mode, 2, 2, "same", h=1, w=3)
            pool_case("pool_narrow_%s_k3_s1_same_3x1" % mode, mode, 3, 1, "same", h=3, w=1)


def graph_step(name, size=9):
    """One training step of a graph (fan-out to three layers, SeparableConv2D, Add,
    Concatenate, Multiply, BatchNorm in training mode, softmax cross-entropy) on
    size × size images: the loss and every parameter gradient. Its own seed, so the other
    fixtures keep their values. The layer names are those of the Lumen spec in
    Tests/LumenTests/GraphModelTests.swift. At 9 × 9 Lumen's CPU-style kernels put the
    pointwise convolutions' images side by side; at 16 × 16 (256 outputs a plane) they
    do not, and those convolutions add their input gradients into the sums (beta = 1)."""
    with torch.random.fork_rng():
        torch.manual_seed(2468)
        p = {
            "stem.weight": leaf(4, 3, 3, 3, scale=0.4), "stem.bias": leaf(4, scale=0.1),
            "sep.depthwise.weight": leaf(8, 1, 3, 3, scale=0.4), "sep.pointwise.weight": leaf(5, 8, 1, 1, scale=0.4),
            "sep.pointwise.bias": leaf(5, scale=0.1),
            "proj.weight": leaf(5, 4, 1, 1, scale=0.4),
            "branch.weight": leaf(4, 1, 3, 3, scale=0.4), "branch.bias": leaf(4, scale=0.1),
            "gate.weight": leaf(13, 13, 1, 1, scale=0.3), "gate.bias": leaf(13, scale=0.1),
            "norm.weight": (1 + 0.2 * torch.randn(13)).requires_grad_(), "norm.bias": leaf(13, scale=0.1),
            "head.weight": leaf(3, 13, scale=0.4), "head.bias": leaf(3, scale=0.1),
        }
        x = torch.randn(4, 3, size, size)
        labels = torch.tensor([0, 2, 1, 2])
        stem = F.relu(F.conv2d(x, p["stem.weight"], p["stem.bias"], padding=1))
        sep = F.conv2d(F.conv2d(stem, p["sep.depthwise.weight"], padding=1, groups=4), p["sep.pointwise.weight"], p["sep.pointwise.bias"])
        proj = F.conv2d(stem, p["proj.weight"])
        add = sep + proj
        branch = F.conv2d(stem, p["branch.weight"], p["branch.bias"], padding=1, groups=4)
        concat = torch.cat([add, branch, stem], 1)
        gate = torch.sigmoid(F.conv2d(concat, p["gate.weight"], p["gate.bias"]))
        gated = concat * gate
        mean = gated.mean((0, 2, 3), keepdim=True)
        var = gated.var((0, 2, 3), unbiased=False, keepdim=True)
        norm = (gated - mean) / torch.sqrt(var + 1e-3) * p["norm.weight"].view(1, -1, 1, 1) + p["norm.bias"].view(1, -1, 1, 1)
        logits = F.linear(norm.mean((2, 3)), p["head.weight"], p["head.bias"])
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        tensors = {"x": x, "labels": labels.float(), "loss": loss.detach().view(1), "logits": logits}
        for key, value in p.items():
            tensors["param/" + key] = value
            tensors["grad/" + key] = value.grad.clone()
        # Grad-CAM's gradient: class 1's logit of the first image with respect to the output
        # of "add" (one of three branches into the concatenation), in inference mode
        # (BatchNorm on its initial running statistics, mean 0 and variance 1).
        x0 = x[:1]
        stem = F.relu(F.conv2d(x0, p["stem.weight"], p["stem.bias"], padding=1))
        add = F.conv2d(F.conv2d(stem, p["sep.depthwise.weight"], padding=1, groups=4), p["sep.pointwise.weight"],
                       p["sep.pointwise.bias"]) + F.conv2d(stem, p["proj.weight"])
        add.retain_grad()
        concat = torch.cat([add, F.conv2d(stem, p["branch.weight"], p["branch.bias"], padding=1, groups=4), stem], 1)
        gated = concat * torch.sigmoid(F.conv2d(concat, p["gate.weight"], p["gate.bias"]))
        norm = gated / math.sqrt(1 + 1e-3) * p["norm.weight"].view(1, -1, 1, 1) + p["norm.bias"].view(1, -1, 1, 1)
        F.linear(norm.mean((2, 3)), p["head.weight"], p["head.bias"])[0, 1].backward()
        tensors["gradcam/add"] = add.detach()
        tensors["gradcam/dadd"] = add.grad
        save(name, tensors, {})


def main():
    narrow_cases()
    graph_step("graph_step")
    graph_step("graph_step_16", size=16)
    conv_case("conv_k3_s1_valid", 2, 3, 9, 9, 4, 3, 1, "valid", True)
    conv_case("conv_k3_s1_same", 2, 3, 9, 9, 4, 3, 1, "same", True)
    conv_case("conv_k3_s2_valid", 2, 3, 9, 9, 4, 3, 2, "valid", False)
    conv_case("conv_k3_s2_same_even", 2, 3, 10, 10, 4, 3, 2, "same", True)  # asymmetric padding
    conv_case("conv_k1_s1_valid", 2, 3, 6, 5, 4, 1, 1, "valid", False)
    conv_case("conv_k1_s2_same", 2, 3, 6, 5, 4, 1, 2, "same", True)
    conv_case("conv_k5_s1_same", 2, 2, 8, 7, 3, 5, 1, "same", True)
    conv_case("conv_k5_s2_valid", 2, 2, 11, 12, 3, 5, 2, "valid", True)
    conv_case("conv_k7_s2_same", 2, 3, 12, 12, 4, 7, 2, "same", True)
    conv_case("conv_k7_s1_valid", 1, 2, 9, 8, 3, 7, 1, "valid", False)
    depthwise_case("depthwise_k3_s1_same", 2, 3, 7, 7, 1, 3, 1, "same")
    depthwise_case("depthwise_k3_s2_same_m2", 2, 3, 8, 8, 2, 3, 2, "same")
    depthwise_case("depthwise_k5_s1_valid", 1, 2, 9, 9, 1, 5, 1, "valid")
    for mode in ["max", "average"]:
        pool_case("pool_%s_k2_s2_valid" % mode, mode, 2, 2, "valid")
        pool_case("pool_%s_k3_s2_same" % mode, mode, 3, 2, "same")
        pool_case("pool_%s_k3_s1_valid" % mode, mode, 3, 1, "valid")
        pool_case("pool_%s_k2_s2_same" % mode, mode, 2, 2, "same", h=7, w=9)
        global_pool_case("global_pool_" + mode, mode)
    batchnorm_case("batchnorm_train", (4, 3, 5, 5), True, True)
    batchnorm_case("batchnorm_train_noscale", (4, 3, 5, 5), False, True)
    batchnorm_case("batchnorm_train_dense", (6, 5), True, True)
    batchnorm_case("batchnorm_inference", (4, 3, 5, 5), True, False)
    dense_case("dense")
    for kind in ["relu", "relu6", "leaky_relu", "sigmoid", "tanh", "softmax"]:
        activation_case(kind)
    loss_case("loss_bce", "binary_crossentropy", 2)
    loss_case("loss_bce_single", "binary_crossentropy", 1)
    loss_case("loss_bce_smooth_weighted", "binary_crossentropy", 2, 0.1, [0.5, 2.0])
    loss_case("loss_cce", "categorical_crossentropy", 4)
    loss_case("loss_cce_smooth_weighted", "categorical_crossentropy", 3, 0.2, [1.0, 2.0, 0.5])
    optimizer_case("optim_sgd", "sgd", lr=0.1)
    optimizer_case("optim_sgd_nesterov", "sgd", lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)
    optimizer_case("optim_sgd_momentum", "sgd", lr=0.05, momentum=0.8)
    optimizer_case("optim_adam", "adam", lr=1e-3)
    optimizer_case("optim_adamw", "adam", lr=3e-3, weight_decay=0.004)
    xray_step("xray_cnn_adam_step")
    gradcam_case("gradcam_small_cnn")
    try:
        import torchvision
    except ImportError:
        print("make-torch-fixtures: python3-torchvision is not installed; skipping the torchvision parity fixtures")
        return
    torchvision_case("torchvision_resnet18", torchvision.models.resnet18)
    torchvision_case("torchvision_mobilenet_v2", torchvision.models.mobilenet_v2)


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["graph"]:
        graph_step("graph_step")
        graph_step("graph_step_16", size=16)
    else:
        main()
