"""featent.plots.atlas: the layers x classes heatmap, with cells too small for a hole greyed out."""

from __future__ import annotations

import numpy as np

from featent.plots.atlas import TOO_SMALL_GREY, atlas_heatmap


def _rows(small_flag) -> list[dict]:
    return [{"class": c, "layer": layer, "mean_feature_entropy": fe, "hole_possible": ok}
            for layer, ok in (("conv1", True), ("layer4", small_flag)) for c, fe in (("a", 1.0), ("b", 2.9957))]


def test_cells_too_small_for_a_hole_are_grey_with_their_hover_and_no_value() -> None:
    fig = atlas_heatmap(_rows(False))
    heat, grey, cells = fig.data
    np.testing.assert_allclose(np.asarray(heat.z, float), [[1.0, 2.9957], [np.nan, np.nan]])
    np.testing.assert_allclose(np.asarray(grey.z, float), [[np.nan, np.nan], [1.0, 1.0]])
    assert "too small for a hole" in grey.hovertemplate and grey.colorscale[0][1] == TOO_SMALL_GREY
    assert not grey.showscale and "grey: too small for a hole" in fig.layout.title.text
    assert cells.type == "scatter" and len(cells.x) == 4  # every cell, greyed or not, stays clickable
    assert list(grey.customdata[1][0]) == ["a", "layer4"]


def test_cells_that_can_hold_a_hole_or_say_nothing_are_drawn_as_values() -> None:
    for flag in (True, None, "True"):
        fig = atlas_heatmap(_rows(flag))
        assert len(fig.data) == 2 and np.isfinite(np.asarray(fig.data[0].z, float)).all()
        assert "too small" not in fig.layout.title.text
    assert len(atlas_heatmap(_rows("False")).data) == 3  # a CSV's text flag counts too
