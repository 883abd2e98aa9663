"""Figures for ablation, pruning and unit roles: pure functions from results to ``go.Figure``.

Kept apart from ``featent.plots.unit`` (the method's own views) but drawn with its palette and layout
helper, so the page looks like the rest of the app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from featent.experiments.ablation import SummaryRow
from featent.experiments.masking import AblationCurve
from featent.experiments.pruning import PruneRow
from featent.experiments.roles import ROLE_LABELS, ROLES, RoleTable
from featent.indicators import RANDOM, REGISTRY
from featent.indicators.registry import order_label, parse_order
from featent.plots.style import PALETTE, SERIES
from featent.plots.style import style as _layout

__all__ = ["ablation_curves", "summary_bars", "pruning_bars", "roles_scatter", "ORDER_COLOURS", "ROLE_COLOURS"]

#: The paper's ranking: drawn with the accent (its red line), thicker, dashed when most effective first.
PAPER = "h_over_eps"
_OTHERS = (SERIES[0], *SERIES[2:])  # SERIES[1] is too close to the accent
#: One colour per ranking indicator (the paper's gets the accent), and the random order's.
ORDER_COLOURS: dict[str, str] = {
    **{i.key: _OTHERS[k % len(_OTHERS)] for k, i in enumerate(i for i in REGISTRY.ranking() if i.key != PAPER)},
    PAPER: PALETTE["accent"], RANDOM: PALETTE["muted"],
}
ROLE_COLOURS = {"both": PALETTE["good"], "train-only": SERIES[4], "test-only": SERIES[5], "neither": PALETTE["muted"]}


def _order_style(order: str) -> dict:
    key, direction = parse_order(order)
    paper = key == PAPER
    reversed_paper = paper and direction != REGISTRY[PAPER].least_important_first
    colour = PALETTE["ink"] if reversed_paper else ORDER_COLOURS.get(key, PALETTE["ink"])
    return {"color": colour, "width": 2.6 if paper else 1.6, "dash": "dash" if reversed_paper else "solid"}


def ablation_curves(curves: Mapping[str, AblationCurve], title: str = "Cumulative unit ablation",
                    metric: str = "accuracy") -> go.Figure:
    """Accuracy (or balanced accuracy) on top and loss below vs units removed, one line per order."""
    if metric not in ("accuracy", "balanced_accuracy", "overall_accuracy"):
        raise ValueError(f"Unknown metric {metric!r}.")
    names = {"accuracy": "Class accuracy", "balanced_accuracy": "Balanced accuracy", "overall_accuracy": "Overall accuracy"}
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=(names[metric], "Loss on the class's test images"))
    for order, curve in curves.items():
        x = np.arange(len(curve.accuracy))
        unit = ["none"] + [str(int(u)) for u in curve.removed]
        style = _order_style(order)
        for row, values, label in ((1, getattr(curve, metric), names[metric]), (2, curve.loss, "loss")):
            fig.add_trace(
                go.Scatter(
                    x=x, y=values, mode="lines", name=order_label(order), legendgroup=order, showlegend=row == 1,
                    line=style, customdata=unit,
                    hovertemplate=f"{order}<br>%{{x}} removed (last: unit %{{customdata}})<br>{label} %{{y:.3f}}<extra></extra>",
                ),
                row=row, col=1,
            )
    fig.update_xaxes(title_text="units removed", row=2, col=1)
    fig.update_yaxes(range=[-0.02, 1.02], row=1, col=1)
    _layout(fig, title, height=620)
    fig.update_layout(legend={"orientation": "h", "y": -0.12, "x": 0.0, "xanchor": "left", "yanchor": "top"})
    return fig


def summary_bars(rows: Sequence[SummaryRow], title: str = "Balanced accuracy before and after ablation (Table 11)") -> go.Figure:
    """Grouped bars: unchanged vs best-ablated balanced accuracy per method."""
    labels = [r.method for r in rows]
    fig = go.Figure([
        go.Bar(x=labels, y=[r.unchanged for r in rows], name="Unchanged network", marker_color=PALETTE["muted"],
               hovertemplate="%{x}<br>unchanged %{y:.3f}<extra></extra>"),
        go.Bar(x=labels, y=[r.ablated for r in rows], name="Ablated network", marker_color=PALETTE["primary"],
               customdata=[r.enhanced for r in rows],
               hovertemplate="%{x}<br>ablated %{y:.3f} (gain %{customdata:+.3f})<extra></extra>"),
    ])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="balanced accuracy", range=[0, 1.05])
    return _layout(fig, title, height=380)


def pruning_bars(rows: Sequence[PruneRow], title: str = "Accuracy after pruning and fine-tuning (Table 12)") -> go.Figure:
    """Test accuracy of the unpruned net and of each method, before and after fine-tuning."""
    labels = [r.label for r in rows]
    fig = go.Figure(
        [
            go.Bar(
                x=labels,
                y=[r.accuracy_pruned if r.accuracy_pruned is not None else r.accuracy for r in rows],
                name="pruned, before fine-tuning",
                marker_color=PALETTE["light"],
                hovertemplate="%{x}<br>before fine-tuning %{y:.3f}<extra></extra>",
            ),
            go.Bar(
                x=labels,
                y=[r.accuracy for r in rows],
                name="after fine-tuning",
                marker_color=[
                    PALETTE["muted"]
                    if r.method == "unpruned"
                    else (PALETTE["accent"] if r.method == PAPER else PALETTE["primary"])
                    for r in rows
                ],
                customdata=np.stack([[r.parameters for r in rows], [r.flops / 1e6 for r in rows]], axis=1),
                hovertemplate=(
                    "%{x}<br>accuracy %{y:.3f}<br>%{customdata[0]:,} params, %{customdata[1]:.2f} MFLOPs<extra></extra>"
                ),
            ),
        ]
    )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.05])
    return _layout(fig, title, height=380)


def roles_scatter(table: RoleTable, title: str | None = None) -> go.Figure:
    """FE on training vs test images per unit, coloured by role, with the two thresholds drawn."""
    fig = go.Figure()
    units = np.arange(table.fe_train.size)
    for role in ROLES:
        pick = table.roles == role
        fig.add_trace(go.Scatter(
            x=table.fe_train[pick], y=table.fe_test[pick], mode="markers", name=f"{ROLE_LABELS[role]} ({int(pick.sum())})",
            marker={"color": ROLE_COLOURS[role], "size": 9, "line": {"width": 1, "color": "white"}},
            customdata=units[pick], hovertemplate="unit %{customdata}<br>FE train %{x:.3f}, test %{y:.3f}<extra></extra>",
        ))
    fig.add_vline(x=table.train_threshold, line={"color": PALETTE["ink"], "dash": "dot", "width": 1},
                  annotation_text=f"train threshold {table.train_threshold:.3f}", annotation_position="top right")
    fig.add_hline(y=table.test_threshold, line={"color": PALETTE["ink"], "dash": "dot", "width": 1},
                  annotation_text=f"test threshold {table.test_threshold:.3f}", annotation_position="bottom right")
    fig.update_xaxes(title_text="feature entropy on training images")
    fig.update_yaxes(title_text="feature entropy on test images")
    _layout(fig, title or f"{table.layer}, class '{table.class_name}': unit roles", height=480)
    fig.update_layout(legend={"orientation": "h", "y": -0.18, "x": 0.0, "xanchor": "left", "yanchor": "top"})
    return fig
