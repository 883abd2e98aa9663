"""Figures of one unit: its activation map, the input image it came from, and its adjacency at a step.

Pure functions from arrays to ``go.Figure`` so every picture the app shows is built and tested
without Streamlit. Steps and vertices are shown 1-based, as in the paper (step v = 1..m^2, vertex
i = 1..m).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from featent.core import topology
from featent.core.cycles import hole_cycle
from featent.plots.style import BINARY_SCALE, PALETTE, SCALE, style

#: From this size on, the inspector shows the born cycle's neighbourhood instead of every vertex.
FOCUS_M = 16
#: At most this many vertices in a neighbourhood (the cycle always fits whole).
MAX_NEIGHBOURHOOD = 24
#: Vertex numbers are written on every vertex up to this many; beyond, on the cycle's vertices only.
MAX_LABELS = 16


def neighbourhood(unit: np.ndarray, birth: int, limit: int = MAX_NEIGHBOURHOOD) -> list[int]:
    """The born cycle's vertices, then their neighbours in G(birth), heaviest edge first (0-based).

    What a reader can follow of a large unit at its birth: the ring and what touches it, not the
    whole graph. Without a birth: the ``limit`` vertices with the heaviest edges.
    """
    u = topology.validate_unit(unit)
    m = u.shape[0]
    w = np.maximum(u, u.T).astype(np.float64)
    np.fill_diagonal(w, -np.inf)
    cycle = hole_cycle(u, birth) if birth else []
    if not cycle:
        return [int(v) for v in np.lexsort((np.arange(m), -w.max(axis=1)))[:limit]]
    adjacency = np.asarray(topology.graph_at_step(u, birth), dtype=bool)
    touching = np.asarray(adjacency[cycle].any(axis=0), dtype=bool)
    touching[cycle] = False
    strength = np.where(touching, w[cycle].max(axis=0), -np.inf)
    around = [int(v) for v in np.lexsort((np.arange(m), -strength)) if touching[v]]
    return (cycle + around)[: max(limit, len(cycle))]


def crop_vertices(unit: np.ndarray, birth: int, limit: int = 8) -> list[int]:
    """Rows/columns of the cropped map (0-based, ascending): the born cycle's, else the heaviest few."""
    u = topology.validate_unit(unit)
    cycle = hole_cycle(u, birth) if birth else []
    return sorted(cycle) if cycle else sorted(neighbourhood(u, 0, limit))


def activation_heatmap(unit: np.ndarray, step: int | None = None, title: str = "Activation map",
                       max_circles: int | None = None, rows: list[int] | None = None) -> go.Figure:
    """The unit U as a heatmap (row i, column j, 1-based); entries >= a^(v) circled at step v.

    Circling the entries already in the filtration mirrors the paper's Fig. 2A. Circles only help
    while they are few: beyond ``max_circles`` entries none are drawn and the title says so.
    ``rows`` (0-based vertices) crops the map to those rows and columns, so a large unit's entries
    that make a cycle show at a readable size; the colours keep the whole map's range.
    """
    u = topology.validate_unit(unit)
    m = u.shape[0]
    keep = np.arange(m) if rows is None else np.asarray(sorted(rows), dtype=np.int64)
    cropped = rows is not None
    idx: np.ndarray | list[str] = [str(k + 1) for k in keep] if cropped else np.arange(1, m + 1)
    low, high = float(u.min()), float(u.max())
    fig = go.Figure(
        go.Heatmap(
            z=u[np.ix_(keep, keep)],
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
        r_in, c_in = np.nonzero(u[np.ix_(keep, keep)] >= t)
        if max_circles is not None and r_in.size > max_circles:
            title = f"{title}<br>{r_in.size} entries ≥ a({step}): too many to circle"
            r_in, c_in = r_in[:0], c_in[:0]
        xs = [str(keep[c] + 1) for c in c_in] if cropped else (keep[c_in] + 1).tolist()
        ys = [str(keep[r] + 1) for r in r_in] if cropped else (keep[r_in] + 1).tolist()
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                marker={
                    "symbol": "circle-open",
                    "size": max(5, min(18, 240 // keep.size)),
                    "color": PALETTE["accent"],
                    "line": {"width": 2},
                },
                name=f"entries >= a({step})",
                hovertemplate="row %{y}, col %{x}: in the filtration<extra></extra>",
            )
        )
    axis_type = "category" if cropped else "-"
    fig.update_yaxes(autorange="reversed", title="row i", scaleanchor="x", constrain="domain", type=axis_type)
    fig.update_xaxes(title="column j", constrain="domain", type=axis_type)
    return style(fig, title, showlegend=False, margin={"l": 55, "r": 20, "t": 75 if "<br>" in title else 55, "b": 45})


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
