"""featent.indicators.activation: L1-norm, APoZ, class means and class selectivity, derived by hand."""
from __future__ import annotations

import numpy as np
import pytest

from featent import indicators
from featent.errors import FeatentError


def test_l1_norm_is_mean_over_images_of_sum_abs(acts):
    np.testing.assert_allclose(indicators.l1_norm(acts), [4.0, 0.0])


def test_apoz_counts_exact_zeros_over_images_and_positions(acts):
    np.testing.assert_allclose(indicators.apoz(acts), [4 / 8, 1.0])


def test_class_means(acts):
    np.testing.assert_allclose(indicators.class_means(acts), [0.5, 0.0])


def test_activation_indicators_reject_bad_shapes():
    with pytest.raises(FeatentError, match=r"\[n_images, n_units, m, m\]"):
        indicators.l1_norm(np.zeros((3, 3)))
    with pytest.raises(FeatentError, match="NaN or infinite"):
        indicators.apoz(np.full((1, 1, 2, 2), np.nan))


def test_class_selectivity_morcos_and_per_class():
    means = np.array([[4.0, 0.0], [1.0, 0.0], [1.0, 0.0]])  # 3 classes, 2 units
    # max class 0: (4 - (1+1)/2) / (4 + 1) = 0.6; a silent unit: 0/0 -> 0
    np.testing.assert_allclose(indicators.class_selectivity(means), [0.6, 0.0])
    # toward class 1: (1 - (4+1)/2) / (1 + 2.5) = -3/7
    np.testing.assert_allclose(indicators.class_selectivity(means, target=1), [-3 / 7, 0.0])
    # ratio of means: invariant to a common scale
    np.testing.assert_allclose(indicators.class_selectivity(0.5 * means), [0.6, 0.0])


def test_class_selectivity_bad_input():
    with pytest.raises(FeatentError, match="at least 2 classes"):
        indicators.class_selectivity(np.ones((1, 3)))
    with pytest.raises(FeatentError, match="target must be an integer from 0 to 2"):
        indicators.class_selectivity(np.ones((3, 2)), target=3)
