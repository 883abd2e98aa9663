"""featent's one look for every figure: palette, colour scales, template and ``style``."""

from __future__ import annotations

import plotly.graph_objects as go

#: One palette for the whole app (colour-blind friendly, after Okabe-Ito).
PALETTE = {
    "primary": "#1f5fa8",
    "accent": "#d55e00",
    "good": "#009e73",
    "muted": "#8a94a6",
    "light": "#dbe4f0",
    "ink": "#1c2430",
}
#: Series colours, in order, for models/classes compared in one figure.
SERIES = ["#1f5fa8", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#6b4c9a", "#8a94a6"]
#: Continuous scale for activations and entropies.
SCALE = "Viridis"
#: Binary scale for adjacency matrices: absent -> light, present -> primary.
BINARY_SCALE = [[0.0, "#f4f6fa"], [0.5, "#f4f6fa"], [0.5, PALETTE["primary"]], [1.0, PALETTE["primary"]]]
TRIANGLE_FILL = "rgba(31, 95, 168, 0.18)"

_AXIS = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "zerolinewidth": 2,
         "ticks": "", "automargin": True, "title": {"standoff": 12}}
#: A light template with only what the figures use. plotly's "plotly_white" carries defaults for
#: every trace type and is deep-copied into each figure, which tripled the build time of a
#: figure (and the app re-builds several on every slider move).
TEMPLATE = go.layout.Template(
    layout={"paper_bgcolor": "white", "plot_bgcolor": "white", "xaxis": _AXIS, "yaxis": _AXIS,
            "colorway": SERIES, "hovermode": "closest", "font": {"color": PALETTE["ink"]}}
)


def style(fig: go.Figure, title: str, *, height: int = 360, **layout) -> go.Figure:
    """The shared look (white template, left-aligned title, compact margins, top-right legend).

    Any layout keyword (``legend=...``, ``margin=...``) overrides the default of the same name, so
    figure builders elsewhere (experiment and ablation plots) can reuse the look.
    """
    settings = {
        "template": TEMPLATE,
        "title": {"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        "height": height,
        "margin": {"l": 55, "r": 20, "t": 55, "b": 45},
        "font": {"color": PALETTE["ink"]},
        "hoverlabel": {"font_size": 12},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    }
    settings.update(layout)
    fig.update_layout(**settings)
    return fig

