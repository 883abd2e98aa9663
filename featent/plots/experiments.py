"""Plotly figures for the paper's experiments: indicators, rescaling, randomness, training
dynamics, model sets and the layer trend. Pure functions from rows/arrays to ``go.Figure``.

Why separate from ``featent.plots.unit``: that module draws the method itself; this one draws the
experiments built on it. Both share the palette and layout helper of ``featent.plots.unit`` so the
pages look like one product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from featent.indicators import INDICATOR_LABELS, REGISTRY
from featent.plots.style import PALETTE, SCALE, SERIES
from featent.plots.style import style as _layout

__all__ = [
    "indicator_grid",
    "rescale_figure",
    "randomness_figure",
    "dynamics_figure",
    "model_set_scatter",
    "layer_trend_figure",
]

#: Indicators compared with FE in the grid, in the paper's order: every indicator of the registry
#: except FE itself, its ranking form and the max-class variant of class selectivity.
COMPARED = tuple(i.key for i in REGISTRY if i.key not in ("feature_entropy", "h_over_eps", "class_selectivity_max"))
#: The ones the rescaling and randomness figures show, FE last.
EXPERIMENT_INDICATORS = (*(k for k in COMPARED if k != "selective_rate"), "feature_entropy")


def _label(name: str) -> str:
    return INDICATOR_LABELS.get(name, name)


def indicator_grid(
    values: Mapping[str, np.ndarray], indicators: Sequence[str] | None = None, highlight: int | None = None,
    title: str = "Feature entropy vs the other indicators, per unit", y: str = "feature_entropy",
) -> go.Figure:
    """Small multiples: FE (or another indicator ``y``, e.g. the conditional FE ``conditional_fe``) against
    each indicator (x), one point per unit, colour = selective rate.

    ``indicators`` default to COMPARED, and FE first when ``y`` is another; ``highlight`` marks one
    unit in every panel; ``y`` itself gets no panel. Units without a finite ``y`` (the conditional FE
    of a silent unit is +inf) are left out of the panels.
    """
    if indicators is None:
        indicators = COMPARED if y == "feature_entropy" else ("feature_entropy", *COMPARED)
    indicators = [name for name in indicators if name != y]
    y_label = "FE" if y == "feature_entropy" else _label(y)
    fe = np.asarray(values[y], dtype=np.float64)
    fe = np.where(np.isfinite(fe), fe, np.nan)
    rate = np.asarray(values["selective_rate"], dtype=np.float64)
    units = np.arange(fe.size)
    cols = 3
    rows = int(np.ceil(len(indicators) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[_label(n) for n in indicators],
                        horizontal_spacing=0.07, vertical_spacing=0.16)
    for k, name in enumerate(indicators):
        r, c = k // cols + 1, k % cols + 1
        x = np.asarray(values[name], dtype=np.float64)
        fig.add_trace(go.Scatter(
            x=x, y=fe, mode="markers", customdata=np.column_stack([units, rate]), showlegend=False,
            marker={"size": 7, "color": rate, "colorscale": SCALE, "cmin": 0, "cmax": 1,
                    "colorbar": {"title": {"text": "ε"}, "thickness": 10} if k == 0 else None,
                    "showscale": k == 0, "line": {"width": 0.4, "color": "white"}},
            hovertemplate=f"unit %{{customdata[0]}}<br>{_label(name)} = %{{x:.4g}}<br>{y_label} = %{{y:.3f}}"
                          "<br>ε = %{customdata[1]:.2f}<extra></extra>",
            name=_label(name),
        ), row=r, col=c)
        if highlight is not None and 0 <= highlight < fe.size:
            fig.add_trace(go.Scatter(
                x=[x[highlight]], y=[fe[highlight]], mode="markers", showlegend=False, name=f"unit {highlight}",
                marker={"size": 13, "symbol": "circle-open", "color": PALETTE["accent"], "line": {"width": 2.5}},
                hovertemplate=f"unit {highlight}<extra></extra>",
            ), row=r, col=c)
        fig.update_yaxes(title=y_label if c == 1 else None, row=r, col=c)
    _layout(fig, title, height=300 * rows + 60)
    return fig.update_layout(margin={"t": 85})  # room for the title above the panel titles


def rescale_figure(rows: Sequence[Mapping], indicators: Sequence[str] = ("accuracy", *EXPERIMENT_INDICATORS),
                   title: str = "Rescaling: each indicator relative to the unchanged network") -> go.Figure:
    """Grouped bars of value / unchanged value per indicator, one bar per condition (Table 1, 9).

    A robust indicator stays at 1 under every condition; a magnitude-based one drops to 0.5.
    """
    if not rows:
        raise ValueError("rescale_figure needs at least the unchanged row")
    base = rows[0]
    fig = go.Figure()
    for k, row in enumerate(rows):
        ratios, texts = [], []
        for name in indicators:
            b, v = base.get(name), row.get(name)
            if b is not None and v is not None and np.isfinite(b) and np.isfinite(v) and b != 0:
                ratios.append(v / b)
            else:
                ratios.append(None)
            texts.append(f"{v:.4g}" if v is not None and np.isfinite(v) else "n/a")
        label = f"images x{row['images']:g}, filters x{row['filters']:g}"
        fig.add_trace(go.Bar(
            x=[_label(n) for n in indicators], y=ratios, name=label, marker_color=SERIES[k % len(SERIES)],
            customdata=texts, hovertemplate=f"{label}<br>%{{x}}: %{{customdata}} (x%{{y:.3f}})<extra></extra>",
        ))
    fig.add_hline(y=1.0, line={"color": PALETTE["muted"], "dash": "dot", "width": 1})
    fig.add_hline(y=0.5, line={"color": PALETTE["accent"], "dash": "dot", "width": 1},
                  annotation_text="half", annotation_position="top left")
    fig.update_yaxes(title="value / unchanged value", rangemode="tozero")
    return _layout(fig, title, height=380, barmode="group")


def randomness_figure(
    trained: Mapping[str, float], random: Mapping[str, np.ndarray], indicators: Sequence[str] = EXPERIMENT_INDICATORS,
    title: str = "Trained unit (diamond) vs the same unit in random-init models (box)",
) -> go.Figure:
    """One panel per indicator: the K random-init values as a box with points, the trained value
    as a diamond (Table 2, 10)."""
    cols = 3
    rows = int(np.ceil(len(indicators) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[_label(n) for n in indicators],
                        horizontal_spacing=0.08, vertical_spacing=0.18)
    for k, name in enumerate(indicators):
        r, c = k // cols + 1, k % cols + 1
        values = np.asarray(random[name], dtype=np.float64)
        values = values[np.isfinite(values)]
        fig.add_trace(go.Box(y=values, name="random init", boxpoints="all", jitter=0.4, pointpos=0,
                             marker={"color": PALETTE["muted"], "size": 5}, line={"color": PALETTE["muted"]},
                             showlegend=k == 0, legendgroup="random",
                             hovertemplate=f"random init<br>{_label(name)} = %{{y:.4g}}<extra></extra>"), row=r, col=c)
        t = trained[name]
        fig.add_trace(go.Scatter(x=["random init"], y=[t if t is not None and np.isfinite(t) else None], mode="markers",
                                 name="trained", showlegend=k == 0, legendgroup="trained",
                                 marker={"symbol": "diamond", "size": 14, "color": PALETTE["accent"],
                                         "line": {"width": 1, "color": "white"}},
                                 hovertemplate=f"trained<br>{_label(name)} = %{{y:.4g}}<extra></extra>"), row=r, col=c)
        fig.update_xaxes(showticklabels=False, row=r, col=c)
    _layout(fig, title, height=300 * rows + 100,
            legend={"orientation": "h", "yanchor": "top", "y": -0.08, "xanchor": "left", "x": 0.0})
    return fig.update_layout(margin={"t": 85, "b": 70})  # legend below the panels, never over a panel title


def _nice_step(span: float) -> float:
    """A round tick step (0.05, 0.1, 0.2, 0.25, 0.5, 1, ...) giving about five ticks over ``span``."""
    raw = max(float(span), 1e-9) / 5
    magnitude = 10 ** np.floor(np.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def dynamics_figure(rows: Sequence[Mapping], per_class: Sequence[Mapping] = (),
                    title: str = "Training loss and feature entropy over epochs") -> go.Figure:
    """Fig. 5B: training loss (left axis) and mean FE of the layer (right axis) per epoch; thin
    lines for individual classes when ``per_class`` rows are given."""
    epochs = [r["epoch"] for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=epochs, y=[r["loss"] for r in rows], name="training loss", mode="lines+markers",
                             line={"color": PALETTE["ink"], "width": 2}, marker={"size": 7},
                             hovertemplate="epoch %{x}<br>loss %{y:.3f}<extra></extra>"), secondary_y=False)
    classes = list(dict.fromkeys(r["class_name"] for r in per_class))
    for k, name in enumerate(classes):
        part = [r for r in per_class if r["class_name"] == name]
        fig.add_trace(go.Scatter(x=[r["epoch"] for r in part], y=[r["mean_feature_entropy"] for r in part],
                                 name=f"FE class {name}", mode="lines", legendgroup="classes",
                                 line={"color": SERIES[(k + 1) % len(SERIES)], "width": 1}, opacity=0.45,
                                 hovertemplate=f"class {name}<br>epoch %{{x}}<br>FE %{{y:.3f}}<extra></extra>"),
                      secondary_y=True)
    label = "mean FE over classes" if len(classes) > 1 else "FE"
    fig.add_trace(go.Scatter(x=epochs, y=[r["mean_feature_entropy"] for r in rows], name=label, mode="lines+markers",
                             line={"color": PALETTE["primary"], "width": 3}, marker={"size": 8},
                             hovertemplate="epoch %{x}<br>FE %{y:.3f}<extra></extra>"), secondary_y=True)
    fig.update_xaxes(title="epoch", tickformat="d")
    fig.update_yaxes(title="training loss", rangemode="tozero", secondary_y=False)
    fe_values = [r["mean_feature_entropy"] for r in rows] + [r["mean_feature_entropy"] for r in per_class]
    span = (max(fe_values) - min(fe_values)) if fe_values else 1.0
    fig.update_yaxes(title="feature entropy (nats)", secondary_y=True, showgrid=False, tickformat=".1f" if span >= 0.5 else ".2f",
                     dtick=_nice_step(span))
    return _layout(fig, title, height=400)


def model_set_scatter(
    rows: Sequence[Mapping], title: str = "Last conv layer: FE vs selective rate, one point per class"
) -> go.Figure:
    """Fig. 6(3): each (model, class) as a point (mean selective rate, mean FE), one colour per model."""
    fig = go.Figure()
    for k, model in enumerate(dict.fromkeys(r["model"] for r in rows)):
        part = [r for r in rows if r["model"] == model]
        fig.add_trace(go.Scatter(
            x=[r["mean_selective_rate"] for r in part], y=[r["mean_feature_entropy"] for r in part],
            mode="markers", name=str(model), customdata=[r["class_name"] for r in part],
            marker={"size": 10, "color": SERIES[k % len(SERIES)], "line": {"width": 0.5, "color": "white"}},
            hovertemplate=f"{model}<br>class %{{customdata}}<br>ε = %{{x:.3f}}<br>FE = %{{y:.3f}}<extra></extra>",
        ))
    fig.update_xaxes(title="mean selective rate ε")
    fig.update_yaxes(title="mean feature entropy (nats)")
    return _layout(fig, title, height=420)


def layer_trend_figure(rows: Sequence[Mapping], value: str = "mean_feature_entropy",
                       title: str = "Layer trend: trained vs random init") -> go.Figure:
    """Fig. 5A / 9: per-layer mean of ``value`` for the trained model and the random-init models
    (mean over seeds and classes, band = one standard deviation)."""
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    fig = go.Figure()
    colours = {"trained": PALETTE["primary"], "random init": PALETTE["accent"]}
    for group in ("random init", "trained"):
        part = [r for r in rows if r["group"] == group]
        if not part:
            continue
        means = [float(np.mean([r[value] for r in part if r["layer"] == layer])) for layer in layers]
        sds = [float(np.std([r[value] for r in part if r["layer"] == layer])) for layer in layers]
        colour = colours[group]
        if group == "random init":
            upper = [m + s for m, s in zip(means, sds)]
            lower = [m - s for m, s in zip(means, sds)]
            fig.add_trace(
                go.Scatter(
                    x=layers + layers[::-1],
                    y=upper + lower[::-1],
                    fill="toself",
                    showlegend=False,
                    mode="lines",
                    fillcolor="rgba(213, 94, 0, 0.15)",
                    line={"width": 0},
                    hoverinfo="skip",
                    name="random ± sd",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=layers,
                y=means,
                name=group,
                mode="lines+markers",
                line={"color": colour, "width": 2.5},
                marker={"size": 8},
                customdata=sds,
                hovertemplate=f"{group}<br>%{{x}}: %{{y:.3f}} ± %{{customdata:.3f}}<extra></extra>",
            )
        )
    fig.update_xaxes(categoryorder="array", categoryarray=layers, tickangle=-30)
    fig.update_yaxes(title="mean FE (nats)" if value == "mean_feature_entropy" else "mean selective rate")
    return _layout(fig, title, height=380)
