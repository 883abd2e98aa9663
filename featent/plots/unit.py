"""Plotly figures for every view of the method: pure functions from arrays to ``go.Figure``.

Why a separate module: the app only lays figures out, so every picture the user sees can be
built and tested without Streamlit (giotto-tda style). All figures share one palette and one
layout helper so the pages look like one product. Steps and vertices are shown 1-based, as in
the paper (step v = 1..m^2, vertex i = 1..m).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from featent.core import entropy, topology
from featent.plots.style import BINARY_SCALE, PALETTE, SCALE, SERIES, TEMPLATE, TRIANGLE_FILL, style  # noqa: F401

_layout = style


def _integer_ticks(top: float) -> dict:
    """Axis settings that show whole numbers only (Betti numbers, steps)."""
    return {"tickformat": "d", "dtick": max(1, int(np.ceil(float(top) / 6)))}


def _threshold(unit: np.ndarray, v: int) -> float:
    return float(topology.filtration_values(unit)[v - 1])


# --------------------------------------------------------------------------- unit views


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
        t = _threshold(u, step)
        rows, cols = np.nonzero(u >= t)
        if max_circles is not None and rows.size > max_circles:
            title = f"{title} ({rows.size} entries ≥ a({step}): too many to circle)"
            rows, cols = rows[:0], cols[:0]
        fig.add_trace(
            go.Scatter(
                x=cols + 1,
                y=rows + 1,
                mode="markers",
                marker={"symbol": "circle-open", "size": max(5, min(18, 240 // m)), "color": PALETTE["accent"], "line": {"width": 2}},
                name=f"entries >= a({step})",
                hovertemplate="row %{y}, col %{x}: in the filtration<extra></extra>",
            )
        )
    fig.update_yaxes(autorange="reversed", title="row i", scaleanchor="x", constrain="domain")
    fig.update_xaxes(title="column j", constrain="domain")
    return _layout(fig, title, showlegend=False)


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
    return _layout(fig, title, height=height, margin={"l": 5, "r": 5, "t": 35, "b": 5})


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
    return _layout(fig, title or f"Adjacency A({v}) — {n_edges} edges", showlegend=False)


def circle_layout(m: int) -> np.ndarray:
    """Vertex positions on the unit circle, vertex 1 at the top, clockwise: float [m, 2]."""
    angles = np.pi / 2 - 2 * np.pi * np.arange(m) / m
    return np.column_stack([np.cos(angles), np.sin(angles)])


def hole_cycle(unit: np.ndarray, birth: int) -> list[int]:
    """Vertices (0-based) of a cycle born at step ``birth``; empty when there is no birth.

    Takes an edge entering at the birth step that closes a cycle and the shortest path between its
    ends in the graph at that step without it (BFS); a shortest path has no chords, so the ring
    bounds no triangles. Used to lay the hole out as a polygon.
    """
    m = unit.shape[0]
    if birth <= 0:
        return []
    before = topology.graph_at_step(unit, birth - 1) if birth > 1 else np.zeros((m, m), bool)
    after = topology.graph_at_step(unit, birth)
    for u, v in np.argwhere(np.triu(after & ~before, 1)):
        previous = {int(u): -1}
        queue = deque([int(u)])
        while queue and int(v) not in previous:
            x = queue.popleft()
            for y in np.flatnonzero(after[x]):
                if int(y) not in previous and not (x == u and y == v):
                    previous[int(y)] = x
                    queue.append(int(y))
        if int(v) in previous:
            cycle, x = [], int(v)
            while x != -1:
                cycle.append(x)
                x = previous[x]
            if len(cycle) >= 4:  # a triangle is filled at once; only longer cycles are holes
                return cycle
    return []


def hole_first_order(unit: np.ndarray, birth: int) -> list[int]:
    """Vertex order with ``hole_cycle`` first, then the other vertices in index order."""
    cycle = hole_cycle(unit, birth)
    return cycle + [i for i in range(unit.shape[0]) if i not in cycle]


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
        threshold = _threshold(u, v)
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
        order = np.asarray(order, dtype=int)
        if sorted(order.tolist()) != list(range(m)):
            raise ValueError(f"order must be a permutation of 0..{m - 1}")
        rank[order] = np.arange(m)
    shown = np.unique(cx.edges) if reduced else np.arange(m)
    shown = shown[np.argsort(rank[shown], kind="stable")]
    position = np.full((m, 2), np.nan)
    if shown.size:
        position[shown] = circle_layout(shown.size)

    fig = go.Figure()
    tx, ty = _segments(position, cx.triangles, close=True)
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
    return _layout(fig, title, height=440, margin={"l": 20, "r": 20, "t": 55, "b": 20},
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
                      annotation_text=f"birth b = {birth}", annotation_position="top right")
    if step is not None:
        fig.add_vline(x=step, line={"color": PALETTE["ink"], "width": 1, "dash": "dot"},
                      annotation_text=f"v = {step}", annotation_position="bottom right")
    fig.update_xaxes(title="step v", range=[0.5, steps[-1] + 0.5] if steps.size else None)
    fig.update_yaxes(title="β0", secondary_y=False, rangemode="tozero", **_integer_ticks(curves[0].max(initial=0)))
    fig.update_yaxes(title="β1", secondary_y=True, rangemode="tozero", showgrid=False,
                     **_integer_ticks(curves[1].max(initial=0)))
    return _layout(fig, title)


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
    return _layout(fig, title, barmode="overlay")


# --------------------------------------------------------------------------- distributions


def entropy_summary(births: np.ndarray, p: float = entropy.DEFAULT_P) -> dict[str, float]:
    """FE, selective rate, |Omega| and the Eq. 12 flag for one unit's births over a class."""
    b = np.asarray(births).reshape(-1)
    rate = float(entropy.selective_rate(b))
    return {
        "feature_entropy": float(entropy.feature_entropy(b, p=p)),
        "selective_rate": rate,
        "p": float(p),
        "n_images": int(b.size),
        "no_birth": int(np.count_nonzero(b == 0)),
        "low_rate": rate < p,
    }


