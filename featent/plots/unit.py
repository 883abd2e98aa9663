"""Figures of one unit: its activation map, the input image it came from, and its adjacency at a step.

Pure functions from arrays to ``go.Figure`` so every picture the app shows is built and tested
without Streamlit. Steps and vertices are shown 1-based, as in the paper (step v = 1..m^2, vertex
i = 1..m).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from featent.core import topology
from featent.plots.style import BINARY_SCALE, PALETTE, SCALE, style


def activation_heatmap(unit: np.ndarray, step: int | None = None, title: str = "Activation map",
                       max_circles: int | None = None) -> go.Figure:
    """The unit U as a heatmap (row i, column j, 1-based); entries >= a^(v) circled at step v.

    Circling the entries already in the filtration mirrors the paper's Fig. 2A. Circles only help
    while they are few: beyond ``max_circles`` entries none are drawn and the title says so.
    """
    u = topology.validate_unit(unit)
    m = u.shape[0]
    idx = np.arange(1, m + 1)
    low, high = float(u.min()), float(u.max())
    fig = go.Figure(
        go.Heatmap(
            z=u,
            x=idx,
            y=idx,
            zmin=low,
            zmax=high if high > low else low + 1.0,  # a constant (dead) unit shows as one flat colour
            colorscale=SCALE,
            colorbar={"title": {"text": "value"}, "thickness": 12},
            hovertemplate="row %{y}, col %{x}<br>U = %{z:.4g}<extra></extra>",
            name="unit",
        )
    )
    if step is not None:
        t = float(topology.filtration_values(u)[step - 1])
        rows, cols = np.nonzero(u >= t)
        if max_circles is not None and rows.size > max_circles:
            title = f"{title} ({rows.size} entries ≥ a({step}): too many to circle)"
            rows, cols = rows[:0], cols[:0]
        fig.add_trace(
            go.Scatter(
                x=cols + 1,
                y=rows + 1,
                mode="markers",
                marker={
                    "symbol": "circle-open",
                    "size": max(5, min(18, 240 // m)),
                    "color": PALETTE["accent"],
                    "line": {"width": 2},
                },
                name=f"entries >= a({step})",
                hovertemplate="row %{y}, col %{x}: in the filtration<extra></extra>",
            )
        )
    fig.update_yaxes(autorange="reversed", title="row i", scaleanchor="x", constrain="domain")
    fig.update_xaxes(title="column j", constrain="domain")
    return style(fig, title, showlegend=False)


def image_rgb(image: np.ndarray) -> np.ndarray:
    """float [S, S, 3] in [0, 1] from an image channels first [3, S, S], last [S, S, 3], or grey [S, S]."""
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"image must be [3,S,S], [S,S,3] or [S,S], got shape {np.shape(image)}")
    return np.clip(arr, 0.0, 1.0)


def input_image(image: np.ndarray, title: str = "Input image", height: int = 360) -> go.Figure:
    """An image in [0, 1], channels first [3, S, S] or last [S, S, 3], or grey [S, S]."""
    rgb = (image_rgb(image) * 255).round().astype(np.uint8)
    fig = go.Figure(go.Image(z=rgb, hovertemplate="x %{x}, y %{y}<extra></extra>"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, title, height=height, margin={"l": 5, "r": 5, "t": 35, "b": 5})


def adjacency_at_step(unit: np.ndarray, v: int, title: str | None = None) -> go.Figure:
    """A^(v): the thresholded, symmetrised adjacency matrix at step v (paper Eq. 3, Fig. 2B)."""
    u = topology.validate_unit(unit)
    adjacency = topology.graph_at_step(u, v).astype(int)
    m = u.shape[0]
    idx = np.arange(1, m + 1)
    fig = go.Figure(
        go.Heatmap(
            z=adjacency,
            x=idx,
            y=idx,
            zmin=0,
            zmax=1,
            colorscale=BINARY_SCALE,
            showscale=False,
            xgap=1 if m <= 64 else 0,
            ygap=1 if m <= 64 else 0,
            hovertemplate="edge (%{y}, %{x}): %{z}<extra></extra>",
            name="A(v)",
        )
    )
    fig.update_yaxes(autorange="reversed", title="vertex i", scaleanchor="x", constrain="domain")
    fig.update_xaxes(title="vertex j", constrain="domain")
    n_edges = int(np.triu(adjacency, 1).sum())
    return style(fig, title or f"Adjacency A({v}) — {n_edges} edges", showlegend=False)
