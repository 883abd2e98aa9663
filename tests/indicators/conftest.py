"""Shared inputs for the indicator tests: hand-made activations and a tiny VGG-like net."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from featent.nets import LoadedModel, from_module


@pytest.fixture
def acts() -> np.ndarray:
    """2 images x 2 units x 2x2: unit 0 varies, unit 1 is silent."""
    a = np.zeros((2, 2, 2, 2))
    a[0, 0] = [[1.0, -2.0], [0.0, 3.0]]  # sum |.| = 6, one zero, mean 0.5
    a[1, 0] = [[0.0, 0.0], [0.0, 2.0]]  # sum |.| = 2, three zeros, mean 0.5
    return a


class _Tiny(nn.Module):
    """VGG-like: one conv block (2 units of 4x4 after pooling 8x8) and a 2-layer classifier."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.features = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 5), nn.ReLU(inplace=True), nn.Linear(5, 3))
        with torch.no_grad():
            self.features[0].bias.fill_(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@pytest.fixture
def tiny() -> LoadedModel:
    model = from_module(_Tiny().eval(), name="tiny", input_size=8, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    assert [(i.name, i.n_units, i.unit_size) for i in model.layers] == [("block1_conv1", 2, 8)]
    return model


@pytest.fixture
def random_images():
    """Seeded [0, 1] images for the tiny net: ``random_images(n, seed)``."""

    def make(n: int, seed: int) -> torch.Tensor:
        return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))

    return make
