"""torch_models.py — curvo's model specs as torch.nn networks, shared by the PyTorch side of the
benchmarks. Import it after the thread pools are pinned (it imports torch).

build(spec) takes what `curvo --model` takes: a preset (`mlp`, `cnn`) or a comma-separated spec of
the tokens dense:UNITS, conv:OUT:K[:STRIDE[:PAD]], maxpool:K[:STRIDE], avgpool:K[:STRIDE] (the
stride defaults to K), flatten, relu, tanh, sigmoid, softplus, exp — with curvo's meaning: a dense
layer flattens its input, pooling and convolution round their output size down (torch's defaults),
softplus is log(1 + e^x). `curvo info --model SPEC` and parameters(build(SPEC)) agree on the
parameter count (checked by the benchmark scripts through the "params" field of the logs)."""
import torch
import torch.nn as nn

PRESETS = {
    "mlp": "flatten,dense:256,relu,dense:10",
    "cnn": "conv:16:5,relu,maxpool:2,conv:32:5,relu,maxpool:2,flatten,dense:10",
}


class Exp(nn.Module):
    def forward(self, x):
        return torch.exp(x)


def _ints(tok, parts, lo, hi):
    if not lo <= len(parts) <= hi:
        raise ValueError(f"model spec: '{tok}' takes {lo} to {hi} numbers")
    try:
        v = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"model spec: '{tok}': not an integer") from None
    if any(x < 1 for x in v[:3]) or any(x < 0 for x in v[3:]):
        raise ValueError(f"model spec: '{tok}': sizes and strides must be >= 1, padding >= 0")
    return v


def build(spec, input_shape=(1, 28, 28)):
    """The network of a curvo preset or spec as torch.nn.Sequential, for inputs (N, C, H, W)."""
    spec = PRESETS.get(spec, spec)
    c, h, w = input_shape
    flat = None  # features once flattened (None: still C x H x W)
    layers = []
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softplus": nn.Softplus, "exp": Exp}
    for tok in spec.split(","):
        name, *parts = tok.strip().split(":")
        if name in acts and not parts:
            layers.append(acts[name]())
        elif name == "flatten" and not parts:
            if flat is None:
                layers.append(nn.Flatten())
                flat = c * h * w
        elif name == "dense":
            (units,) = _ints(tok, parts, 1, 1)
            if flat is None:
                layers.append(nn.Flatten())
                flat = c * h * w
            layers.append(nn.Linear(flat, units))
            flat = units
        elif name == "conv":
            out, k, s, p = (_ints(tok, parts, 2, 4) + [1, 0][len(parts) - 2:])[:4]
            if flat is not None:
                raise ValueError(f"model spec: '{tok}' after a flattened layer")
            h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            if h < 1 or w < 1:
                raise ValueError(f"model spec: '{tok}': kernel larger than its input")
            layers.append(nn.Conv2d(c, out, k, stride=s, padding=p))
            c = out
        elif name in ("maxpool", "avgpool"):
            k, s = (_ints(tok, parts, 1, 2) * 2)[:2]  # the stride defaults to the window
            if flat is not None:
                raise ValueError(f"model spec: '{tok}' after a flattened layer")
            h, w = (h - k) // s + 1, (w - k) // s + 1
            if h < 1 or w < 1:
                raise ValueError(f"model spec: '{tok}': window larger than its input")
            layers.append((nn.MaxPool2d if name == "maxpool" else nn.AvgPool2d)(k, stride=s))
        else:
            raise ValueError(f"model spec: unknown layer '{tok}'")
    return nn.Sequential(*layers)
