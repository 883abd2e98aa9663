"""Figures of the filtration: the graph and clique complex at a step, Betti curves, the barcode.

The circle layout places vertex 1 at the top, clockwise; ``order`` puts a hole's cycle first so it
reads as a polygon (the cycle itself comes from ``featent.core.cycles``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from featent.core import topology
from featent.plots.style import PALETTE, TRIANGLE_FILL, style


def _integer_ticks(top: float) -> dict:
    """Axis settings that show whole numbers only (Betti numbers, steps)."""
    return {"tickformat": "d", "dtick": max(1, int(np.ceil(float(top) / 6)))}



def circle_layout(m: int) -> np.ndarray:
    """Vertex positions on the unit circle, vertex 1 at the top, clockwise: float [m, 2]."""
    angles = np.pi / 2 - 2 * np.pi * np.arange(m) / m
    return np.column_stack([np.cos(angles), np.sin(angles)])



def oriented_triangles(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Triangles with their corners in one rotation sense on screen.

    The shaded triangles are one trace filled "toself"; where two triangles of opposite sense overlap,
    the browser's non-zero fill rule cancels them and the overlap looks like an empty hole. One
    sense for all makes the shading the union of the triangles.
    """
    tris = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    if not tris.size:
        return tris
    p = points[tris]
    cross = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
    flip = cross < 0
    out = tris.copy()
    out[flip, 1], out[flip, 2] = tris[flip, 2], tris[flip, 1]
    return out


def _segments(points: np.ndarray, pairs: np.ndarray, close: bool = False) -> tuple[list, list]:
    """x/y lists drawing each row of `pairs` as a polyline separated by None (one trace)."""
    xs: list = []
    ys: list = []
    for row in pairs:
        seq = list(row) + ([row[0]] if close else [])
        xs.extend(points[seq, 0].tolist() + [None])
        ys.extend(points[seq, 1].tolist() + [None])
    return xs, ys


