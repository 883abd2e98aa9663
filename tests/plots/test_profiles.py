"""featent.plots.profiles: layer profiles, FE-ε scatter and the units x classes heatmap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from featent.plots import profiles


def _profile_table() -> pd.DataFrame:
    rows = []
    for model, offset in (("demo", 0.0), ("demo:random", 1.0)):
        for layer in ("conv1", "conv2"):
            for class_name, fe in (("0", 1.0), ("1", 2.0)):
                rows.append((model, layer, class_name, fe + offset, 0.5))
    return pd.DataFrame(rows, columns=profiles.PROFILE_COLUMNS)


def test_layer_profile_means_over_classes_with_spread_as_error_bars() -> None:
    fig = profiles.layer_profile(_profile_table())
    assert [t.legendgroup for t in fig.data] == ["demo", "demo", "demo:random", "demo:random"]
    fe_demo, rate_demo, fe_random, _ = fig.data
    assert list(fe_demo.x) == ["conv1", "conv2"]
    np.testing.assert_allclose(fe_demo.y, [1.5, 1.5])
    np.testing.assert_allclose(fe_random.y, [2.5, 2.5])
    np.testing.assert_allclose(fe_demo.error_y.array, [np.std([1.0, 2.0], ddof=1)] * 2)
    np.testing.assert_allclose(rate_demo.y, [0.5, 0.5])
    assert [t.name for t in fig.data][:2] == ["demo · FE", "demo · ε"]
    with pytest.raises(ValueError, match="lacks columns"):
        profiles.layer_profile(_profile_table().drop(columns="layer"))


def test_fe_rate_scatter_and_units_classes_heatmap() -> None:
    fe, rate = np.array([0.2, 1.5, 2.9]), np.array([0.9, 0.5, 0.05])
    fig = profiles.fe_rate_scatter(fe, rate)
    live, silent = fig.data
    np.testing.assert_allclose(live.x, [0.9, 0.5])
    np.testing.assert_allclose(live.marker.color, [0.2, 1.5])  # the silent unit's FE sets no colour
    assert list(silent.customdata) == [2] and silent.marker.symbol == "circle-open"
    assert silent.name == "silent units, ε < p (1)"
    assert fig.layout.shapes[0].x0 == 0.1

    values = np.arange(6, dtype=float).reshape(3, 2)
    heat = profiles.units_classes_heatmap(values, ["cat", "dog"])
    np.testing.assert_array_equal(np.asarray(heat.data[0].z), values)
    assert list(heat.data[0].x) == ["cat", "dog"]
    with pytest.raises(ValueError, match="values must be"):
        profiles.units_classes_heatmap(values, ["cat"])
    rates = np.array([[0.5, 0.05], [0.5, 0.5], [0.0, 0.5]])
    marked = profiles.units_classes_heatmap(values, ["cat", "dog"], rates=rates)
    z = np.asarray(marked.data[0].z, dtype=float)
    assert np.isnan(z[0, 1]) and np.isnan(z[2, 0]) and z[1, 0] == 2.0  # silent cells leave the colour range
    grey = np.asarray(marked.data[1].z, dtype=float)
    assert np.nansum(grey) == 2 and "2 cells" in marked.layout.title.text


def test_layer_profile_draws_the_baselines_when_the_table_has_them() -> None:
    table = _profile_table()
    table["mean_live_feature_entropy"] = table["mean_feature_entropy"] - 0.25
    table["silent_share"] = 0.2
    table["mean_live_conditional_feature_entropy"] = 0.75
    fig = profiles.layer_profile(table)
    names = [t.name for t in fig.data]
    stability = fig.data[names.index("demo · live conditional FE H(x | born)")]
    np.testing.assert_allclose(stability.y, [0.75, 0.75])
    assert stability.line.dash == "dashdot"
    assert "demo · live FE (ε ≥ p)" in names and "demo:random · silent share (ε < p)" in names
    live = fig.data[names.index("demo · live FE (ε ≥ p)")]
    np.testing.assert_allclose(live.y, [1.25, 1.25])
    assert live.line.dash == "dash"


def test_layer_profile_breaks_the_lines_at_a_layer_too_small_for_a_hole() -> None:
    table = _profile_table()
    table["hole_possible"] = table["layer"] != "conv2"
    fig = profiles.layer_profile(table)
    fe_demo, rate_demo = fig.data[0], fig.data[1]
    np.testing.assert_allclose(fe_demo.y, [1.5, np.nan])
    np.testing.assert_allclose(rate_demo.y, [0.5, np.nan])
    crosses = [t for t in fig.data if t.name == "demo · too small for a hole"]
    assert len(crosses) == 2 and all(list(t.x) == ["conv2"] for t in crosses)
    assert "too small for a hole" in crosses[0].hovertemplate and crosses[0].showlegend
    assert [t.name for t in profiles.layer_profile(_profile_table()).data].count("demo · too small for a hole") == 0
    table["hole_possible"] = table["hole_possible"].astype(str)  # as read back from a CSV
    assert len([t for t in profiles.layer_profile(table).data if "too small" in t.name]) == 4
