"""featent.indicators.weights: FPGM on filters whose distances are known."""
from __future__ import annotations

import numpy as np
import pytest

from featent import indicators
from featent.errors import FeatentError


def test_fpgm_sums_distances_to_other_filters():
    # F0 = (0, 0), F1 = (3, 4), F2 = (0, 4): |F0F1| = 5, |F0F2| = 4, |F1F2| = 3
    w = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]]).reshape(3, 1, 1, 2)
    np.testing.assert_allclose(indicators.fpgm(w), [9.0, 8.0, 7.0])
    np.testing.assert_allclose(indicators.fpgm(0.5 * w), [4.5, 4.0, 3.5])
    with pytest.raises(FeatentError, match="filter weights"):
        indicators.fpgm(np.zeros(3))
