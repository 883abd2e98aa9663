"""featent.indicators.feature_selection: Inf-FS on features small enough to solve by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from featent import indicators
from featent.errors import FeatentError


def test_inf_fs_two_features_by_hand():
    # stds (ddof 1) 1 and 2 -> sigma = [[0, 1], [1, 1]] after min-max; Spearman = 1 -> 1 - |rho| = 0
    x = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0]])
    # A = 0.5 sigma = [[0, .5], [.5, .5]], rho(A) = (1 + sqrt 5) / 4, r = 0.9 / rho(A)
    r = 0.9 / ((1 + math.sqrt(5)) / 4)
    det = (1 - r / 2) - r * r / 4  # det(I - rA)
    expected = [1 / det - 1, (1 + r / 2) / det - 1]  # (I - rA)^-1 1 - 1
    np.testing.assert_allclose(indicators.inf_fs(x), expected, rtol=1e-10)


def test_inf_fs_constant_feature_is_finite():
    x = np.array([[1.0, 0.0, 2.0], [1.0, 1.0, 0.0], [1.0, 3.0, 1.0]])
    s = indicators.inf_fs(x)
    assert s.shape == (3,) and np.all(np.isfinite(s))
    with pytest.raises(FeatentError, match="n_samples >= 2"):
        indicators.inf_fs(np.ones((1, 3)))
    with pytest.raises(FeatentError, match="alpha in"):
        indicators.inf_fs(x, alpha=2.0)