NO_BIRTH = "no birth"


def birth_histogram(
    births: np.ndarray,
    p: float = entropy.DEFAULT_P,
    *,
    title: str = "Birth-time distribution",
    name: str | None = None,
) -> go.Figure:
    """P(x) = b_x / |Omega| over birth steps x (paper Fig. 4), with a labelled "no birth" bar.

    The images without a birth count in |Omega| (Eq. 9-10) and get their own grey bar on the left,
    so a silent unit never looks like a sharp one; FE, ε and p sit in the legend area above the
    bars. Step bars carry their step in ``x`` and the no-birth bar the text "no birth", so a
    selection names the images to show.
    """
    b = np.asarray(births).reshape(-1)
    xs, probs = entropy.birth_distribution(b)
    s = entropy_summary(b, p)
    counts = np.round(np.asarray(probs) * b.size).astype(int)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.12, 0.88], horizontal_spacing=0.02)
    silent_share = s["no_birth"] / max(1, b.size)
    fig.add_trace(
        go.Bar(x=[NO_BIRTH], y=[silent_share], marker={"color": PALETTE["muted"], "pattern": {"shape": "/"}},
               name="no birth", customdata=[s["no_birth"]], text=[f"{s['no_birth']}"], textposition="outside",
               hovertemplate="no birth<br>%{y:.3f} of the images (%{customdata})<extra></extra>"),
        row=1, col=1,
    )
    fig.add_trace(
        go.Bar(
            x=xs, y=probs, marker={"color": PALETTE["primary"]}, name=name or "P(x)",
            customdata=counts,
            hovertemplate="birth step %{x}<br>P = %{y:.3f} (%{customdata} images)<extra></extra>",
        ),
        row=1, col=2,
    )
    fig.update_xaxes(type="category", row=1, col=1, tickfont={"color": PALETTE["muted"]})
    fig.update_xaxes(title="birth time b (step)", row=1, col=2, **_step_ticks(xs))
    top = float(max(silent_share, float(np.max(probs)) if np.size(probs) else 0.0, 0.05))
    fig.update_yaxes(title="share of |Ω| images", range=[0, top * 1.18], row=1, col=1)
    _layout(fig, title + "<br><sup>" + _summary_text(s) + "</sup>", clickmode="event+select", showlegend=False,
            margin={"l": 55, "r": 20, "t": 80, "b": 45})
    return fig


def _step_ticks(xs: np.ndarray) -> dict:
    """Whole-number, never repeated ticks for a step axis holding ``xs``."""
    xs = np.asarray(xs)
    if not xs.size:
        return {"tickformat": "d", "range": [0.5, 1.5], "dtick": 1}
    low, high = int(xs.min()), int(xs.max())
    span = max(1, high - low)
    return {"tickformat": "d", "dtick": max(1, int(np.ceil(span / 8))), "range": [low - 0.7, high + 0.7]}


def _summary_text(s: dict[str, float]) -> str:
    rule = " — ε < p: Eq. 12 gives (1 − ε) ln|Ω|" if s["low_rate"] else ""
    return (
        f"FE H = {s['feature_entropy']:.3f} · selective rate ε = {s['selective_rate']:.2f} (p = {s['p']:g}){rule}"
        f" · |Ω| = {s['n_images']}, no birth: {s['no_birth']}"
    )


