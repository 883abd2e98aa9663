"""featent.plots.unit: the unit's own figures carry the data the method says they should."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from featent.plots import filtration, style
from featent.plots import unit as unit_plots

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


def test_activation_heatmap_circles_entries_in_the_filtration() -> None:
    fig = unit_plots.activation_heatmap(TOY, step=4)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), TOY)
    circled = {(int(x), int(y)) for x, y in zip(fig.data[1].x, fig.data[1].y, strict=True)}
    assert circled == {(2, 1), (4, 2), (1, 3), (3, 4)}  # (column, row), 1-based
    assert len(unit_plots.activation_heatmap(TOY).data) == 1


def test_adjacency_at_step_is_the_thresholded_symmetric_matrix() -> None:
    fig = unit_plots.adjacency_at_step(TOY, 4)
    expected = np.zeros((4, 4), dtype=int)
    for i, j in [(0, 1), (1, 3), (2, 3), (0, 2)]:
        expected[i, j] = expected[j, i] = 1
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), expected)
    assert "4 edges" in fig.layout.title.text


def test_constant_unit_heatmap_has_a_valid_colour_range() -> None:
    fig = unit_plots.activation_heatmap(np.zeros((5, 5)), step=3)
    assert fig.data[0].zmin == 0.0 and fig.data[0].zmax == 1.0
    assert len(fig.data[1].x) == 25  # every entry ties with a(3) = 0


def test_input_image_accepts_channels_first_last_and_grey() -> None:
    chw = np.zeros((3, 8, 8))
    chw[0] = 1.0
    z = np.asarray(unit_plots.input_image(chw).data[0].z)
    assert z.shape == (8, 8, 3) and (z[..., 0] == 255).all() and (z[..., 1] == 0).all()
    assert np.asarray(unit_plots.input_image(np.ones((8, 8))).data[0].z).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="image must be"):
        unit_plots.input_image(np.zeros((2, 8, 8, 3)))


def test_unit_errors_propagate_as_readable_messages() -> None:
    with pytest.raises(ValueError, match="square"):
        unit_plots.activation_heatmap(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="step must be between"):
        filtration.complex_at_step(TOY, 17)


def test_style_lets_callers_override_any_default() -> None:
    fig = style.style(go.Figure(), "t", height=200, legend={"orientation": "v"}, margin={"l": 1})
    assert fig.layout.legend.orientation == "v" and fig.layout.margin.l == 1 and fig.layout.height == 200
    assert fig.layout.template.layout.plot_bgcolor == "white" and fig.layout.title.text == "t"


def test_activation_heatmap_leaves_out_circles_that_would_cover_it() -> None:
    unit = np.random.default_rng(0).random((40, 40))
    fig = unit_plots.activation_heatmap(unit, step=500, max_circles=80)
    assert len(fig.data[1].x) == 0 and "too many to circle" in fig.layout.title.text
    assert len(unit_plots.activation_heatmap(unit, step=50, max_circles=80).data[1].x) == 50


def _born_unit(m: int) -> tuple[np.ndarray, int]:
    """A seeded random m x m unit that gives a birth."""
    from featent.core import topology

    for seed in range(20):
        unit = np.random.default_rng(1000 + seed).random((m, m))
        birth = topology.birth_time(unit)
        if birth:
            return unit, birth
    raise AssertionError(f"no seeded {m} x {m} unit with a birth")


def _title_lines(text: str) -> list[str]:
    import re

    return [re.sub(r"<[^>]+>", "", line) for line in text.split("<br>")]


def _assert_labels_apart(fig: go.Figure) -> None:
    """Vertex numbers never share a place: each written label >= 0.2 (circle radius 1) from every other."""
    placed = [(x, y) for trace in fig.data if "text" in str(getattr(trace, "mode", "") or "") and trace.xaxis == "x2"
              for x, y, t in zip(trace.x, trace.y, trace.text, strict=True) if t]
    assert placed and len(placed) <= unit_plots.MAX_LABELS
    points = np.array(placed, dtype=float)
    gaps = np.linalg.norm(points[:, None] - points[None], axis=-1) + np.eye(len(points)) * 9
    assert gaps.min() >= 0.2


@pytest.mark.parametrize("m", [16, 32])
def test_large_units_show_the_born_cycles_neighbourhood_and_the_map_cropped_to_its_rows(m: int) -> None:
    from featent.core import topology
    from featent.core.cycles import hole_cycle
    from featent.plots import animation

    unit, birth = _born_unit(m)
    cycle = hole_cycle(unit, birth)
    graph = topology.graph_at_step(unit, birth)
    touching = {int(v) for v in np.flatnonzero(graph[cycle].any(axis=0))} - set(cycle)
    around = unit_plots.neighbourhood(unit, birth)
    assert around[: len(cycle)] == cycle and set(around[len(cycle):]) <= touching
    assert len(around) == min(len(cycle) + len(touching), max(unit_plots.MAX_NEIGHBOURHOOD, len(cycle)))

    fig = animation.filtration_animation(unit, birth=birth, focus=True, title=f"block1_conv1, unit {m}: the filtration",
                                         start=birth)
    spec = {"data": [t.to_plotly_json() for t in fig.data], "frames": fig.raw_frames,
            "layout": fig.layout.to_plotly_json()}
    vertices = next(t for t in spec["data"] if t["name"] == "vertices")
    assert sorted(int(t) - 1 for t in vertices["text"]) == sorted(around) and len(around) < m
    heat = next(t for t in spec["data"] if t["name"] == "unit")
    crop = sorted(cycle)
    np.testing.assert_array_equal(np.asarray(heat["z"]), unit[np.ix_(crop, crop)])
    assert list(heat["x"]) == list(heat["y"]) == [str(c + 1) for c in crop]
    # the circles at the birth step: exactly the cropped entries already in the filtration
    circles = spec["frames"][birth - 1]["data"][0]
    threshold = topology.filtration_values(unit)[birth - 1]
    expected = {(str(crop[c] + 1), str(crop[r] + 1)) for r, c in zip(*np.nonzero(unit[np.ix_(crop, crop)] >= threshold))}
    assert set(zip(circles["x"], circles["y"], strict=True)) == expected

    _assert_labels_apart(fig)
    # titles fit: the figure title's lines and the panel titles are short enough for a 900-px figure
    assert all(len(line) <= 70 for line in _title_lines(spec["layout"]["title"]["text"]))
    assert all(len(a["text"]) <= 32 for a in spec["layout"]["annotations"] if a.get("yref") == "paper" and a["y"] == 1.0)

    whole = animation.filtration_animation(unit, birth=birth, focus=False)
    _assert_labels_apart(whole)
    assert np.asarray(next(t for t in whole.data if t.name == "unit").z).shape == (m, m)
    assert len(next(t for t in whole.data if t.name == "vertices").x) == m


def test_activation_heatmap_crops_to_given_rows_and_columns() -> None:
    unit, birth = _born_unit(32)
    rows = unit_plots.crop_vertices(unit, birth)
    fig = unit_plots.activation_heatmap(unit, birth, rows=rows, max_circles=64)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), unit[np.ix_(rows, rows)])
    assert fig.layout.xaxis.type == "category" and list(fig.data[0].x) == [str(r + 1) for r in rows]
    assert fig.data[0].zmax == unit.max()  # the colours keep the whole map's range
    assert all(len(line) <= 70 for line in _title_lines(fig.layout.title.text))


def test_births_only_play_visits_the_steps_where_b1_changes() -> None:
    from featent.core import topology
    from featent.plots import animation

    unit, birth = _born_unit(16)
    curves = topology.betti_curves(unit)
    jumps = animation.jump_steps(curves)
    b1 = curves[1]
    assert jumps[0] == 1 and jumps[1] == birth
    assert jumps[1:] == [v for v in range(2, b1.size + 1) if b1[v - 1] != b1[v - 2]]
    spec = animation.filtration_animation(unit, curves=curves, birth=birth, jumps_only=True, start=1).to_dict()
    names = spec["layout"]["updatemenus"][0]["buttons"][0]["args"][0]
    assert names == [str(j) for j in jumps if j <= len(spec["frames"])]
    assert {f["name"] for f in spec["frames"]} >= set(names)
    plain = animation.filtration_animation(unit, curves=curves, birth=birth).to_dict()
    assert plain["layout"]["updatemenus"][0]["buttons"][0]["args"][0] is None  # every step
