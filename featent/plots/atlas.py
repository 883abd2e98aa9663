"""The model atlas as a figure: a layers x classes heatmap of one atlas column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from featent.plots.profiles import TOO_SMALL, too_small
from featent.plots.style import SCALE, style

__all__ = ["ATLAS_VALUES", "atlas_heatmap"]

#: The colour of a cell too small for a hole: grey, outside every colour scale.
TOO_SMALL_GREY = "#d0d4dc"

#: Columns the heatmap can show, with their labels (the structure gap only when the atlas has it).
ATLAS_VALUES = {
    "mean_feature_entropy": "Mean feature entropy",
    "mean_selective_rate": "Mean selective rate",
    "silent_share": "Silent share (ε < p)",
    "mean_live_feature_entropy": "Mean FE of live units",
    "mean_null_feature_entropy": "Mean null FE (shuffled maps)",
    "structure_gap": "Structure gap (null FE − FE)",
}


def atlas_heatmap(
    rows: Sequence[Mapping],
    value: str = "mean_feature_entropy",
    layers: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    title: str | None = None,
    plotly_params: Mapping | None = None,
) -> go.Figure:
    """Heatmap of ``value`` with layers as rows (network order, input at the top) and classes as
    columns; each cell's ``customdata`` is ``[class, layer]`` so a click can open that cell.

    ``rows``: atlas records (``Atlas.to_frame().to_dict("records")``); ``layers``/``classes`` fix
    the order (default: first appearance). Missing cells are blank. Cells whose ``hole_possible`` is
    false (maps under 4×4) are grey with "too small for a hole" on hover and stay out of the colour
    range: their FE is ln|Ω| by construction, not a finding.
    """
    rows = list(rows)
    layers = list(layers) if layers is not None else list(dict.fromkeys(str(r["layer"]) for r in rows))
    classes = list(classes) if classes is not None else list(dict.fromkeys(str(r["class"]) for r in rows))
    z = np.full((len(layers), len(classes)), np.nan)
    li = {name: i for i, name in enumerate(layers)}
    ci = {name: j for j, name in enumerate(classes)}
    small = np.zeros(z.shape, dtype=bool)
    for r in rows:
        i, j = li.get(str(r["layer"])), ci.get(str(r["class"]))
        if i is None or j is None:
            continue
        if too_small(r.get("hole_possible")):
            small[i, j] = True
        elif r.get(value) is not None:
            z[i, j] = float(r[value])
    custom = np.empty((len(layers), len(classes), 2), dtype=object)
    for i, layer in enumerate(layers):
        for j, name in enumerate(classes):
            custom[i, j] = (name, layer)
    label = ATLAS_VALUES.get(value, value)
    diverging = value == "structure_gap"
    finite = z[np.isfinite(z)]
    bound = float(np.abs(finite).max()) if diverging and finite.size else None
    fig = go.Figure(
        go.Heatmap(
            z=z, x=[str(c) for c in classes], y=layers, customdata=custom,
            colorscale="RdBu" if diverging else SCALE, zmid=0.0 if diverging else None,
            zmin=-bound if bound else None, zmax=bound if bound else None,
            colorbar={"title": {"text": label, "side": "right"}},
            hovertemplate="class %{customdata[0]}<br>layer %{customdata[1]}<br>" + label + " %{z:.4f}<extra></extra>",
            xgap=1, ygap=1,
        )
    )
    if small.any():
        fig.add_trace(go.Heatmap(
            z=np.where(small, 1.0, np.nan), x=[str(c) for c in classes], y=layers, customdata=custom,
            colorscale=[[0, TOO_SMALL_GREY], [1, TOO_SMALL_GREY]], showscale=False, hoverongaps=False,
            hovertemplate=f"class %{{customdata[0]}}<br>layer %{{customdata[1]}}<br>{TOO_SMALL} (maps under 4×4)"
                          "<extra></extra>",
            xgap=1, ygap=1, name=TOO_SMALL,
        ))
        title = f"{title or f'{label} per layer and class'} — grey: {TOO_SMALL}"
    # heatmaps send no selection events: one invisible marker per cell makes a click select that cell
    cells_y, cells_x = np.meshgrid(range(len(layers)), range(len(classes)), indexing="ij")
    fig.add_trace(go.Scatter(
        x=[str(classes[j]) for j in cells_x.ravel()], y=[layers[i] for i in cells_y.ravel()], mode="markers",
        customdata=custom.reshape(-1, 2).tolist(), name="cells", showlegend=False,
        marker={"symbol": "square", "size": 22, "color": "rgba(0,0,0,0)"},
        selected={"marker": {"opacity": 0}}, unselected={"marker": {"opacity": 0}},
        hovertemplate="class %{customdata[0]}<br>layer %{customdata[1]}<extra></extra>",
    ))
    style(fig, title or f"{label} per layer and class", height=max(320, 60 + 26 * len(layers)), clickmode="event+select")
    fig.update_yaxes(autorange="reversed", title_text="layer", type="category")
    fig.update_xaxes(title_text="class", type="category")
    if plotly_params:
        fig.update_layout(**plotly_params)
    return fig
