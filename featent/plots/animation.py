"""The filtration as one animated figure: Play runs in the browser (plotly frames), no server trip.

Three panels move together, step by step: the unit with the entries already in the filtration
circled, the graph with its clique complex (triangles filled, the born hole drawn), and the Betti
curves with the current step. Everything a frame needs is precomputed here from the unit alone:
each edge enters at step 1 + (number of entries strictly above its weight), a triangle with the
last of its three edges.

Large units (m >= 32): the graph shows the born cycle and its nearest neighbours instead of all m
vertices, entries are circled only while few enough to help, and frames stop a little after the
birth (the rest of the filtration adds nothing a viewer can follow).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from featent.core import topology
from featent.core.cycles import hole_cycle
from featent.plots.filtration import circle_layout, oriented_triangles
from featent.plots.style import PALETTE, SCALE, TRIANGLE_FILL, style
from featent.plots.unit import FOCUS_M, MAX_LABELS, crop_vertices, neighbourhood

__all__ = ["AnimatedFigure", "filtration_animation", "animation_steps", "focus_vertices", "ring_filled_step",
           "edge_steps", "triangles_until", "jump_steps", "FRAME_MS", "SPEEDS", "FOCUS_M"]

#: Play speeds offered (steps per second); the first is Play's, slow enough to talk over.
SPEEDS = (2, 5, 10)
FRAME_MS = 1000 // SPEEDS[0]
LARGE_M = 32
PANELS = ("unit", "graph", "betti")
MAX_FOCUS = 24
MAX_TRIANGLES = 200


def animation_steps(m: int, birth: int, max_frames: int = 240) -> int:
    """How many steps the animation covers: all m² when that is short, else up to a while after the birth."""
    total = m * m
    if total <= max_frames:
        return total
    return int(min(total, max(max_frames, 3 * birth if birth else max_frames)))


def focus_vertices(unit: np.ndarray, birth: int, limit: int = MAX_FOCUS) -> list[int]:
    """The born cycle first, then the vertices with the heaviest edges to it (0-based, at most ``limit``).

    Without a birth: the ``limit`` vertices with the heaviest edges.
    """
    u = topology.validate_unit(unit)
    m = u.shape[0]
    w = np.maximum(u, u.T).astype(np.float64)
    np.fill_diagonal(w, -np.inf)
    cycle = hole_cycle(u, birth) if birth else []
    if cycle:
        strength = w[cycle].max(axis=0)
        strength[cycle] = np.inf
    else:
        strength = w.max(axis=1)
    ranked = np.lexsort((np.arange(m), -strength))
    chosen = [int(c) for c in cycle] + [int(v) for v in ranked if int(v) not in cycle]
    return chosen[: max(limit, len(cycle))]


def jump_steps(curves: np.ndarray, last: int | None = None) -> list[int]:
    """Step 1 and every step at which β1 changes (the birth is the first), up to ``last``.

    "Births only" Play and step buttons visit these: for a large unit the few steps where a hole
    appears or is filled, instead of hundreds of steps that change nothing a viewer can see.
    """
    b1 = np.asarray(curves)[1]
    last = b1.size if last is None else min(int(last), b1.size)
    return [1] + [v for v in range(2, last + 1) if b1[v - 1] != b1[v - 2]]


def edge_steps(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs i < j and the step each enters: 1 + #entries strictly greater than w_ij."""
    m = u.shape[0]
    i, j = np.triu_indices(m, 1)
    w = np.maximum(u[i, j], u[j, i])
    ascending = np.sort(u, axis=None)
    greater = ascending.size - np.searchsorted(ascending, w, side="right")
    return np.column_stack([i, j]), greater + 1


