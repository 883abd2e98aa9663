"""Shared fixtures: toy units (here), a tiny CNN and a temporary image folder (pipeline tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

# Property tests run a fixed number of generated cases everywhere (CI included): no deadline,
# since the first call of a compiled kernel includes its compilation.
settings.register_profile("featent", deadline=None, print_blob=True)
settings.load_profile("featent")


@pytest.fixture
def fig2_unit() -> np.ndarray:
    """A 4x4 unit in the spirit of the paper's Fig. 2.

    Its four largest entries sit at (1,2), (4,3), (2,4), (3,1) (1-based, as in the paper), so
    the graph after four steps is the 4-cycle 1-2-4-3-1 with no chord: the birth time is 4.
    """
    unit = np.array(
        [
            [1.0, 16.0, 5.0, 2.0],
            [6.0, 3.0, 7.0, 14.0],
            [13.0, 8.0, 4.0, 9.0],
            [10.0, 11.0, 15.0, 12.0],
        ]
    )
    return unit


@pytest.fixture
def smooth_unit() -> np.ndarray:
    """A realistic post-ReLU unit: smoothed noise with about half of it zeroed."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(7)
    field = gaussian_filter(rng.normal(size=(14, 14)), sigma=1.0)
    return np.maximum(field - np.median(field), 0.0).astype(np.float32)