def birth_histogram_compare(
    births: Sequence[np.ndarray], labels: Sequence[str], p: float = entropy.DEFAULT_P,
    title: str = "Birth-time distributions compared",
) -> go.Figure:
    """Two or more birth distributions side by side (grouped bars, a "no birth" group on the left),
    FE and ε of each in the legend below the plot (never over the bars)."""
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.12, 0.88], horizontal_spacing=0.02)
    all_steps = []
    for k, (b, label) in enumerate(zip(births, labels, strict=True)):
        b = np.asarray(b).reshape(-1)
        xs, probs = entropy.birth_distribution(b)
        all_steps.append(np.asarray(xs))
        s = entropy_summary(b, p)
        colour = SERIES[k % len(SERIES)]
        legend = f"{label}: H = {s['feature_entropy']:.2f}, ε = {s['selective_rate']:.2f}" + (" (ε < p)" if s["low_rate"] else "")
        fig.add_trace(go.Bar(x=[NO_BIRTH], y=[s["no_birth"] / max(1, b.size)], marker={"color": colour, "pattern": {"shape": "/"}},
                             name=legend, legendgroup=label, showlegend=False,
                             hovertemplate=f"{label}<br>no birth: %{{y:.3f}}<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Bar(x=xs, y=probs, name=legend, legendgroup=label, marker={"color": colour},
                             hovertemplate=f"{label}<br>birth step %{{x}}<br>P = %{{y:.3f}}<extra></extra>"), row=1, col=2)
    steps = np.concatenate(all_steps) if all_steps else np.array([])
    fig.update_xaxes(type="category", row=1, col=1)
    fig.update_xaxes(title="birth time b (step)", row=1, col=2, **_step_ticks(steps))
    fig.update_yaxes(title="share of |Ω| images", rangemode="tozero", row=1, col=1)
    _layout(fig, title, barmode="group", height=400,
            legend={"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "left", "x": 0.0},
            margin={"l": 55, "r": 20, "t": 55, "b": 90})
    return fig


# --------------------------------------------------------------------------- layers and units

PROFILE_COLUMNS = ("model", "layer", "class_name", "mean_feature_entropy", "mean_selective_rate")
#: Optional baseline columns of a profile table, drawn when present: (column, label, dash, panel).
BASELINE_COLUMNS = (
    ("mean_live_feature_entropy", "live FE (ε ≥ p)", "dash", 1),
    ("mean_null_feature_entropy", "null FE (entries shuffled)", "dot", 1),
    ("silent_share", "silent share (ε < p)", "dash", 2),
)


def layer_profile(table: pd.DataFrame, title: str = "Layer profile") -> go.Figure:
    """Mean FE and selective rate per layer (paper Fig. 5A), one colour per model.

    ``table`` is long-form with PROFILE_COLUMNS, one row per (model, layer, class). Points are the
    mean over classes (Eq. 15); error bars are the standard deviation over classes (0 for one).
    Layers keep their order of first appearance. When the table has the baseline columns
    (BASELINE_COLUMNS), each is drawn in the model's colour with its own dash beside FE / ε, so a
    fall of FE that only silence explains is visible as a flat live FE and a rising silent share.
    """
    missing = set(PROFILE_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"layer_profile table lacks columns {sorted(missing)}")
    layers = list(dict.fromkeys(table["layer"]))
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Feature entropy (nats)", "Selective rate ε and silent share"),
                        horizontal_spacing=0.1)
    series = [("mean_feature_entropy", "FE", "solid", 1), ("mean_selective_rate", "ε", "solid", 2)]
    series += [c for c in BASELINE_COLUMNS if c[0] in table.columns and table[c[0]].notna().any()]
    for k, model in enumerate(dict.fromkeys(table["model"])):
        part = table[table["model"] == model]
        order = [layer for layer in layers if layer in set(part["layer"])]
        grouped = part.groupby("layer", sort=False)
        colour = SERIES[k % len(SERIES)]
        for column, label, dash, col in series:
            agg = grouped[column].agg(["mean", "std"]).reindex(order).fillna({"std": 0.0})
            n = grouped["class_name"].nunique().reindex(order)
            main = dash == "solid"
            fig.add_trace(
                go.Scatter(
                    x=order, y=agg["mean"], error_y={"type": "data", "array": agg["std"], "visible": main},
                    mode="lines+markers", line={"color": colour, "width": 2.4 if main else 1.6, "dash": dash},
                    marker={"size": 8 if main else 5, "symbol": "circle" if main else "diamond-open"},
                    name=f"{model} · {label}", legendgroup=str(model),
                    customdata=np.column_stack([agg["std"], n]),
                    hovertemplate=f"{model} · {label}<br>%{{x}}: %{{y:.3f}} ± %{{customdata[0]:.3f}} over "
                                  f"%{{customdata[1]}} classes<extra></extra>",
                ),
                row=1, col=col,
            )
    fig.update_xaxes(categoryorder="array", categoryarray=layers, tickangle=-30)
    fig.update_yaxes(title="FE (nats)", row=1, col=1)
    fig.update_yaxes(title="share of units / images", range=[0, 1.05], row=1, col=2)
    _layout(fig, title, height=440)
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.3, "xanchor": "left", "x": 0.0},
                      margin={"b": 110})
    return fig