def complex_at_step(
    unit: np.ndarray,
    v: int,
    *,
    max_triangles: int = 1500,
    max_edges: int = 3000,
    full_view_max_vertices: int = 40,
    order: Sequence[int] | None = None,
    title: str | None = None,
    vertices: Sequence[int] | None = None,
    highlight: Sequence[int] | None = None,
) -> go.Figure:
    """The graph G^(v) and its clique complex (paper Fig. 2C-D): circle layout, filled triangles.

    For large m the full circle is unreadable, so only vertices touched by an edge so far are
    placed (still in index order); at most ``max_triangles`` triangles are filled and at most
    ``max_edges`` edges drawn (the heaviest, i.e. earliest), and the title says when the view is
    reduced. Edges entering exactly at step v are drawn in the accent colour. ``order`` (0-based
    vertex indices) sets the clockwise placement, e.g. a hole's cycle first so it reads as a polygon.
    ``vertices`` (0-based, in circle order) restricts the view to those vertices and the simplices
    among them, e.g. a born cycle and its neighbourhood in a large unit; ``highlight`` draws a cycle
    (0-based vertices in ring order) on top, e.g. the hole born at the birth step.
    """
    u = topology.validate_unit(unit)
    m = u.shape[0]
    if vertices is not None:
        chosen = np.asarray(list(vertices), dtype=np.int64)
        sub = u[np.ix_(chosen, chosen)]
        # the same step as a threshold on the whole unit, applied to the sub-unit's edges
        threshold = float(topology.filtration_values(u)[v - 1])
        local_v = max(1, int(np.count_nonzero(sub >= threshold)))
        ring = None if highlight is None else [int(np.flatnonzero(chosen == h)[0]) for h in highlight if h in chosen]
        fig = complex_at_step(sub, local_v, max_triangles=max_triangles, max_edges=max_edges,
                              full_view_max_vertices=chosen.size, order=None, highlight=ring,
                              title=title or f"Graph and clique complex at step {v} — {chosen.size} of {m} vertices "
                                             "(the born cycle and its neighbours)")
        for trace in fig.data:  # vertex labels and hovers name the unit's own vertices
            if trace.name == "vertices":
                trace.text = [str(int(chosen[int(t) - 1]) + 1) for t in trace.text]
                trace.customdata = np.column_stack([chosen[np.asarray(trace.customdata)[:, 0].astype(int) - 1] + 1,
                                                    np.asarray(trace.customdata)[:, 1]])
        return fig
    cx = topology.clique_complex(u, v, max_triangles=max_triangles)
    n_edges = cx.edges.shape[0]
    if n_edges > max_edges:
        w = np.maximum(u, u.T)[cx.edges[:, 0], cx.edges[:, 1]]
        keep = np.sort(np.argsort(-w, kind="stable")[:max_edges])
        cx = topology.CliqueComplex(edges=cx.edges[keep], triangles=cx.triangles, truncated=cx.truncated)
    new_edges = np.empty((0, 2), dtype=np.int64)
    if v > 1:
        before = topology.graph_at_step(u, v - 1)
        if cx.edges.size:
            is_new = ~before[cx.edges[:, 0], cx.edges[:, 1]]
            new_edges = cx.edges[is_new]
            old_edges = cx.edges[~is_new]
        else:
            old_edges = cx.edges
    else:
        new_edges, old_edges = cx.edges, np.empty((0, 2), dtype=np.int64)

    reduced = m > full_view_max_vertices
    rank = np.arange(m)
    if order is not None:
        placement = np.asarray(order, dtype=int)
        if sorted(placement.tolist()) != list(range(m)):
            raise ValueError(f"order must be a permutation of 0..{m - 1}")
        rank[placement] = np.arange(m)
    shown = np.unique(cx.edges) if reduced else np.arange(m)
    shown = shown[np.argsort(rank[shown], kind="stable")]
    position = np.full((m, 2), np.nan)
    if shown.size:
        position[shown] = circle_layout(shown.size)

    fig = go.Figure()
    tx, ty = _segments(position, oriented_triangles(position, cx.triangles), close=True)
    fig.add_trace(
        go.Scatter(
            x=tx, y=ty, mode="lines", fill="toself", fillcolor=TRIANGLE_FILL,
            line={"width": 0, "color": TRIANGLE_FILL}, hoverinfo="skip",
            name=f"triangles ({cx.triangles.shape[0]}{'+' if cx.truncated else ''})",
        )
    )
    ex, ey = _segments(position, old_edges)
    fig.add_trace(
        go.Scatter(x=ex, y=ey, mode="lines", line={"width": 1.2, "color": PALETTE["primary"]},
                   hoverinfo="skip", name=f"edges ({old_edges.shape[0]})")
    )
    nx, ny = _segments(position, new_edges)
    fig.add_trace(
        go.Scatter(x=nx, y=ny, mode="lines", line={"width": 2.5, "color": PALETTE["accent"]},
                   hoverinfo="skip", name=f"new at step {v} ({new_edges.shape[0]})")
    )
    if highlight is not None and len(highlight) >= 3:
        hx, hy = _segments(position, np.array([list(highlight)]), close=True)
        fig.add_trace(go.Scatter(x=hx, y=hy, mode="lines", line={"width": 4, "color": PALETTE["good"]},
                                 hoverinfo="skip", name="the born hole"))
    degree = np.zeros(m, dtype=int)
    if cx.edges.size:
        np.add.at(degree, cx.edges.ravel(), 1)
    fig.add_trace(
        go.Scatter(
            x=position[shown, 0], y=position[shown, 1],
            mode="markers+text" if shown.size <= full_view_max_vertices else "markers",
            text=[str(i + 1) for i in shown], textposition="middle center",
            textfont={"size": 10, "color": "white"},
            marker={"size": 20 if shown.size <= 16 else (14 if shown.size <= full_view_max_vertices else 7),
                    "color": PALETTE["ink"], "line": {"width": 1, "color": "white"}},
            customdata=np.column_stack([shown + 1, degree[shown]]) if shown.size else None,
            hovertemplate="vertex %{customdata[0]}<br>degree %{customdata[1]}<extra></extra>",
            name="vertices",
        )
    )
    fig.update_xaxes(visible=False, range=[-1.2, 1.2])
    fig.update_yaxes(visible=False, range=[-1.2, 1.2], scaleanchor="x")
    if title is None:
        title = f"Graph and clique complex at step {v}"
        if reduced:
            title += f" — {shown.size} of {m} vertices with edges"
        if n_edges > max_edges:
            title += f", heaviest {max_edges} of {n_edges} edges"
        if cx.truncated:
            title += f", first {max_triangles} triangles"
    return style(fig, title, height=440, margin={"l": 20, "r": 20, "t": 55, "b": 20},
                   legend={"orientation": "h", "yanchor": "top", "y": 0.0, "xanchor": "left", "x": 0.0})


