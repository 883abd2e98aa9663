"""A small residual GELU net, as a researcher's own module: load it with ``--model docs/examples/mynet.py:MyNet``.

featent reads ``input_size``, ``mean`` and ``std`` from the class; the 10 outputs follow the classes of
Fashion-MNIST, so ``featent ablate`` can score it on ``fashion-subset``.
"""

import torch.nn.functional as F
from torch import nn


class MyNet(nn.Module):
    input_size = 28
    mean = (0.5, 0.5, 0.5)
    std = (0.25, 0.25, 0.25)

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.block = nn.Conv2d(8, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 12, 3, stride=2, padding=1)
        self.head = nn.Linear(12, 10)

    def forward(self, x):
        x = F.gelu(self.bn(self.stem(x)))
        x = x + F.gelu(self.block(x))  # residual
        x = F.relu(self.down(x))
        return self.head(x.mean((2, 3)))


def make_net() -> MyNet:
    """A zero-argument factory works as well: ``docs/examples/mynet.py:make_net``."""
    return MyNet()
