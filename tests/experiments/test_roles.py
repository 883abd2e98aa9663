"""Unit roles: the four-way split by hand, thresholds, and the role table on the demo."""

from __future__ import annotations

import numpy as np
import pytest

from featent.errors import FeatentError, ModelError
from featent.experiments.roles import ROLES, assign_roles, default_threshold, unit_roles


def test_four_roles_by_hand() -> None:
    fe_train = np.array([1.0, 1.0, 3.0, 3.0])
    fe_test = np.array([1.0, 3.0, 1.0, 3.0])
    roles, t_train, t_test = assign_roles(fe_train, fe_test, 2.0, 2.0)
    assert roles.tolist() == ["both", "train-only", "test-only", "neither"]
    assert (t_train, t_test) == (2.0, 2.0)


def test_default_threshold_is_the_pooled_median_and_each_side_is_adjustable() -> None:
    fe_train = np.array([0.5, 1.5, 2.5])
    fe_test = np.array([1.0, 2.0, 4.0])
    assert default_threshold(fe_train, fe_test) == pytest.approx(1.75)
    roles, t_train, t_test = assign_roles(fe_train, fe_test)
    assert t_train == t_test == pytest.approx(1.75)
    assert roles.tolist() == ["both", "train-only", "neither"]
    roles, t_train, t_test = assign_roles(fe_train, fe_test, test_threshold=5.0)
    assert (t_train, t_test) == (pytest.approx(1.75), 5.0)
    assert roles.tolist() == ["both", "both", "test-only"]
    # with selective rates, silent units (eps < p, FE from Eq. 12) are left out of the median
    eps_train, eps_test = np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.05, 0.0])
    assert default_threshold(fe_train, fe_test, eps_train, eps_test) == pytest.approx(1.0)
    assert default_threshold(fe_train, fe_test, np.zeros(3), np.zeros(3)) == pytest.approx(1.75)  # none valid
    assert assign_roles(fe_train, fe_test, eps_train=eps_train, eps_test=eps_test)[1] == pytest.approx(1.0)
    with pytest.raises(FeatentError, match="unit for unit"):
        default_threshold(fe_train, fe_test, np.zeros(2), np.zeros(3))
    # a unit exactly at the threshold counts as effective
    assert assign_roles(np.array([2.0]), np.array([2.0]), 2.0, 2.0)[0].tolist() == ["both"]


def test_bad_role_inputs() -> None:
    with pytest.raises(FeatentError, match="equally long"):
        assign_roles(np.zeros(3), np.zeros(4))
    with pytest.raises(FeatentError, match="finite"):
        assign_roles(np.zeros(3), np.zeros(3), np.nan)


def test_unit_roles_on_demo(cache_dir) -> None:
    from featent.pipeline import Selection

    sel = Selection("demo", "digits", "4", ("block3_conv2",), n_images=12)
    table = unit_roles(sel)
    assert table.n_images == 12 and table.fe_train.shape == (64,)
    assert sum(table.counts().values()) == 64 and set(table.roles) <= set(ROLES)
    valid = np.concatenate([table.fe_train[table.eps_train >= 0.1], table.fe_test[table.eps_test >= 0.1]])
    assert table.train_threshold == pytest.approx(np.median(valid))
    assert table.counts()["both"] + table.counts()["train-only"] < np.count_nonzero(table.eps_train >= 0.1)
    strict = table.with_thresholds(0.0, 0.0)
    assert strict.counts()["neither"] == int(np.count_nonzero((table.fe_train > 0) & (table.fe_test > 0)))
    rows = table.records()
    assert rows[0].keys() == {"unit", "fe_train", "fe_test", "eps_train", "eps_test", "role"}
    assert table.layer == "block3_conv2" and table.selection == sel and "|roles|" in table.store_key
    with pytest.raises(ModelError, match="no layer"):
        unit_roles(sel, layer="fc")


def test_roles_scatter_groups_units_by_role() -> None:
    from featent.experiments.roles import RoleTable
    from featent.plots.ablation import roles_scatter

    fe_train, fe_test = np.array([1.0, 1.0, 3.0, 3.0, 0.5]), np.array([1.0, 3.0, 1.0, 3.0, 0.2])
    roles, t_train, t_test = assign_roles(fe_train, fe_test, 2.0, 2.0)
    from featent.spec import Selection

    selection = Selection("m", "d", "c", ("L",), 10)
    table = RoleTable(selection, 10, fe_train, fe_test, np.ones(5), np.ones(5), t_train, t_test, roles)
    fig = roles_scatter(table)
    assert [len(t.x) for t in fig.data] == [2, 1, 1, 1]
    assert list(fig.data[0].customdata) == [0, 4]
    assert table.with_thresholds(5.0, 5.0).counts() == {"both": 5, "train-only": 0, "test-only": 0, "neither": 0}