def betti_curves_figure(curves: np.ndarray, birth: int, step: int | None = None, title: str = "Betti curves") -> go.Figure:
    """beta_0(v) and beta_1(v) over v = 1..m^2 (paper Fig. 3B), birth time and current step marked."""
    curves = np.asarray(curves)
    steps = np.arange(1, curves.shape[1] + 1)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(x=steps, y=curves[0], mode="lines", line={"shape": "hv", "color": PALETTE["muted"], "width": 1.5},
                   name="β0 (components)", hovertemplate="step %{x}: β0 = %{y}<extra></extra>"),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(x=steps, y=curves[1], mode="lines", line={"shape": "hv", "color": PALETTE["primary"], "width": 2.5},
                   name="β1 (holes)", hovertemplate="step %{x}: β1 = %{y}<extra></extra>"),
        secondary_y=True,
    )
    if birth > 0:
        fig.add_vline(x=birth, line={"color": PALETTE["accent"], "width": 2, "dash": "dash"},
                      annotation_text=f"birth b = {birth}", annotation_position="bottom right",
                      annotation_bgcolor="rgba(255,255,255,0.85)")
    if step is not None:
        fig.add_vline(x=step, line={"color": PALETTE["ink"], "width": 1, "dash": "dot"},
                      annotation_text=f"v = {step}", annotation_position="bottom right")
    fig.update_xaxes(title="step v", range=[0.5, steps[-1] + 0.5] if steps.size else None)
    fig.update_yaxes(title="β0", secondary_y=False, rangemode="tozero", **_integer_ticks(curves[0].max(initial=0)))
    fig.update_yaxes(title="β1", secondary_y=True, rangemode="tozero", showgrid=False,
                     **_integer_ticks(curves[1].max(initial=0)))
    # the legend under the plot: above it, it would sit on a long title
    return style(fig, title, legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0.0},
                 margin={"l": 55, "r": 55, "t": 55, "b": 85})


def persistence_barcode(diagrams: Sequence[np.ndarray], n_steps: int, title: str = "Persistence barcode") -> go.Figure:
    """H0 and H1 intervals [birth, death) in steps; bars that never die run to the last step."""
    fig = go.Figure()
    row = 0
    for dim, colour in ((1, PALETTE["primary"]), (0, PALETTE["muted"])):
        dgm = np.asarray(diagrams[dim], dtype=np.float64).reshape(-1, 2)
        order = np.argsort(dgm[:, 0], kind="stable")
        dgm = dgm[order]
        births = dgm[:, 0]
        deaths = np.where(np.isfinite(dgm[:, 1]), dgm[:, 1], n_steps + 1)
        ys = np.arange(row, row + dgm.shape[0])
        row += dgm.shape[0] + 1
        fig.add_trace(
            go.Bar(
                y=ys, x=deaths - births, base=births, orientation="h",
                marker={"color": colour}, width=0.8, name=f"H{dim} ({dgm.shape[0]})",
                customdata=np.column_stack([births, dgm[:, 1]]) if dgm.size else None,
                hovertemplate=f"H{dim}: born at step %{{customdata[0]:.0f}}, dies at %{{customdata[1]:.0f}}<extra></extra>",
            )
        )
    fig.update_yaxes(visible=False, autorange="reversed")
    fig.update_xaxes(title="step v", range=[0.5, n_steps + 1.5])
    return style(fig, title, barmode="overlay")


# --------------------------------------------------------------------------- distributions