def triangles_until(m: int, pairs: np.ndarray, steps: np.ndarray, limit: int,
                     among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The clique complex's 2-simplices (i < j < k) entering by step ``limit`` and the step each enters.

    A triangle enters with the last of its three edges, so at step v the triangles with step <= v are
    exactly ``topology.clique_complex(unit, v).triangles``. ``among`` restricts them to some vertices.
    """
    step_of = np.full((m, m), np.iinfo(np.int64).max, dtype=np.int64)
    step_of[pairs[:, 0], pairs[:, 1]] = steps
    step_of[pairs[:, 1], pairs[:, 0]] = steps
    adjacency = step_of <= limit
    if among is not None:
        keep = np.zeros(m, dtype=bool)
        keep[among] = True
        adjacency &= keep[:, None] & keep[None, :]
    found: list[tuple[int, int, int, int]] = []
    for i, j in np.argwhere(np.triu(adjacency, 1)):
        common = np.flatnonzero(adjacency[i] & adjacency[j])
        for k in common[common > j]:
            found.append((int(i), int(j), int(k), int(max(step_of[i, j], step_of[i, k], step_of[j, k]))))
    table = np.array(found, dtype=np.int64).reshape(-1, 4)
    table = table[np.lexsort((table[:, 2], table[:, 1], table[:, 0], table[:, 3]))]
    return table[:, :3], table[:, 3]


def ring_filled_step(m: int, ring: Sequence[int], triangles: np.ndarray, tri_steps: np.ndarray) -> int:
    """The first step at which the closed path ``ring`` bounds triangles of the complex (0 when never).

    Exact over Z/2: the ring is filled once its edge vector lies in the span of the triangles'
    boundaries (an XOR basis over Python ints, one bit per vertex pair). Before that step the ring
    is a hole of the complex; the complex only grows, so once filled it stays filled.
    """
    if len(ring) < 3:
        return 0

    def bit(a: int, b: int) -> int:
        a, b = min(a, b), max(a, b)
        return 1 << (a * m + b)

    target = 0
    for a, b in zip(ring, list(ring[1:]) + list(ring[:1]), strict=True):
        target ^= bit(int(a), int(b))
    basis: dict[int, int] = {}

    def reduce(vector: int) -> int:
        while vector:
            top = vector.bit_length() - 1
            if top not in basis:
                return vector
            vector ^= basis[top]
        return 0

    k = 0
    while k < len(tri_steps):
        step = int(tri_steps[k])
        while k < len(tri_steps) and int(tri_steps[k]) == step:
            a, b, c = (int(x) for x in triangles[k])
            rest = reduce(bit(a, b) ^ bit(a, c) ^ bit(b, c))
            if rest:
                basis[rest.bit_length() - 1] = rest
            k += 1
        if reduce(target) == 0:
            return step
    return 0


def _segments(points: np.ndarray, pairs: np.ndarray, close: bool = False) -> tuple[list, list]:
    """x/y lists drawing each row of ``pairs`` as a polyline, pieces separated by None (one trace)."""
    pairs = np.asarray(pairs, dtype=np.int64)
    if not pairs.size:
        return [], []
    if close:
        pairs = np.column_stack([pairs, pairs[:, :1]])
    k, width = pairs.shape
    out = []
    for axis in (0, 1):
        coords = np.full((k, width + 1), np.nan)
        coords[:, :width] = points[pairs, axis].round(4)
        out.append([None if v != v else v for v in coords.ravel().tolist()])
    return out[0], out[1]


class AnimatedFigure(go.Figure):
    """A figure whose animation frames, slider and Play buttons stay plain data.

    The traces and layout are validated as usual; the frames, the slider's steps and the buttons (a
    few hundred entries, built here from checked arrays) are added only when the figure is
    serialised, because plotly's per-property validation of them cost more than the rest of a step
    or unit change. ``adopt`` turns a built figure into one without copying (a copy re-validates).
    """

    _raw_frames: list[dict]
    _raw_layout: dict
    _restart: dict | None = None  # see start_at

    def __init__(self, figure: go.Figure, frames: list[dict], layout: dict | None = None) -> None:
        super().__init__(figure)
        self._raw_frames = frames
        self._raw_layout = layout or {}

    @classmethod
    def adopt(cls, figure: go.Figure, frames: list[dict], layout: dict | None = None) -> AnimatedFigure:
        """``figure`` itself as an AnimatedFigure (no copy, no second validation)."""
        figure.__class__ = cls
        adopted = cast(AnimatedFigure, figure)
        adopted._raw_frames = frames
        adopted._raw_layout = layout or {}
        return adopted

    @property
    def raw_frames(self) -> list[dict]:
        return self._raw_frames

    def start_at(self, start: int) -> AnimatedFigure:
        """This figure showing step ``start`` before Play, as ``filtration_animation(..., start=start)``
        builds it: a start-step change reuses the frames instead of rebuilding the figure."""
        info = self._restart
        if info is None:
            raise ValueError("this figure was not built by filtration_animation")
        first = min(max(int(start), 1), len(self._raw_frames))
        self._raw_layout["sliders"][0]["active"] = first - 1
        if info["jumps_only"]:
            jumps = [j for j in info["jumps"] if j >= first] or info["jumps"]
            for button in self._raw_layout["updatemenus"][0]["buttons"][:-1]:
                button["args"][0] = [str(j) for j in jumps]
        info["first"] = first
        return self

    def to_dict(self) -> dict:
        spec = super().to_dict()
        spec["frames"] = self._raw_frames
        spec["layout"].update(self._raw_layout)
        if self._restart is not None and self._restart["first"] != self._restart["built"]:
            frame = self._raw_frames[self._restart["first"] - 1]
            for index, data in zip(frame["traces"], frame["data"], strict=True):
                spec["data"][index].update(data)
        return spec

    def to_plotly_json(self) -> dict:
        return self.to_dict()


def filtration_animation(
    unit: np.ndarray,
    *,
    start: int | None = None,
    curves: np.ndarray | None = None,
    birth: int | None = None,
    order: Sequence[int] | None = None,
    max_frames: int = 240,
    max_circles: int | None = None,
    title: str = "The filtration, step by step",
    height: int = 440,
    panels: Sequence[str] = ("unit", "graph", "betti"),
    triangles_shown: bool = True,
    focus: bool | None = None,
    jumps_only: bool = False,
) -> AnimatedFigure:
    """One figure with frames for steps 1..N and Play/Pause buttons and a step slider that run in the browser.

    ``start`` is the step shown before Play (default: the birth time, else 1); ``curves`` and
    ``birth`` may be passed when already computed. ``order`` places the vertices (0-based) around
    the circle; by default the born cycle comes first so it reads as a polygon. ``panels`` picks
    some of "unit", "graph", "betti" (in that order on screen); ``triangles_shown=False`` draws
    the graph alone, before the clique complex is introduced. ``focus`` (default: m >= 32) shows
    only the born cycle's neighbourhood in the graph and the map cropped to the cycle's rows and
    columns; ``jumps_only`` makes Play visit only the steps where β1 changes.
    """
    u = topology.validate_unit(unit)
    m = u.shape[0]
    b = topology.birth_time(u) if birth is None else int(birth)
    bc = topology.betti_curves(u) if curves is None else np.asarray(curves)
    n_frames = animation_steps(m, b, max_frames)
    large = m >= LARGE_M
    focused = large if focus is None else bool(focus)
    max_triangles = MAX_TRIANGLES if large else m * (m - 1) * (m - 2) // 6
    if max_circles is None:
        max_circles = 2 * m if large else m * m
    first = int(start) if start is not None else 1
    first = min(max(first, 1), n_frames)

    # vertices on the circle: the focus set for large units, else all (born cycle first)
    if focused:
        vertices = neighbourhood(u, b, MAX_FOCUS)
    elif order is not None:
        vertices = [int(v) for v in order]
    else:
        cycle = hole_cycle(u, b) if b else []
        vertices = cycle + [v for v in range(m) if v not in cycle]
    index = {v: k for k, v in enumerate(vertices)}
    position = np.full((m, 2), np.nan)
    position[vertices] = circle_layout(len(vertices))
    cycle = hole_cycle(u, b) if b else []

    pairs, steps = edge_steps(u)
    all_edge_steps = steps
    keep = np.array([a in index and c in index for a, c in pairs], dtype=bool) if focused else np.ones(len(pairs), bool)
    pairs, steps = pairs[keep], steps[keep]
    # triangles among the shown vertices, entering with their last edge (the clique complex's 2-simplices)
    shown = np.array(sorted(index), dtype=np.int64)
    triangles, tri_step = triangles_until(m, pairs, steps, n_frames, among=shown if focused else None)
    # the born ring is drawn while it is a hole: from the birth until triangles fill it (exact, over Z/2)
    if cycle:
        all_pairs, all_steps = edge_steps(u)
        full_tris, full_steps = (triangles, tri_step) if not focused else triangles_until(m, all_pairs, all_steps, n_frames)
        filled = ring_filled_step(m, cycle, full_tris, full_steps)
    else:
        filled = 0
    triangles = oriented_triangles(position, triangles)

    values = np.sort(u, axis=None)[::-1]
    flat_order = np.argsort(-u, axis=None, kind="stable")
    ascending = values[::-1]
    idx = np.arange(1, m + 1)
    crop = crop_vertices(u, b) if focused else None  # the map's rows/columns shown: the cycle's
    crop_labels = [str(c + 1) for c in crop] if crop is not None else []

    panels = tuple(panels)
    unknown = set(panels) - set(PANELS)
    if not panels or unknown:
        raise ValueError(f"panels must be some of {PANELS}, got {panels}")
    col = {name: k + 1 for k, name in enumerate(panels)}
    widths = {"unit": 0.3, "graph": 0.36, "betti": 0.34}
    unit_title = "U on the cycle's rows/cols" if crop is not None else "Unit U, top-v entries circled"
    titles = {"unit": unit_title, "graph": "Graph G(v)" + (" + clique complex" if triangles_shown else ""),
              "betti": "Betti curves: β0 grey, β1 blue"}
    fig = make_subplots(rows=1, cols=len(panels), column_widths=[widths[n] for n in panels], horizontal_spacing=0.09,
                        specs=[[{"secondary_y": n == "betti"} for n in panels]], subplot_titles=[titles[n] for n in panels])
    low, high = float(u.min()), float(u.max())

    def frame_traces(v: int) -> dict[str, dict]:
        threshold = values[v - 1]
        count = int(ascending.size - np.searchsorted(ascending, threshold, side="left"))
        if crop is not None:
            r_in, c_in = np.nonzero(u[np.ix_(crop, crop)] >= threshold)
            circles = {"x": [crop_labels[c] for c in c_in], "y": [crop_labels[r] for r in r_in]}
        elif count <= max_circles:
            rows, cols = np.unravel_index(flat_order[:count], u.shape)
            circles = {"x": (cols + 1).tolist(), "y": (rows + 1).tolist()}
        else:
            circles = {"x": [], "y": []}
        in_graph = steps <= v
        old = pairs[in_graph & (steps < v)]
        new = pairs[in_graph & (steps == v)]
        tris = triangles[tri_step <= v][:max_triangles] if triangles_shown else triangles[:0]
        tx, ty = _segments(position, tris, close=True)
        ox, oy = _segments(position, old)
        nx, ny = _segments(position, new)
        holes = int(bc[1, v - 1])
        if cycle and b <= v and (filled == 0 or v < filled):
            hx, hy = _segments(position, np.array([cycle]), close=True)
        else:
            hx, hy = [], []
        top = float(max(bc[0].max(initial=1), 1))
        text = (
            f"step {v} · a({v}) = {threshold:.3g} · {int(np.count_nonzero(all_edge_steps <= v))} "
            f"edges · β0 = {int(bc[0, v - 1])} · β1 = {holes}" + (" · a hole is born" if v == b else "")
        )
        return {"circles": circles, "triangles": {"x": tx, "y": ty}, "edges": {"x": ox, "y": oy},
                "new": {"x": nx, "y": ny}, "hole": {"x": hx, "y": hy}, "line": {"x": [v, v], "y": [0, top]},
                "caption": {"text": [text]}}

    per_step = [frame_traces(v) for v in range(1, n_frames + 1)]
    base = per_step[first - 1]
    animated: list[tuple[int, str]] = []  # (trace index, frame key)

    def add(trace: go.Scatter | go.Heatmap, panel: str, key: str | None = None, secondary: bool = False) -> None:
        fig.add_trace(trace, row=1, col=col[panel], secondary_y=secondary if panel == "betti" else None)
        if key is not None:
            animated.append((len(fig.data) - 1, key))

    if "unit" in col:
        add(go.Heatmap(z=u if crop is None else u[np.ix_(crop, crop)], x=idx if crop is None else crop_labels,
                       y=idx if crop is None else crop_labels, zmin=low, zmax=high if high > low else low + 1.0, colorscale=SCALE,
                       showscale=False, hovertemplate="row %{y}, col %{x}<br>U = %{z:.4g}<extra></extra>", name="unit"), "unit")
        add(go.Scatter(mode="markers", marker={"symbol": "circle-open", "size": max(4, min(22, 260 // len(crop or idx))),
                                               "color": PALETTE["accent"], "line": {"width": 2.5}},
                       name="entries ≥ a(v)", hoverinfo="skip", **base["circles"]), "unit", "circles")
    if "graph" in col:
        add(go.Scatter(mode="lines", fill="toself", fillcolor=TRIANGLE_FILL, line={"width": 0, "color": TRIANGLE_FILL},
                       hoverinfo="skip", name="triangles", **base["triangles"]), "graph", "triangles")
        add(go.Scatter(mode="lines", line={"width": 1.4, "color": PALETTE["primary"]}, hoverinfo="skip",
                       name="edges", **base["edges"]), "graph", "edges")
        add(go.Scatter(mode="lines", line={"width": 3, "color": PALETTE["accent"]}, hoverinfo="skip",
                       name="new edges", **base["new"]), "graph", "new")
        add(go.Scatter(mode="lines", line={"width": 5, "color": PALETTE["good"]}, hoverinfo="skip",
                       name="the born hole", **base["hole"]), "graph", "hole")
    if "betti" in col:
        steps_axis = np.arange(1, bc.shape[1] + 1)
        add(go.Scatter(x=steps_axis, y=bc[0], mode="lines", line={"shape": "hv", "color": PALETTE["muted"], "width": 1.5},
                       name="β0", hovertemplate="step %{x}: β0 = %{y}<extra></extra>"), "betti")
        add(go.Scatter(x=steps_axis, y=bc[1], mode="lines", line={"shape": "hv", "color": PALETTE["primary"], "width": 2.5},
                       name="β1", hovertemplate="step %{x}: β1 = %{y}<extra></extra>"), "betti", secondary=True)
        add(go.Scatter(mode="lines", line={"color": PALETTE["ink"], "width": 1.5, "dash": "dot"}, hoverinfo="skip",
                       name="step v", **base["line"]), "betti", "line")
    if "graph" in col:
        labels = [str(v + 1) for v in vertices]
        few = len(vertices) <= MAX_LABELS
        add(go.Scatter(x=position[vertices, 0], y=position[vertices, 1], mode="markers+text" if few else "markers",
                       text=labels, textfont={"size": 10, "color": "white"},
                       marker={"size": 20 if few else 13, "color": PALETTE["ink"]},
                       hovertemplate="vertex %{text}<extra></extra>", name="vertices"), "graph")
        outside = not few and bool(cycle) and all(c in index for c in cycle)
        if outside:
            # many vertices: numbers on the cycle's only, outside the ring, neighbours staggered so none overlap
            out = position[cycle] * np.where(np.arange(len(cycle)) % 2, 1.36, 1.16)[:, None]
            add(go.Scatter(x=out[:, 0], y=out[:, 1], mode="text", text=[str(c + 1) for c in cycle],
                           textfont={"size": 11, "color": PALETTE["good"]}, hoverinfo="skip", name="vertex labels"),
                "graph")
        g = col["graph"]
        fig.update_xaxes(visible=False, row=1, col=g, range=[-1.45, 1.45] if outside else [-1.3, 1.3])
        fig.update_yaxes(visible=False, row=1, col=g, range=[-1.45, 1.45] if outside else [-1.4, 1.2],
                         scaleanchor=f"x{g if g > 1 else ''}")
    if "unit" in col:
        c = col["unit"]
        kind = "category" if crop is not None else "-"
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{c if c > 1 else ''}", constrain="domain", row=1, col=c,
                         title="row i", type=kind)
        fig.update_xaxes(constrain="domain", row=1, col=c, type=kind)
    if "betti" in col:
        c = col["betti"]
        if b:
            fig.add_vline(x=b, line={"color": PALETTE["accent"], "width": 2, "dash": "dash"}, row=1, col=c,
                          annotation_text=f"birth b = {b}", annotation_position="bottom right",
                          annotation_bgcolor="rgba(255,255,255,0.85)")
        # large units: the steps around the birth, where everything happens (double-click shows every step)
        near = m >= 16 and b > 0 and max(2 * b, b + 20) < bc.shape[1]
        right = max(2 * b, b + 20) if near else bc.shape[1]
        fig.update_xaxes(row=1, col=c, range=[0.5, right + 0.5],
                         title={"text": "step v" + (f" (1..{right} of {bc.shape[1]}; double-click: all)" if near else ""),
                                "standoff": 4})
        fig.update_yaxes(rangemode="tozero", row=1, col=c, secondary_y=False, tickformat="d", title="β0 (pieces)",
                         dtick=max(1, int(np.ceil(float(bc[0].max(initial=1)) / 5))))
        fig.update_yaxes(rangemode="tozero", row=1, col=c, secondary_y=True, showgrid=False, title="β1 (holes)",
                         tickformat="d", dtick=max(1, int(np.ceil(float(bc[1].max(initial=1)) / 5))))
    jumps = [j for j in jump_steps(bc, n_frames) if j >= first] or jump_steps(bc, n_frames)
    top_margin = 90 if (focused and "graph" in col) or jumps_only else 70
    plot_px = max(120, height - top_margin - 160)  # the plot area; controls sit a fixed distance below it
    below = -48 / plot_px  # the step caption clears the axes' tick labels and titles
    def play(speed: int) -> dict:
        return {"frame": {"duration": 1000 // speed, "redraw": True}, "transition": {"duration": 0}, "fromcurrent": True,
                "mode": "immediate"}

    controls = dict(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": below - 52 / plot_px,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"r": 6, "t": 0},
                "showactive": False,
                "buttons": [
                    *({"label": f"▶ Play {speed}/s" if k == 0 else f"▶ {speed}/s", "method": "animate",
                       "args": [[str(j) for j in jumps] if jumps_only else None, play(speed)]} for k, speed in enumerate(SPEEDS)),
                    {
                        "label": "❚❚ Pause",
                        "method": "animate",
                        "args": [
                            [None],
                            {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}},
                        ],
                    },
                ],
            }
        ],
        sliders=[
            {
                "active": first - 1,
                "x": 0.0,
                "y": below,
                "len": 1.0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 0, "b": 0},
                "currentvalue": {"prefix": "", "font": {"size": 13, "color": PALETTE["ink"]}, "xanchor": "left"},
                "font": {"color": "rgba(0,0,0,0)"},
                "ticklen": 0,
                "minorticklen": 0,
                "transition": {"duration": 0},
                "steps": [
                    {
                        "label": per_step[v - 1]["caption"]["text"][0],
                        "method": "animate",
                        "args": [
                            [str(v)],
                            {"frame": {"duration": 0, "redraw": True}, "mode": "immediate", "transition": {"duration": 0}},
                        ],
                    }
                    for v in range(1, n_frames + 1)
                ],
            }
        ],
    )
    extra = f"{len(vertices)} of {m} vertices: the born cycle and its neighbours" if focused and "graph" in col else ""
    if jumps_only:
        extra += (" · " if extra else "") + "Play: births only"
    full = f"{title}<br><span style='font-size:12px'>{extra}</span>" if extra else title
    style(fig, full, height=height, showlegend=False, margin={"l": 50, "r": 20, "t": top_margin, "b": 160})
    fig.update_annotations(font_size=12)
    indices = [k for k, _ in animated]
    keys = [key for _, key in animated]  # the step's numbers are the slider's label (currentvalue), not a trace
    frames = []
    for v in range(1, n_frames + 1):
        data = per_step[v - 1]
        frames.append({"name": str(v), "traces": indices, "data": [data[key] for key in keys]})
    animation = AnimatedFigure.adopt(fig, frames, controls)
    animation._restart = {"first": first, "built": first, "jumps_only": jumps_only, "jumps": jump_steps(bc, n_frames)}
    return animation
