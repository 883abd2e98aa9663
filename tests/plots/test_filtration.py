"""featent.plots.filtration: complex, Betti curves and barcode figures for known units."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from featent.core import cycles, topology
from featent.plots import filtration

# The paper's Fig. 2 toy: the 4 largest entries are at (1,2), (2,4), (3,1), (4,3) (1-based), so
# step 4 closes the cycle 1-2-4-3-1; step 7 adds chord 2-3 and fills it.
TOY = np.array(
    [
        [0.10, 0.90, 0.20, 0.05],
        [0.30, 0.15, 0.25, 0.80],
        [0.70, 0.20, 0.10, 0.35],
        [0.00, 0.10, 0.60, 0.20],
    ]
)


def _points(trace: go.Scatter) -> set[tuple[float, float]]:
    return {(x, y) for x, y in zip(trace.x, trace.y, strict=True) if x is not None}


def _polylines(trace: go.Scatter) -> int:
    """Number of None-separated pieces in a trace."""
    return sum(1 for x in trace.x if x is None)


def test_complex_at_step_draws_edges_new_edges_and_triangles() -> None:
    fig = filtration.complex_at_step(TOY, 4)
    triangles, old, new, vertices = fig.data
    assert _polylines(triangles) == 0
    assert _polylines(old) == 3 and _polylines(new) == 1  # edge 3-4 enters at step 4 (value 0.6)
    position = filtration.circle_layout(4)
    assert _points(new) == {tuple(position[2]), tuple(position[3])}
    assert list(vertices.text) == ["1", "2", "3", "4"]

    filled = filtration.complex_at_step(TOY, 7)
    assert _polylines(filled.data[0]) == 2  # triangles 1-2-3 and 2-3-4
    assert filled.data[0].fill == "toself"
    assert "triangles (2)" in filled.data[0].name


def test_complex_at_step_reduces_large_units_to_touched_vertices_and_caps_triangles() -> None:
    unit = np.zeros((60, 60))
    unit[5, 6], unit[6, 7], unit[7, 5] = 3.0, 2.0, 1.0  # one triangle among 60 vertices
    fig = filtration.complex_at_step(unit, 3)
    assert len(fig.data[3].x) == 3
    assert "3 of 60 vertices" in fig.layout.title.text
    assert sorted(int(c[0]) for c in fig.data[3].customdata) == [6, 7, 8]

    dense = np.random.default_rng(0).random((30, 30))
    capped = filtration.complex_at_step(dense, 900, max_triangles=50, max_edges=100)
    assert _polylines(capped.data[0]) == 50
    assert _polylines(capped.data[1]) + _polylines(capped.data[2]) == 100
    assert "first 50 triangles" in capped.layout.title.text
    assert "heaviest 100 of 435 edges" in capped.layout.title.text
    weights = np.maximum(dense, dense.T)
    position = filtration.circle_layout(30)
    drawn = []
    for trace in capped.data[1:3]:
        xs = [x for x in trace.x if x is not None]
        ys = [y for y in trace.y if y is not None]
        ends = [int(np.argmin(np.hypot(position[:, 0] - x, position[:, 1] - y))) for x, y in zip(xs, ys, strict=True)]
        drawn += [weights[a, b] for a, b in zip(ends[::2], ends[1::2], strict=True)]
    assert min(drawn) == np.sort(weights[np.triu_indices(30, 1)])[-100]  # exactly the 100 heaviest


def test_betti_curves_figure_plots_both_curves_and_marks_birth_and_step() -> None:
    curves = topology.betti_curves(TOY)
    fig = filtration.betti_curves_figure(curves, birth=4, step=6)
    np.testing.assert_array_equal(fig.data[0].y, curves[0])
    np.testing.assert_array_equal(fig.data[1].y, curves[1])
    np.testing.assert_array_equal(fig.data[1].x, np.arange(1, 17))
    lines = sorted(shape.x0 for shape in fig.layout.shapes)
    assert lines == [4, 6]
    assert len(filtration.betti_curves_figure(curves, birth=0).layout.shapes) == 0


def test_persistence_barcode_has_one_bar_per_interval_and_open_bars_reach_the_end() -> None:
    diagrams = [np.array([[1.0, 2.0], [1.0, np.inf]]), np.array([[4.0, 7.0]])]
    fig = filtration.persistence_barcode(diagrams, n_steps=16)
    h1, h0 = fig.data
    assert list(h1.base) == [4.0] and list(h1.x) == [3.0]
    assert list(h0.base) == [1.0, 1.0] and list(h0.x) == [1.0, 16.0]


def test_complex_at_step_places_vertices_in_the_given_order() -> None:
    fig = filtration.complex_at_step(TOY, 4, order=[0, 1, 3, 2])  # the cycle 1-2-4-3 clockwise
    vertices = fig.data[3]
    assert list(vertices.text) == ["1", "2", "4", "3"]
    np.testing.assert_allclose(np.column_stack([vertices.x, vertices.y]), filtration.circle_layout(4))
    with pytest.raises(ValueError, match="permutation"):
        filtration.complex_at_step(TOY, 4, order=[0, 1, 2, 2])


def test_complex_at_step_on_a_vertex_subset_matches_the_whole_graph() -> None:
    unit = np.random.default_rng(3).random((36, 36))
    birth = topology.birth_time(unit)
    cycle = cycles.hole_cycle(unit, birth)
    from featent.plots.animation import focus_vertices

    focus = focus_vertices(unit, birth)
    assert focus[: len(cycle)] == cycle and len(focus) <= 24
    fig = filtration.complex_at_step(unit, birth, vertices=focus, highlight=cycle)
    graph = topology.graph_at_step(unit, birth)
    drawn = sum(_polylines(t) for t in fig.data if t.name and t.name.startswith(("edges", "new at")))
    expected = int(np.triu(graph[np.ix_(focus, focus)], 1).sum())
    assert drawn == expected
    hole = next(t for t in fig.data if t.name == "the born hole")
    assert _polylines(hole) == 1 and len([x for x in hole.x if x is not None]) == len(cycle) + 1
    vertices = next(t for t in fig.data if t.name == "vertices")
    assert [int(t) for t in vertices.text] == [v + 1 for v in focus]
