"""Home: choose model, data and class in the sidebar; see what you chose and where to go.

The first page a visitor sees, drawn in two passes: its title, text and page list first (this module
imports neither torch nor numba), then, once the selection's model and data are loaded, the model,
the class's images and the result cache into the places kept for them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from featent.app import mode
from featent.app.errors import shown_in_place
from featent.app.layout import image_captions, page_header
from featent.app.navigation import HOME, PAGES, st_page
from featent.app.warmup import import_page_modules


def render() -> None:
    page_header(
        "featent",
        "Is this CNN unit a good feature detector? featent turns each unit's activation map into a graph "
        "filtration, finds when a hole is born, and measures how stable that birth time is over images of "
        "one class: the feature entropy of Zhao & Zhang (ICLR 2022). Low entropy = a unit that sees the "
        "same pattern every time.",
    )
    top = st.empty()  # the selection: replaced once the model and data are loaded
    top.caption(":material/hourglass_top: Loading the model and the data…")

    st.divider()
    st.subheader("What each page shows")
    for info in (i for i in PAGES if i is not HOME):
        c1, c2 = st.columns([1.5, 4])
        c1.page_link(st_page(info), label=info.title, icon=info.icon)
        c2.markdown(info.summary)

    st.divider()
    st.subheader("Result cache")
    cache_slot = st.container()

    # deferred: these import torch and the birth kernel, which the page above does not need
    import_page_modules()
    from featent.app import cached
    from featent.app.selection import sidebar_selection

    ctx = sidebar_selection()
    sel, model = ctx.selection, ctx.model

    left, right = top.container().columns([3, 2], gap="large")
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
        st.image(shown, width=64, caption=image_captions(range(min(12, len(ids))), ids))

    ctx.share()
    with cache_slot:
        cache_section(cached)


def cache_section(cached) -> None:
    """Where the result store is, how big, and (local mode only) a button that clears it."""
    problem = cached.store_problem()
    if problem is not None:
        st.warning(f"Results are computed but not kept on disk: {problem}", icon=":material/warning:")
    else:
        with shown_in_place(stop=False):
            store = cached.store()
            if store is None:  # store_problem() said None: the store opened
                st.stop()
            stats = store.stats()
            st.caption(
                f"Birth times are computed once per (weights, data, class, layer, images, seed) and kept on disk, so "
                f"coming back to a selection is instant. Folder `{stats['directory']}` · {stats['entries']} entries · "
                f"{stats['bytes'] / 1e6:.1f} MB."
            )
            if mode.public_mode():  # shared results: only the operator clears them (featent cache --clear)
                st.caption("This server is shared: its result cache is cleared by the operator only.")
            elif st.button("Clear cache", icon=":material/delete:", key="home_clear"):
                cached.clear_all()
                st.toast("Cache cleared.")
                st.rerun()



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
