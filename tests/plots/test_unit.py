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
