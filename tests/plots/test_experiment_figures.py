"""featent.plots.experiments: the experiment figures show the numbers they are given."""

from __future__ import annotations

import numpy as np
import pytest

from featent import indicators as ind


def test_experiment_figures_show_the_numbers_given():
    from featent.plots import experiments as pe

    rows = [
        {"images": 1.0, "filters": 1.0, "accuracy": 0.9, "l1_norm": 8.0, "feature_entropy": 2.0},
        {"images": 0.5, "filters": 1.0, "accuracy": 0.9, "l1_norm": 4.0, "feature_entropy": 2.2},
    ]
    fig = pe.rescale_figure(rows, indicators=("accuracy", "l1_norm", "feature_entropy"))
    assert list(fig.data[1].y) == pytest.approx([1.0, 0.5, 1.1])
    with pytest.raises(ValueError, match="unchanged row"):
        pe.rescale_figure([])
    dyn = [{"epoch": e, "loss": 2.0 - e, "mean_feature_entropy": 3.0 - e, "class_name": "mean"} for e in range(3)]
    fig = pe.dynamics_figure(dyn)
    assert list(fig.data[0].y) == [2.0, 1.0, 0.0] and list(fig.data[-1].y) == [3.0, 2.0, 1.0]
    trend = [{"layer": L, "group": g, "mean_feature_entropy": v, "mean_selective_rate": 0.5}
             for L, g, v in [("a", "trained", 1.0), ("b", "trained", 0.5), ("a", "random init", 3.0),
                             ("a", "random init", 5.0), ("b", "random init", 4.0)]]
    fig = pe.layer_trend_figure(trend)
    lines = {t.name: list(t.y) for t in fig.data if t.mode == "lines+markers"}
    assert lines == {"trained": [1.0, 0.5], "random init": [4.0, 4.0]}
    scatter = pe.model_set_scatter([{"model": m, "class_name": c, "mean_feature_entropy": 1.0, "mean_selective_rate": 0.5}
                                    for m in ("x", "y") for c in ("0", "1")])
    assert [t.name for t in scatter.data] == ["x", "y"]
    values = {k: np.arange(4.0) for k in ind.INDICATOR_COLUMNS}
    assert len(pe.indicator_grid(values, highlight=2).data) == 2 * len(pe.COMPARED)
    assert "conditional_fe" in pe.COMPARED  # FE against the conditional FE is one of the panels
    # the conditional FE against every other indicator: no panel of itself, silent units (+inf) left out
    values["conditional_fe"] = np.array([0.5, np.inf, 1.5, 2.0])
    grid = pe.indicator_grid(values, y="conditional_fe")
    assert len(grid.data) == len(pe.COMPARED)  # FE's panel first, COMPARED less conditional_fe itself
    assert grid.data[0].name == "Feature entropy" and "Conditional FE H(x | born)" not in {t.name for t in grid.data}
    first = grid.data[0]
    assert np.isnan(first.y[1]) and list(first.y[[0, 2, 3]]) == [0.5, 1.5, 2.0]
    assert "Conditional FE H(x | born) = " in first.hovertemplate


def test_layer_trend_band_draws_no_markers():
    from featent.plots import experiments as pe

    trend = [{"layer": L, "group": g, "mean_feature_entropy": 1.0, "mean_selective_rate": 0.5}
             for L in ("a", "b") for g in ("trained", "random init")]
    band = [t for t in pe.layer_trend_figure(trend).data if t.fill == "toself"]
    assert len(band) == 1 and band[0].mode == "lines"