def fe_rate_scatter(
    feature_entropy: np.ndarray, selective_rate: np.ndarray, p: float = entropy.DEFAULT_P,
    title: str = "Units: feature entropy vs selective rate",
) -> go.Figure:
    """One point per unit; low FE with high ε is the effective corner. Line at ε = p.

    Silent units (ε < p, FE set by Eq. 12) are grey open circles outside the colour scale, so they
    neither set the colours of the live units nor hide as one bright dot; the legend counts them.
    """
    fe = np.asarray(feature_entropy, dtype=np.float64).reshape(-1)
    rate = np.asarray(selective_rate, dtype=np.float64).reshape(-1)
    units = np.arange(fe.size)
    live = rate >= p
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=rate[live], y=fe[live], mode="markers", customdata=units[live],
        marker={"size": 9, "color": fe[live], "colorscale": SCALE, "line": {"width": 0.5, "color": "white"},
                "colorbar": {"title": {"text": "FE"}, "thickness": 12}},
        hovertemplate="unit %{customdata}<br>ε = %{x:.2f}<br>FE = %{y:.3f}<extra></extra>",
        name=f"live units ({int(live.sum())})",
    ))
    fig.add_trace(go.Scatter(
        x=rate[~live], y=fe[~live], mode="markers", customdata=units[~live],
        marker={"size": 8, "symbol": "circle-open", "color": PALETTE["muted"], "line": {"width": 1.5}},
        hovertemplate="unit %{customdata} (silent)<br>ε = %{x:.2f}<br>FE = %{y:.3f} by Eq. 12<extra></extra>",
        name=f"silent units, ε < p ({int((~live).sum())})",
    ))
    fig.add_vline(x=p, line={"color": PALETTE["accent"], "dash": "dash", "width": 1},
                  annotation_text=f"p = {p:g}", annotation_position="top")
    fig.update_xaxes(title="selective rate ε", range=[-0.03, 1.03])
    fig.update_yaxes(title="feature entropy H (nats)", rangemode="tozero")
    return _layout(fig, title, showlegend=True,
                   legend={"orientation": "h", "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0.0},
                   margin={"l": 55, "r": 20, "t": 55, "b": 80})


def units_classes_heatmap(
    values: np.ndarray, classes: Sequence[str], title: str = "Feature entropy: units x classes",
    value_name: str = "FE", rates: np.ndarray | None = None, p: float = entropy.DEFAULT_P,
) -> go.Figure:
    """A [units, classes] matrix (FE or ε per unit and class) as a heatmap.

    With ``rates`` ([units, classes] selective rates), silent cells (ε < p) are grey and left out of
    the colour range, so dead units (FE = ln|Ω|) do not wash the live ones out.
    """
    z = np.asarray(values, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != len(classes):
        raise ValueError(f"values must be [units, {len(classes)}], got shape {z.shape}")
    x = [str(c) for c in classes]
    silent = np.zeros(z.shape, dtype=bool) if rates is None else np.asarray(rates, dtype=np.float64) < p
    if silent.shape != z.shape:
        raise ValueError(f"rates must have the shape of values {z.shape}, got {silent.shape}")
    shown = np.where(silent, np.nan, z)
    fig = go.Figure(
        go.Heatmap(
            z=shown, x=x, y=np.arange(z.shape[0]), colorscale=SCALE,
            colorbar={"title": {"text": value_name}, "thickness": 12},
            hovertemplate=f"unit %{{y}}, class %{{x}}<br>{value_name} = %{{z:.3f}}<extra></extra>",
            name=value_name, hoverongaps=False,
        )
    )
    if silent.any():
        fig.add_trace(go.Heatmap(
            z=np.where(silent, 1.0, np.nan), x=x, y=np.arange(z.shape[0]), customdata=z,
            colorscale=[[0, "#d0d4dc"], [1, "#d0d4dc"]], showscale=False, hoverongaps=False,
            hovertemplate=f"unit %{{y}}, class %{{x}}: silent (ε < p)<br>{value_name} = %{{customdata:.3f}}<extra></extra>",
            name="silent",
        ))
        title = f"{title} — grey: silent (ε < p), {int(silent.sum())} cells"
    fig.update_xaxes(title="class", type="category")
    fig.update_yaxes(title="unit", autorange="reversed")
    return _layout(fig, title, height=max(300, min(900, 120 + 6 * z.shape[0])))
