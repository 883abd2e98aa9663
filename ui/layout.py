"""Page chrome shared by every page: config, title, short description."""

from __future__ import annotations

import streamlit as st


def page_header(title: str, description: str, *, icon: str = ":material/hub:") -> None:
    """Wide layout and a consistent heading; must be the first Streamlit call of a page."""
    st.set_page_config(page_title=f"{title} · featent", page_icon=icon, layout="wide")
    st.title(title)
    st.caption(description)
