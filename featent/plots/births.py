"""Figures of a unit's birth times over a class: the histogram with its 'no birth' bar, compared
side by side for two classes or models, and the FE / ε summary printed under them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from featent.core import entropy
from featent.plots.style import PALETTE, SERIES, style


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


def fe_parts(
    births: np.ndarray,
    null_births: np.ndarray | None = None,
    size_reference: float | None = None,
    size_reference_conditional: float | None = None,
    p: float = entropy.DEFAULT_P,
) -> list[dict[str, object]]:
    """What one unit's FE is made of, as table rows (part, value, reading): frequency ε, silence
    (Eq. 12), size (the iid reference at this m) and stability (conditional FE H(x | born), its null
    and the gap). For ε >= p, FE = ε·H(x | born) − ε ln ε, and the rows say how much each term gives."""
    b = np.asarray(births).reshape(-1)
    fe = float(entropy.feature_entropy(b, p=p))
    eps = float(entropy.selective_rate(b))
    cond = float(entropy.conditional_feature_entropy(b))
    born = int(np.count_nonzero(b > 0))
    silent = eps < p
    fmt = lambda v: "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"  # noqa: E731
    rows: list[dict[str, object]] = [
        {"part": "FE H", "value": fmt(fe), "reading": "Eq. 11 over all |Ω| images" + (", replaced by Eq. 12" if silent else "")},
        {"part": "frequency ε", "value": f"{eps:.2f}",
         "reading": f"{born} of {b.size} images give a birth"
         + ("" if silent else f"; −ε ln ε = {fmt(-eps * np.log(eps))} of FE")},
        {"part": "silence (Eq. 12)", "value": "silent" if silent else "live",
         "reading": f"ε < p = {p:g}: FE = (1 − ε) ln|Ω|, whatever the births" if silent
         else f"ε ≥ p = {p:g}: FE = ε·H(x | born) − ε ln ε"},
        {"part": "stability H(x | born)", "value": fmt(cond),
         "reading": "undefined: no birth" if born == 0 else (
             (f"only {born} births: says little; " if born < entropy.MIN_BORN_IMAGES else "")
             + (f"ε·H(x | born) = {fmt(eps * cond)} of FE" if not silent else "entropy of the birth step given a birth"))},
    ]
    if null_births is not None:
        null_cond = float(entropy.conditional_feature_entropy(np.asarray(null_births).reshape(-1)))
        rows.append({"part": "null H(x | born)", "value": fmt(null_cond),
                     "reading": "the same maps, entries shuffled; stability gap (null − actual) "
                                f"{fmt(null_cond - cond) if np.isfinite(null_cond) and np.isfinite(cond) else 'n/a'}"})
    if size_reference is not None:
        rows.append({"part": "size reference", "value": fmt(size_reference),
                     "reading": f"FE of iid uniform units of this size over the same |Ω|; their H(x | born) "
                                f"{fmt(size_reference_conditional)}"})
    return rows


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
    style(fig, title + "<br><sup>" + _summary_text(s) + "</sup>", clickmode="event+select", showlegend=False,
            margin={"l": 55, "r": 20, "t": 95, "b": 45})
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
        f"<br>|Ω| = {s['n_images']}, no birth: {s['no_birth']}"
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
        fig.add_trace(
            go.Bar(
                x=[NO_BIRTH],
                y=[s["no_birth"] / max(1, b.size)],
                marker={"color": colour, "pattern": {"shape": "/"}},
                name=legend,
                legendgroup=label,
                showlegend=False,
                hovertemplate=f"{label}<br>no birth: %{{y:.3f}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(go.Bar(x=xs, y=probs, name=legend, legendgroup=label, marker={"color": colour},
                             hovertemplate=f"{label}<br>birth step %{{x}}<br>P = %{{y:.3f}}<extra></extra>"), row=1, col=2)
    steps = np.concatenate(all_steps) if all_steps else np.array([])
    fig.update_xaxes(type="category", row=1, col=1)
    fig.update_xaxes(title="birth time b (step)", row=1, col=2, **_step_ticks(steps))
    fig.update_yaxes(title="share of |Ω| images", rangemode="tozero", row=1, col=1)
    style(fig, title, barmode="group", height=400,
            legend={"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "left", "x": 0.0},
            margin={"l": 55, "r": 20, "t": 55, "b": 90})
    return fig


# --------------------------------------------------------------------------- layers and units
