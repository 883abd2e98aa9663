"""featent app entry point: one navigation (a named Home and every page under pages/), then the page.

Why a router instead of Streamlit's automatic pages/ listing: the first entry gets a real name
("Home", not "app"), pages are grouped by what a user wants to do, and a page added later (the
model atlas) appears as soon as its file exists.
"""

from __future__ import annotations

import streamlit as st

from ui.navigation import pages

st.navigation(pages(), position="sidebar").run()
