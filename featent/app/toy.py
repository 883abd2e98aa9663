"""Toy units for the teaching page: the paper's Fig. 2 example, a random one, noisy families.

The toy and the class stand-ins live in featent.plots.story (the HTML story tells the same unit);
this module names them for the app.
"""

from __future__ import annotations

import numpy as np

from featent.plots.story import PAPER_TOY, noisy_copies, random_units

__all__ = ["PAPER_TOY", "random_unit", "noisy_copies", "random_units"]


def random_unit(m: int, seed: int) -> np.ndarray:
    """A unit with no structure: i.i.d. uniform values, rounded so the editor stays readable."""
    return np.round(np.random.default_rng(seed).random((m, m)), 2)
