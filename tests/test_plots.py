"""featent.plots.unit: each figure carries the data the method says it should, for known inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from featent.plots import unit as plots
from featent.core import topology

# The paper's Fig. 2 toy (same as ui/toy.py): the 4 largest entries are at (1,2), (2,4), (3,1),
# (4,3) (1-based), so step 4 closes the cycle 1-2-4-3-1; step 7 adds chord 2-3 and fills it.
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


def test_activation_heatmap_circles_entries_in_the_filtration() -> None:
    fig = plots.activation_heatmap(TOY, step=4)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), TOY)
    circled = {(int(x), int(y)) for x, y in zip(fig.data[1].x, fig.data[1].y, strict=True)}
    assert circled == {(2, 1), (4, 2), (1, 3), (3, 4)}  # (column, row), 1-based
    assert len(plots.activation_heatmap(TOY).data) == 1


def test_adjacency_at_step_is_the_thresholded_symmetric_matrix() -> None:
    fig = plots.adjacency_at_step(TOY, 4)
    expected = np.zeros((4, 4), dtype=int)
    for i, j in [(0, 1), (1, 3), (2, 3), (0, 2)]:
        expected[i, j] = expected[j, i] = 1
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), expected)
    assert "4 edges" in fig.layout.title.text


def test_complex_at_step_draws_edges_new_edges_and_triangles() -> None:
    fig = plots.complex_at_step(TOY, 4)
    triangles, old, new, vertices = fig.data
    assert _polylines(triangles) == 0
    assert _polylines(old) == 3 and _polylines(new) == 1  # edge 3-4 enters at step 4 (value 0.6)
    position = plots.circle_layout(4)
    assert _points(new) == {tuple(position[2]), tuple(position[3])}
    assert list(vertices.text) == ["1", "2", "3", "4"]

    filled = plots.complex_at_step(TOY, 7)
    assert _polylines(filled.data[0]) == 2  # triangles 1-2-3 and 2-3-4
    assert filled.data[0].fill == "toself"
    assert "triangles (2)" in filled.data[0].name


def test_complex_at_step_reduces_large_units_to_touched_vertices_and_caps_triangles() -> None:
    unit = np.zeros((60, 60))
    unit[5, 6], unit[6, 7], unit[7, 5] = 3.0, 2.0, 1.0  # one triangle among 60 vertices
    fig = plots.complex_at_step(unit, 3)
    assert len(fig.data[3].x) == 3
    assert "3 of 60 vertices" in fig.layout.title.text
    assert sorted(int(c[0]) for c in fig.data[3].customdata) == [6, 7, 8]

    dense = np.random.default_rng(0).random((30, 30))
    capped = plots.complex_at_step(dense, 900, max_triangles=50, max_edges=100)
    assert _polylines(capped.data[0]) == 50
    assert _polylines(capped.data[1]) + _polylines(capped.data[2]) == 100
    assert "first 50 triangles" in capped.layout.title.text
    assert "heaviest 100 of 435 edges" in capped.layout.title.text
    weights = np.maximum(dense, dense.T)
    position = plots.circle_layout(30)
    drawn = []
    for trace in capped.data[1:3]:
        xs = [x for x in trace.x if x is not None]
        ys = [y for y in trace.y if y is not None]
        ends = [int(np.argmin(np.hypot(position[:, 0] - x, position[:, 1] - y))) for x, y in zip(xs, ys, strict=True)]
        drawn += [weights[a, b] for a, b in zip(ends[::2], ends[1::2], strict=True)]
    assert min(drawn) == np.sort(weights[np.triu_indices(30, 1)])[-100]  # exactly the 100 heaviest


def test_constant_unit_heatmap_has_a_valid_colour_range() -> None:
    fig = plots.activation_heatmap(np.zeros((5, 5)), step=3)
    assert fig.data[0].zmin == 0.0 and fig.data[0].zmax == 1.0
    assert len(fig.data[1].x) == 25  # every entry ties with a(3) = 0


def test_betti_curves_figure_plots_both_curves_and_marks_birth_and_step() -> None:
    curves = topology.betti_curves(TOY)
    fig = plots.betti_curves_figure(curves, birth=4, step=6)
    np.testing.assert_array_equal(fig.data[0].y, curves[0])
    np.testing.assert_array_equal(fig.data[1].y, curves[1])
    np.testing.assert_array_equal(fig.data[1].x, np.arange(1, 17))
    lines = sorted(shape.x0 for shape in fig.layout.shapes)
    assert lines == [4, 6]
    assert len(plots.betti_curves_figure(curves, birth=0).layout.shapes) == 0


def test_persistence_barcode_has_one_bar_per_interval_and_open_bars_reach_the_end() -> None:
    diagrams = [np.array([[1.0, 2.0], [1.0, np.inf]]), np.array([[4.0, 7.0]])]
    fig = plots.persistence_barcode(diagrams, n_steps=16)
    h1, h0 = fig.data
    assert list(h1.base) == [4.0] and list(h1.x) == [3.0]
    assert list(h0.base) == [1.0, 1.0] and list(h0.x) == [1.0, 16.0]


def test_birth_histogram_shows_p_of_x_over_all_images_and_a_no_birth_bar() -> None:
    births = np.array([0, 3, 3, 4, 5, 0, 3])
    fig = plots.birth_histogram(births)
    no_birth, steps = fig.data
    assert list(no_birth.x) == ["no birth"] and no_birth.y[0] == pytest.approx(2 / 7)
    assert list(steps.x) == [3, 4, 5]
    np.testing.assert_allclose(steps.y, [3 / 7, 1 / 7, 1 / 7])
    assert list(steps.customdata) == [3, 1, 1]
    assert sum(steps.y) + no_birth.y[0] == pytest.approx(1.0)  # every sampled image is in one bar
    h = -(3 / 7 * math.log(3 / 7) + 2 * (1 / 7) * math.log(1 / 7))
    text = fig.layout.title.text
    assert f"FE H = {h:.3f}" in text and "ε = 0.71" in text and "no birth: 2" in text
    assert "Eq. 12" not in text


def test_birth_histogram_step_ticks_are_whole_and_never_repeat() -> None:
    fig = plots.birth_histogram_compare([np.array([4, 5, 6, 7]), np.array([5, 5, 6, 0])], ["a", "b"])
    axis = fig.layout.xaxis2
    assert axis.tickformat == "d" and axis.dtick == 1 and list(axis.range) == [3.3, 7.7]
    assert fig.layout.legend.y < 0  # FE/ε in the legend below the bars, never over them


def test_silent_unit_histogram_is_one_no_birth_bar_and_says_eq12() -> None:
    births = np.zeros(20, dtype=int)
    births[0] = 5
    summary = plots.entropy_summary(births)
    assert summary["low_rate"] and summary["feature_entropy"] == pytest.approx(0.95 * math.log(20))
    fig = plots.birth_histogram(births)
    assert fig.data[0].y[0] == pytest.approx(0.95) and fig.data[1].y[0] == pytest.approx(0.05)
    assert "Eq. 12" in fig.layout.title.text


def test_birth_histogram_compare_has_a_no_birth_and_a_step_trace_per_distribution() -> None:
    fig = plots.birth_histogram_compare([np.array([1, 2, 2]), np.array([3, 3, 0])], ["class 0", "class 1"])
    assert [list(t.x) for t in fig.data] == [["no birth"], [1, 2], ["no birth"], [3]]
    assert fig.data[2].y[0] == pytest.approx(1 / 3)
    assert fig.data[3].name == f"class 1: H = {-(2 / 3) * math.log(2 / 3):.2f}, ε = 0.67"


def _profile_table() -> pd.DataFrame:
    rows = []
    for model, offset in (("demo", 0.0), ("demo:random", 1.0)):
        for layer in ("conv1", "conv2"):
            for class_name, fe in (("0", 1.0), ("1", 2.0)):
                rows.append((model, layer, class_name, fe + offset, 0.5))
    return pd.DataFrame(rows, columns=plots.PROFILE_COLUMNS)


def test_layer_profile_means_over_classes_with_spread_as_error_bars() -> None:
    fig = plots.layer_profile(_profile_table())
    assert [t.legendgroup for t in fig.data] == ["demo", "demo", "demo:random", "demo:random"]
    fe_demo, rate_demo, fe_random, _ = fig.data
    assert list(fe_demo.x) == ["conv1", "conv2"]
    np.testing.assert_allclose(fe_demo.y, [1.5, 1.5])
    np.testing.assert_allclose(fe_random.y, [2.5, 2.5])
    np.testing.assert_allclose(fe_demo.error_y.array, [np.std([1.0, 2.0], ddof=1)] * 2)
    np.testing.assert_allclose(rate_demo.y, [0.5, 0.5])
    assert [t.name for t in fig.data][:2] == ["demo · FE", "demo · ε"]
    with pytest.raises(ValueError, match="lacks columns"):
        plots.layer_profile(_profile_table().drop(columns="layer"))


def test_fe_rate_scatter_and_units_classes_heatmap() -> None:
    fe, rate = np.array([0.2, 1.5, 2.9]), np.array([0.9, 0.5, 0.05])
    fig = plots.fe_rate_scatter(fe, rate)
    live, silent = fig.data
    np.testing.assert_allclose(live.x, [0.9, 0.5])
    np.testing.assert_allclose(live.marker.color, [0.2, 1.5])  # the silent unit's FE sets no colour
    assert list(silent.customdata) == [2] and silent.marker.symbol == "circle-open"
    assert "silent units, ε < p (1)" == silent.name
    assert fig.layout.shapes[0].x0 == 0.1

    values = np.arange(6, dtype=float).reshape(3, 2)
    heat = plots.units_classes_heatmap(values, ["cat", "dog"])
    np.testing.assert_array_equal(np.asarray(heat.data[0].z), values)
    assert list(heat.data[0].x) == ["cat", "dog"]
    with pytest.raises(ValueError, match="values must be"):
        plots.units_classes_heatmap(values, ["cat"])
    rates = np.array([[0.5, 0.05], [0.5, 0.5], [0.0, 0.5]])
    marked = plots.units_classes_heatmap(values, ["cat", "dog"], rates=rates)
    z = np.asarray(marked.data[0].z, dtype=float)
    assert np.isnan(z[0, 1]) and np.isnan(z[2, 0]) and z[1, 0] == 2.0  # silent cells leave the colour range
    grey = np.asarray(marked.data[1].z, dtype=float)
    assert np.nansum(grey) == 2 and "2 cells" in marked.layout.title.text


def test_input_image_accepts_channels_first_last_and_grey() -> None:
    chw = np.zeros((3, 8, 8))
    chw[0] = 1.0
    z = np.asarray(plots.input_image(chw).data[0].z)
    assert z.shape == (8, 8, 3) and (z[..., 0] == 255).all() and (z[..., 1] == 0).all()
    assert np.asarray(plots.input_image(np.ones((8, 8))).data[0].z).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="image must be"):
        plots.input_image(np.zeros((2, 8, 8, 3)))


def test_unit_errors_propagate_as_readable_messages() -> None:
    with pytest.raises(ValueError, match="square"):
        plots.activation_heatmap(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="step must be between"):
        plots.complex_at_step(TOY, 17)


def test_style_lets_callers_override_any_default() -> None:
    fig = plots.style(go.Figure(), "t", height=200, legend={"orientation": "v"}, margin={"l": 1})
    assert fig.layout.legend.orientation == "v" and fig.layout.margin.l == 1 and fig.layout.height == 200
    assert fig.layout.template.layout.plot_bgcolor == "white" and fig.layout.title.text == "t"


def test_complex_at_step_places_vertices_in_the_given_order() -> None:
    fig = plots.complex_at_step(TOY, 4, order=[0, 1, 3, 2])  # the cycle 1-2-4-3 clockwise
    vertices = fig.data[3]
    assert list(vertices.text) == ["1", "2", "4", "3"]
    np.testing.assert_allclose(np.column_stack([vertices.x, vertices.y]), plots.circle_layout(4))
    with pytest.raises(ValueError, match="permutation"):
        plots.complex_at_step(TOY, 4, order=[0, 1, 2, 2])


@pytest.mark.parametrize("seed", [1, 2, 5, 9, 11])
def test_hole_cycle_is_a_new_chordless_ring_at_the_birth_step(seed: int) -> None:
    unit = np.random.default_rng(seed).random((7, 7))
    birth = topology.birth_time(unit)
    cycle = plots.hole_cycle(unit, birth)
    graph, before = topology.graph_at_step(unit, birth), topology.graph_at_step(unit, birth - 1)
    ring = list(zip(cycle, cycle[1:] + cycle[:1]))
    assert len(cycle) >= 4 and len(set(cycle)) == len(cycle)
    assert all(graph[a, b] for a, b in ring) and not all(before[a, b] for a, b in ring)
    ring_pairs = {frozenset(p) for p in ring}
    chords = [(a, b) for k, a in enumerate(cycle) for b in cycle[k + 1 :] if frozenset((a, b)) not in ring_pairs]
    assert not any(graph[a, b] for a, b in chords)
    order = plots.hole_first_order(unit, birth)
    assert order[: len(cycle)] == cycle and sorted(order) == list(range(7))
    assert plots.hole_cycle(unit, 0) == [] and plots.hole_first_order(unit, 0) == list(range(7))


def test_layer_profile_draws_the_baselines_when_the_table_has_them() -> None:
    table = _profile_table()
    table["mean_live_feature_entropy"] = table["mean_feature_entropy"] - 0.25
    table["silent_share"] = 0.2
    fig = plots.layer_profile(table)
    names = [t.name for t in fig.data]
    assert "demo · live FE (ε ≥ p)" in names and "demo:random · silent share (ε < p)" in names
    live = fig.data[names.index("demo · live FE (ε ≥ p)")]
    np.testing.assert_allclose(live.y, [1.25, 1.25])
    assert live.line.dash == "dash"


def test_activation_heatmap_leaves_out_circles_that_would_cover_it() -> None:
    unit = np.random.default_rng(0).random((40, 40))
    fig = plots.activation_heatmap(unit, step=500, max_circles=80)
    assert len(fig.data[1].x) == 0 and "too many to circle" in fig.layout.title.text
    assert len(plots.activation_heatmap(unit, step=50, max_circles=80).data[1].x) == 50


def test_complex_at_step_on_a_vertex_subset_matches_the_whole_graph() -> None:
    unit = np.random.default_rng(3).random((36, 36))
    birth = topology.birth_time(unit)
    cycle = plots.hole_cycle(unit, birth)
    from featent.plots.animation import focus_vertices

    focus = focus_vertices(unit, birth)
    assert focus[: len(cycle)] == cycle and len(focus) <= 24
    fig = plots.complex_at_step(unit, birth, vertices=focus, highlight=cycle)
    graph = topology.graph_at_step(unit, birth)
    drawn = sum(_polylines(t) for t in fig.data if t.name and t.name.startswith(("edges", "new at")))
    expected = int(np.triu(graph[np.ix_(focus, focus)], 1).sum())
    assert drawn == expected
    hole = next(t for t in fig.data if t.name == "the born hole")
    assert _polylines(hole) == 1 and len([x for x in hole.x if x is not None]) == len(cycle) + 1
    vertices = next(t for t in fig.data if t.name == "vertices")
    assert [int(t) for t in vertices.text] == [v + 1 for v in focus]
