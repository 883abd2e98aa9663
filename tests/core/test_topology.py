"""featent.core.topology: the fast birth time against ripser, Betti curves, display helpers, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.ndimage import gaussian_filter

from featent.core.topology import (
    betti_curves,
    birth_time,
    birth_time_reference,
    birth_times,
    clique_complex,
    edge_weights,
    filtration_values,
    graph_at_step,
    persistence_diagram,
    validate_unit,
)
from featent.errors import UnitError

KINDS = ("smooth_relu", "quantised", "few_levels", "relu_noise", "negative", "zeros", "constant", "binary",
         "hub_relu", "sparse_cycle")


def _hub(unit: np.ndarray, rng: np.random.Generator, level: float) -> None:
    """Make one vertex a cone at about ``level``: its whole row at least that high, sometimes tied."""
    c = int(rng.integers(unit.shape[0]))
    values = np.full(unit.shape[0], level) if rng.random() < 0.5 else level * rng.uniform(0.9, 1.1, unit.shape[0])
    unit[c, :] = np.maximum(unit[c, :], values)


def make_unit(kind: str, m: int, seed: int, dtype: str) -> np.ndarray:
    """Units of the kinds a CNN produces and the degenerate ones it can produce."""
    rng = np.random.default_rng(seed)
    if kind == "smooth_relu":
        field = gaussian_filter(rng.normal(size=(m, m)), sigma=rng.uniform(0.5, 3.0))
        unit = np.maximum(field - np.quantile(field, rng.uniform(0.0, 0.9)), 0.0)
    elif kind == "quantised":
        unit = np.round(rng.normal(size=(m, m)) * rng.integers(1, 6))
    elif kind == "few_levels":
        unit = rng.integers(0, rng.integers(2, 5), size=(m, m)).astype(float)
    elif kind == "relu_noise":
        unit = np.maximum(rng.normal(size=(m, m)), 0.0)
    elif kind == "negative":
        unit = -np.abs(rng.normal(size=(m, m))) - 1.0
    elif kind == "zeros":
        unit = np.zeros((m, m))
    elif kind == "constant":
        unit = np.full((m, m), rng.normal())
    elif kind == "hub_relu":  # mostly zeros, one vertex joined to all at a random level: cone cut-offs
        field = np.maximum(rng.normal(size=(m, m)) - rng.uniform(0.0, 2.0), 0.0)
        unit = field
        _hub(unit, rng, float(rng.uniform(0.05, 2.5)))
    elif kind == "sparse_cycle":  # zeros but a planted cycle and a hub: late births, or none when coned first
        unit = np.zeros((m, m))
        order = rng.permutation(m)
        k = int(rng.integers(min(3, m), m + 1))
        for a, b in zip(order[:k], np.roll(order[:k], -1)):
            unit[a, b] = rng.uniform(1.0, 2.0)
        _hub(unit, rng, float(rng.uniform(0.5, 2.5)))
    else:  # binary masks: huge tie groups
        unit = (rng.random((m, m)) < rng.uniform(0.1, 0.9)).astype(float)
    return unit.astype(dtype)


@settings(max_examples=700, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    m=st.integers(min_value=2, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    dtype=st.sampled_from(["float16", "float32", "float64"]),
)
def test_birth_time_matches_ripser_on_generated_units(kind, m, seed, dtype):
    unit = make_unit(kind, m, seed, dtype)
    assert birth_time(unit) == birth_time_reference(unit)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    hnp.arrays(
        dtype=np.float64,
        shape=st.integers(min_value=2, max_value=9).map(lambda m: (m, m)),
        elements=st.sampled_from([0.0, 0.0, 1.0, 2.0, 2.5, 3.0, -1.0]),
    )
)
def test_birth_time_matches_ripser_on_tie_heavy_small_units(unit):
    """Few distinct values on small units: tie groups that create and fill cycles at once."""
    assert birth_time(unit) == birth_time_reference(unit)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(("hub_relu", "sparse_cycle")),
    m=st.integers(min_value=2, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_birth_time_matches_ripser_on_units_with_large_zero_groups_and_late_or_no_births(kind, m, seed):
    """The cone cut-off (edges after some vertex is joined to all are never ranked) is exact."""
    unit = make_unit(kind, m, seed, "float64")
    assert birth_time(unit) == birth_time_reference(unit)


def test_cycle_born_before_the_cone_and_coned_cycle_unborn():
    unit = np.zeros((6, 6))
    for a, b in ((0, 1), (1, 2), (2, 3), (3, 0)):
        unit[a, b] = 3.0
    unit[5, :] = 2.0  # vertex 5 becomes a cone at weight 2, after the 4-cycle closed at weight 3
    assert birth_time(unit) == birth_time_reference(unit) > 0
    unit[5, :] = 4.0  # now the cone exists before the cycle closes: it is filled as it forms
    assert birth_time(unit) == birth_time_reference(unit) == 0


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    m=st.integers(min_value=2, max_value=24),
    n=st.integers(min_value=1, max_value=6),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_batched_birth_times_equal_single_unit_results(m, n, seed):
    units = np.stack([make_unit(KINDS[(seed + i) % len(KINDS)], m, seed + i, "float32") for i in range(n)])
    expected = [birth_time_reference(u) for u in units]
    got = birth_times(units)
    assert got.dtype == np.int32
    assert got.tolist() == expected


def test_fig2_toy_unit_is_born_at_step_four(fig2_unit):
    # Edge weights w = max(U, U^T): w01 = 16, w23 = 15, w13 = 14, w02 = 13, then the diagonal
    # 12 (no edge), w03 = 10, w12 = 8. Steps 1-3 add 0-1, 2-3, 1-3: a tree. Step 4 adds 0-2,
    # closing the 4-cycle 0-1-3-2-0 whose opposite corners share no neighbour: beta_1 = 1.
    assert birth_time(fig2_unit) == 4
    assert birth_time_reference(fig2_unit) == 4
    curves = betti_curves(fig2_unit)
    assert curves[1, :3].tolist() == [0, 0, 0]
    assert curves[1, 3] == 1
    # Step 7 (threshold 10) adds the chord 0-3, which fills the square with two triangles.
    assert curves[1, 6] == 0


def test_tie_group_that_closes_and_fills_a_cycle_gives_no_birth():
    # Group 1 (weight 5): path 0-1-2 plus 0-2 would close a triangle, but all three edges enter
    # together, so the triangle is filled at the same step: beta_1 stays 0 until the end.
    unit = np.zeros((3, 3))
    unit[0, 1] = unit[1, 2] = unit[0, 2] = 5.0
    assert birth_time(unit) == 0 == birth_time_reference(unit)


def test_tie_group_whose_cycle_survives_is_born_at_the_group_start():
    # A 4-cycle whose edges all carry weight 7, entered in one group, then a chord at weight 1.
    unit = np.zeros((4, 4))
    for i, j in [(0, 1), (1, 2), (2, 3), (3, 0)]:
        unit[i, j] = 7.0
    unit[0, 2] = 1.0
    unit += np.eye(4) * 0.5
    # Entries above 7: none, so the group starts at step 1.
    assert birth_time(unit) == 1 == birth_time_reference(unit)


STUCK_TREE = [(0, 1), (0, 6), (1, 5), (2, 3), (2, 6), (3, 4)]
STUCK_GROUP = [(5, 6), (1, 2), (1, 4), (3, 5), (2, 5), (0, 3), (0, 4), (4, 5), (4, 6), (1, 3)]


def _stuck_unit(group: list[tuple[int, int]]) -> np.ndarray:
    unit = np.zeros((7, 7))
    for i, j in STUCK_TREE:
        unit[i, j] = 2.0
    for i, j in group:
        unit[i, j] = 1.0
    return unit


def test_tie_group_whose_every_edge_closes_a_cycle_can_still_fill_them_all():
    # A spanning tree at weight 2, then a group of ten edges at weight 1 none of which has a
    # common neighbour in the tree: each alone would create a cycle, yet together with the
    # triangles they span (Z/2 rank of their triangle incidences = 10) every cycle is filled.
    assert birth_time(_stuck_unit(STUCK_GROUP)) == 0 == birth_time_reference(_stuck_unit(STUCK_GROUP))
    # Without edge 5-6 the group leaves a hole: born at the group's first step, 1 + 6 entries above.
    without = _stuck_unit(STUCK_GROUP[1:])
    assert birth_time(without) == 7 == birth_time_reference(without)


def test_relu_zero_unit_and_constant_unit_have_no_birth():
    assert birth_time(np.zeros((10, 10))) == 0
    assert birth_time(np.full((10, 10), 3.25)) == 0


def test_birth_step_counts_diagonal_entries_above_the_threshold(fig2_unit):
    # Raising a diagonal entry above every edge weight shifts each step by one.
    unit = fig2_unit.copy()
    unit[0, 0] = 100.0
    assert birth_time(unit) == 5 == birth_time_reference(unit)


def test_float_dtypes_give_identical_births(smooth_unit):
    as64 = smooth_unit.astype(np.float64)
    as16 = smooth_unit.astype(np.float16)
    assert birth_time(smooth_unit) == birth_time(as64)
    assert birth_time(as16) == birth_time_reference(as16)


def test_birth_times_keeps_leading_shape_and_handles_empty_batches(smooth_unit):
    units = np.stack([smooth_unit, smooth_unit * 2.0, np.zeros_like(smooth_unit)]).reshape(3, 1, 14, 14)
    got = birth_times(units)
    assert got.shape == (3, 1)
    assert got[0, 0] == got[1, 0] == birth_time(smooth_unit)  # rescaling does not move births
    assert got[2, 0] == 0
    assert birth_times(np.zeros((0, 5, 5))).shape == (0,)
    assert birth_times(units, n_threads=1).tolist() == got.tolist()


def test_betti_curves_end_contractible_and_agree_with_birth_time():
    for seed in range(12):
        unit = make_unit(KINDS[seed % len(KINDS)], 9, seed, "float64")
        curves = betti_curves(unit)
        assert curves.shape == (2, 81)
        assert curves[0, -1] == 1  # the complete graph is connected
        assert curves[1, -1] == 0  # ... and its clique complex is contractible
        nonzero = np.flatnonzero(curves[1])
        expected = int(nonzero[0]) + 1 if nonzero.size else 0
        assert birth_time(unit) == expected


def test_betti0_counts_components_of_the_graph_at_each_step(smooth_unit):
    from scipy.sparse.csgraph import connected_components

    curves = betti_curves(smooth_unit)
    for v in (1, 5, 20, 60, 150, 196):
        n_components, _ = connected_components(graph_at_step(smooth_unit, v), directed=False)
        assert curves[0, v - 1] == n_components


def test_persistence_diagram_is_in_step_units(fig2_unit):
    h0, h1 = persistence_diagram(fig2_unit)
    assert h0.shape == (4, 2)
    assert np.isinf(h0[:, 1]).sum() == 1
    assert h1.tolist() == [[4.0, 7.0]]


def test_display_helpers(fig2_unit):
    w = edge_weights(fig2_unit)
    assert np.array_equal(w, w.T)
    assert w[0, 1] == 16.0 and w[0, 2] == 13.0
    values = filtration_values(fig2_unit)
    assert values.shape == (16,) and values[0] == 16.0 and np.all(np.diff(values) <= 0)
    adjacency = graph_at_step(fig2_unit, 4)
    assert sorted(map(tuple, np.argwhere(np.triu(adjacency)))) == [(0, 1), (0, 2), (1, 3), (2, 3)]
    complex_at_4 = clique_complex(fig2_unit, 4)
    assert complex_at_4.triangles.shape == (0, 3)
    complex_at_7 = clique_complex(fig2_unit, 7)
    assert sorted(map(tuple, complex_at_7.triangles)) == [(0, 1, 3), (0, 2, 3)]
    assert not complex_at_7.truncated
    capped = clique_complex(np.ones((6, 6)), 36, max_triangles=5)
    assert capped.truncated and capped.triangles.shape == (5, 3)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(5), "2-D"),
        (np.zeros((2, 3, 3)), "2-D"),
        (np.zeros((3, 4)), "square"),
        (np.zeros((1, 1)), "at least 2 x 2"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), "inf"),
        (np.array([[1 + 1j, 0], [0, 0]]), "real numbers"),
    ],
)
def test_bad_units_raise_a_readable_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        birth_time(bad)
    with pytest.raises(UnitError, match=message):
        validate_unit(bad)


def test_bad_batches_name_the_offending_unit():
    units = np.zeros((2, 3, 4, 4))
    units[1, 2, 0, 0] = np.nan
    with pytest.raises(UnitError, match=r"index \(1, 2\) contains NaN"):
        birth_times(units)
    with pytest.raises(UnitError, match="square"):
        birth_times(np.zeros((4, 3, 5)))


@pytest.mark.parametrize("step", [0, 17, 2.5])
def test_steps_outside_the_filtration_are_rejected(fig2_unit, step):
    with pytest.raises(UnitError, match="step"):
        graph_at_step(fig2_unit, step)
