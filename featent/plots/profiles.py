"""Figures of a layer and a model: FE and ε per layer (with the silent and null baselines), FE
against ε per unit, and FE per unit and class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from featent.core import entropy
from featent.plots.style import PALETTE, SCALE, SERIES, style

PROFILE_COLUMNS = ("model", "layer", "class_name", "mean_feature_entropy", "mean_selective_rate")
#: Optional baseline columns of a profile table, drawn when present: (column, label, dash, panel).
BASELINE_COLUMNS = (
    ("mean_live_feature_entropy", "live FE (ε ≥ p)", "dash", 1),
    ("mean_null_feature_entropy", "null FE (entries shuffled)", "dot", 1),
    ("mean_live_conditional_feature_entropy", "live conditional FE H(x | born)", "dashdot", 1),
    ("silent_share", "silent share (ε < p)", "longdashdot", 2),
)
#: Hover text and legend name of a layer whose maps are too small to hold a hole (m < 4).
TOO_SMALL = "too small for a hole"


def too_small(value: object) -> bool:
    """True for a ``hole_possible`` cell that says no (False, "False", 0); unknown (None/NaN) is not too small."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return str(value).strip().lower() in ("false", "0", "0.0")


def layer_profile(table: pd.DataFrame, title: str = "Layer profile") -> go.Figure:
    """Mean FE and selective rate per layer (paper Fig. 5A), one colour per model.

    ``table`` is long-form with PROFILE_COLUMNS, one row per (model, layer, class). Points are the
    mean over classes (Eq. 15); error bars are the standard deviation over classes (0 for one).
    Layers keep their order of first appearance. When the table has the baseline columns
    (BASELINE_COLUMNS), each is drawn in the model's colour with its own dash beside FE / ε, so a
    fall of FE that only silence explains is visible as a flat live FE and a rising silent share.
    Layers whose ``hole_possible`` is false (maps under 4×4: every unit has FE = ln|Ω| by
    construction, and ε = 0) get no value, which would read as a finding: the lines break there and a
    grey cross at the foot of each panel says "too small for a hole".
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
        small = ([layer for layer in order if too_small(part.loc[part["layer"] == layer, "hole_possible"].iloc[0])]
                 if "hole_possible" in part.columns else [])
        for column, label, dash, col in series:
            agg = grouped[column].agg(["mean", "std"]).reindex(order).fillna({"std": 0.0})
            if small:
                agg.loc[small, ["mean", "std"]] = np.nan
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
        for col in (1, 2) if small else ():
            fig.add_trace(
                go.Scatter(
                    x=small, y=[0.0] * len(small), mode="markers", name=f"{model} · {TOO_SMALL}",
                    legendgroup=str(model), showlegend=col == 1,
                    marker={"symbol": "x-thin-open", "size": 12, "color": PALETTE["muted"], "line": {"width": 2}},
                    hovertemplate=f"{model}<br>%{{x}}: {TOO_SMALL} (maps under 4×4), no value shown<extra></extra>",
                ),
                row=1, col=col,
            )
    fig.update_xaxes(categoryorder="array", categoryarray=layers, tickangle=-30 if len(layers) <= 8 else -70,
                     automargin=True, tickfont={"size": 11 if len(layers) <= 12 else 9})
    fig.update_yaxes(title="FE (nats)", row=1, col=1)
    fig.update_yaxes(title="share of units / images", range=[0, 1.05], row=1, col=2)
    many = len(layers) > 8  # long rotated layer names: the legend goes under them, not over them
    style(fig, title, height=440 + (120 if many else 0))
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.55 if many else -0.3, "xanchor": "left",
                              "x": 0.0}, margin={"b": 230 if many else 110})
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
    return style(fig, title, showlegend=True,
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
    return style(fig, title, height=max(300, min(900, 120 + 6 * z.shape[0])))
