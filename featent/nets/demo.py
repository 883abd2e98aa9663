"""The embedded demo CNN: a small VGG-style net on 32x32 inputs whose weights ship with featent.

``demo`` is trained on Fashion-MNIST (the default data); ``demo-digits`` is the same net trained on
scikit-learn's digits, the default of earlier featent versions, kept so its results stay reproducible.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

DEMO = "demo"
DEMO_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "demo.pt"
DEMO_DIGITS = "demo-digits"
DEMO_DIGITS_WEIGHTS = DEMO_WEIGHTS.with_name("demo-digits.pt")
#: The data each shipped demo was trained on.
DEMO_DATA = {DEMO: "fashion", DEMO_DIGITS: "digits"}
DEMO_INPUT_SIZE = 32
DEMO_MEAN = (0.5, 0.5, 0.5)
DEMO_STD = (0.5, 0.5, 0.5)


class DemoNet(nn.Module):
    """Small VGG-style CNN for 32x32x3 images: 3 blocks x 2 convs (ReLU), max-pool after each."""

    def __init__(self, n_classes: int = 10, widths: tuple[int, int, int] = (16, 32, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width in widths:
            for _ in range(2):
                layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = DEMO_INPUT_SIZE // 8
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * side * side, 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def resolve_demo_variant(spec: object) -> tuple[str, str] | None:
    """``demo-digits`` -> ("demo", its shipped weights file); None for any other spec."""
    if isinstance(spec, str) and spec.strip().lower() == DEMO_DIGITS:
        return DEMO, str(DEMO_DIGITS_WEIGHTS)
    return None
