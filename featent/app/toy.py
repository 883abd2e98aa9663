"""Toy units for the teaching page: the paper's Fig. 2 example, a random one, noisy families.

Why here and not in featent/: these exist only to explain the method on screen.
"""

from __future__ import annotations

import numpy as np

#: A 4x4 unit like the paper's Fig. 2: its 4 largest entries sit at (1,2), (4,3), (2,4), (3,1)
#: (1-based), so A^(4) is the 4-cycle 1-2-4-3-1 and a hole is born at step 4.
PAPER_TOY = np.array(
    [
        [0.10, 0.90, 0.20, 0.05],
        [0.30, 0.15, 0.25, 0.80],
        [0.70, 0.20, 0.10, 0.35],
        [0.00, 0.10, 0.60, 0.20],
    ]
)


def random_unit(m: int, seed: int) -> np.ndarray:
    """A unit with no structure: i.i.d. uniform values, rounded so the editor stays readable."""
    return np.round(np.random.default_rng(seed).random((m, m)), 2)


def noisy_copies(unit: np.ndarray, n: int, noise: float, seed: int = 0) -> np.ndarray:
    """n copies of ``unit`` with Gaussian noise (scaled by its range), clipped at 0 like a ReLU.

    Stands in for "the same unit on n images of one class": a unit that responds to a pattern
    keeps its structure under small changes, so its birth times stay together.
    """
    rng = np.random.default_rng(seed)
    scale = float(np.ptp(unit)) or 1.0
    return np.clip(unit[None] + noise * scale * rng.standard_normal((n, *unit.shape)), 0.0, None)


def random_units(m: int, n: int, seed: int = 0) -> np.ndarray:
    """n unrelated random units: what a unit that perceives nothing looks like over a class."""
    return np.random.default_rng(seed).random((n, m, m))

