"""torch_models.py — curvo's `mlp` and `cnn` presets as torch.nn networks, shared by the PyTorch
side of the benchmarks. Import it after the thread pools are pinned (it imports torch)."""
import torch.nn as nn


def build(name):
    """The curvo presets as torch.nn.Sequential (conv stride 1, padding 0; maxpool stride 2)."""
    if name == "mlp":  # flatten,dense:256,relu,dense:10
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    if name == "cnn":  # conv:16:5,relu,maxpool:2,conv:32:5,relu,maxpool:2,flatten,dense:10
        return nn.Sequential(nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(512, 10))
    raise ValueError(name)
