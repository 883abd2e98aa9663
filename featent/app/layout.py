"""Page chrome shared by every page: config, title, short description, CSV export, session memo,
charts with PNG export, image captions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from featent.app.navigation import tab_icon
from featent.plots.export import to_png

FIGURES = "_page_figures"
#: Compact chrome so a page's story fits a 1280x720 screen: less padding above the title, a smaller title.
COMPACT_CSS = """<style>
[data-testid="stMainBlockContainer"] {padding-top: 3.6rem; padding-bottom: 2rem;}
[data-testid="stMainBlockContainer"] h1 {font-size: 2rem; padding-top: 0; padding-bottom: 0.25rem;}
</style>"""


def page_header(title: str, description: str, *, icon: str = ":material/hub:") -> None:
    """Wide layout and a consistent heading; must be the first Streamlit call of a page.

    ``icon`` is the page's icon in the navigation; the browser tab shows
    :func:`featent.app.navigation.tab_icon`."""
    st.set_page_config(page_title=f"{title} · featent", page_icon=tab_icon(), layout="wide")
    st.session_state[FIGURES] = {}  # this run's figures, offered as PNG downloads
    st.html(COMPACT_CSS)
    st.title(title)
    st.caption(description)


def csv_download(frame: pd.DataFrame, name: str, key: str) -> None:
    """A 'Download NAME (CSV)' button for a table."""
    st.download_button(f"Download {name} (CSV)", frame.to_csv(index=False), file_name=f"{name.replace(' ', '_')}.csv",
                       mime="text/csv", icon=":material/download:", key=key)


def session_memo(namespace: str, key: tuple, compute: Callable[[], Any], keep: int = 12) -> Any:
    """This session's results keyed by every argument: a few entries (births are on disk anyway)."""
    memo = st.session_state.setdefault(namespace, {})
    if key not in memo:
        if len(memo) > keep:
            memo.pop(next(iter(memo)))
        memo[key] = compute()
    return memo[key]


def image_captions(indices: Iterable[int], ids: Sequence[str]) -> list[str]:
    """One caption style for every thumbnail of a sampled image: '#index · file name'."""
    return [f"#{int(i)} · {str(ids[int(i)]).rsplit('/', 1)[-1]}" for i in indices]


def chart(fig: go.Figure, key: str, *, where=None, name: str | None = None, **kwargs: Any):
    """st.plotly_chart with a named PNG camera button, the figure kept for 'Download figure (PNG)'."""
    where = where or st
    filename = (name or key).replace(" ", "_").replace("/", "_")
    config = {"toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}, "displaylogo": False}
    st.session_state.setdefault(FIGURES, {})[name or key] = fig
    return where.plotly_chart(fig, key=key, config=config, **kwargs)


def figure_downloads(where=None) -> None:
    """A sidebar control that renders any figure of the page as PNG on the server (kaleido + chromium).

    The PNG is made only when the button is pressed (deferred data), from the figure as last drawn; an
    entry may also be a function that builds the figure (a figure the page does not draw itself).
    """
    figures: dict[str, go.Figure | Callable[[], go.Figure]] = st.session_state.get(FIGURES, {})
    if not figures:
        return
    where = where or st.sidebar
    with where.popover("Download figure (PNG)", icon=":material/image:", width="stretch"):
        name = st.selectbox("Figure", list(figures), key="_png_pick")
        if name is None:  # only with no options, and there is at least one figure
            return

        def render(name: str = name, figures: dict = figures) -> bytes:
            figure = figures[name]
            return to_png(figure if isinstance(figure, go.Figure) else figure())

        st.download_button("Download PNG", render, file_name=f"{name.replace(' ', '_')}.png", mime="image/png",
                           icon=":material/download:", key="_png_download")
