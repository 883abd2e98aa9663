"""featent.experiments.gallery.sort_units: every order on hand-made FE, ε and conditional FE."""

from __future__ import annotations

import numpy as np
import pytest

from featent.core.entropy import conditional_feature_entropy, feature_entropy, selective_rate
from featent.errors import FeatentError
from featent.experiments.gallery import UNIT_ORDERS, sort_units


def test_conditional_fe_order_is_lowest_first_with_undefined_units_last():
    # unit 0: never born; 1: born on 2 of 10 at one step; 2: every image, two steps; 3: every image, one step
    births = np.zeros((10, 4), dtype=int)
    births[:2, 1] = 4
    births[:, 2] = [1, 2] * 5
    births[:, 3] = 6
    fe, eps, cond = feature_entropy(births), selective_rate(births), conditional_feature_entropy(births)
    assert "conditional_fe" in UNIT_ORDERS
    # ties (units 1 and 3 at 0) keep index order; unit 0 (undefined) goes last
    assert sort_units(fe, eps, "conditional_fe", conditional_feature_entropy=cond).tolist() == [1, 3, 2, 0]
    assert sort_units(fe, eps, "conditional_fe", hide_silent=True, conditional_feature_entropy=cond).tolist() == [1, 3, 2]
    # FE ranks unit 1 (as steady as unit 3) after it: -eps ln eps adds frequency, not steadiness
    assert sort_units(fe, eps, "fe").tolist() == [3, 1, 2, 0]


def test_conditional_fe_order_needs_its_values():
    with pytest.raises(FeatentError, match="needs conditional_feature_entropy"):
        sort_units(np.zeros(3), np.ones(3), "conditional_fe")
    with pytest.raises(FeatentError, match="one value per unit"):
        sort_units(np.zeros(3), np.ones(3), "conditional_fe", conditional_feature_entropy=np.zeros(2))
