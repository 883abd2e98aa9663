"""featent home: choose model, data and class in the sidebar; see what you chose and where to go."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ui import cached
from ui.errors import shown_in_place
from ui.layout import page_header
from ui.selection import sidebar_selection

PAGES = Path(__file__).parent / "pages"


def page_label(path: Path) -> str:
    """'3_Layer_profiles.py' -> 'Layer profiles' (Streamlit's own sidebar naming)."""
    return path.stem.split("_", 1)[-1].replace("_", " ")


def page_summary(path: Path) -> str:
    """A page's module docstring after its 'Title:' prefix: pages added later describe themselves."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    return first.split(":", 1)[-1].strip() if ":" in first else first


page_header(
    "featent",
    "Is this CNN unit a good feature detector? featent turns each unit's activation map into a graph "
    "filtration, finds when a hole is born, and measures how stable that birth time is over images of "
    "one class: the feature entropy of Zhao & Zhang (ICLR 2022). Low entropy = a unit that sees the "
    "same pattern every time.",
)
ctx = sidebar_selection()
sel, model = ctx.selection, ctx.model

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader(f"Model `{sel.model}`")
    st.caption(f"{model.weights_source} · input {model.input_size}x{model.input_size} · {model.n_classes} outputs")
    layers = pd.DataFrame(
        {
            "layer": [i.name for i in model.layers],
            "units": [i.n_units for i in model.layers],
            "unit size m": [f"{i.unit_size} x {i.unit_size}" for i in model.layers],
            "filtration steps m²": [i.unit_size**2 for i in model.layers],
        }
    )
    st.dataframe(layers, hide_index=True, key="home_layers")
with right:
    st.subheader(f"Class '{sel.class_name}' of {ctx.dataset.name}")
    with shown_in_place():
        images, ids = cached.sample_images(sel, ctx.fingerprint)
    st.caption(f"{len(ids)} images sampled with seed {sel.seed}; the first 12:")
    shown = [np.moveaxis(img, 0, -1).clip(0, 1) for img in images[:12]]
    st.image(shown, width=64, caption=[str(i).rsplit("/", 1)[-1] for i in ids[:12]])

st.divider()
st.subheader("What each page shows")
DESCRIPTIONS = {
    "1_Unit_inspector.py": (":material/grid_on:",
        "one unit on one image: activation map, the graph and clique complex at any filtration step, "
        "Betti curves with the birth time, the persistence barcode."),
    "2_Birth_distribution.py": (":material/bar_chart:",
        "one unit over the class: the histogram of birth times with FE and selective rate, the images "
        "behind each bar, two classes or two models side by side, CSV download."),
    "3_Layer_profiles.py": (":material/stacked_line_chart:",
        "mean FE and selective rate per layer for the model and its random init over classes, per-unit "
        "scatter, a units x classes heatmap, a sortable table with CSV export."),
    "9_How_it_works.py": (":material/school:",
        "the method step by step on a small unit you can edit, with a play button."),
}
for path in sorted(PAGES.glob("*.py")):
    icon, text = DESCRIPTIONS.get(path.name, (":material/article:", page_summary(path)))
    c1, c2 = st.columns([1.5, 4])
    c1.page_link(f"pages/{path.name}", label=page_label(path), icon=icon)
    c2.markdown(text)

st.divider()
st.subheader("Result cache")
problem = cached.store_problem()
if problem is not None:
    st.warning(f"Results are computed but not kept on disk: {problem}", icon=":material/warning:")
else:
    with shown_in_place(stop=False):
        stats = cached.store().stats()
        st.caption(
            f"Birth times are computed once per (weights, data, class, layer, images, seed) and kept on disk, so "
            f"coming back to a selection is instant. Folder `{stats['directory']}` · {stats['entries']} entries · "
            f"{stats['bytes'] / 1e6:.1f} MB."
        )
        if st.button("Clear cache", icon=":material/delete:", key="home_clear"):
            cached.clear_all()
            st.toast("Cache cleared.")
            st.rerun()
