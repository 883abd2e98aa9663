"""Page chrome shared by every page: config, title, short description, CSV export, session memo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st


def page_header(title: str, description: str, *, icon: str = ":material/hub:") -> None:
    """Wide layout and a consistent heading; must be the first Streamlit call of a page."""
    st.set_page_config(page_title=f"{title} · featent", page_icon=icon, layout="wide")
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
