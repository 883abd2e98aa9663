"""Unit gallery: every unit of a layer at a glance, with FE, ε and badges; click one to inspect it."""

from __future__ import annotations

from typing import cast

import numpy as np
import streamlit as st

from featent.app import cached, progress
from featent.app.errors import shown_in_place
from featent.app.layout import FIGURES, figure_downloads, page_header
from featent.app.selection import layer_and_unit, persisted, remember, sidebar_selection
from featent.app.units import badges, open_in_inspector, top_images_panel
from featent.core import entropy
from featent.experiments.gallery import sort_units
from featent.plots import gallery as gallery_plots

PER_PAGE = 48
COLUMNS = 6  # at 1280 px beside the sidebar a badge gets ~100 px: "gap +0.65" and "H|born 2.31" fit whole
#: H/ε first: the paper's ranking, which a unit that fires on few images cannot top by a low FE alone.
ORDERS = {"H/ε (lowest first)": "h_over_eps", "FE (lowest first)": "fe",
          "conditional FE H(x | born) (lowest first)": "conditional_fe", "ε (highest first)": "eps",
          "unit index": "unit"}


def render() -> None:
    page_header(
        "Unit gallery",
        "Every unit of a layer as a thumbnail of its activation map. Low FE with a high selective rate ε marks a unit "
        "that sees the same pattern on most images of the class; silent units (ε < p) are marked. Click a unit to "
        "open it in the inspector.",
        icon=":material/view_module:",
    )
    ctx = sidebar_selection()
    sel = ctx.selection

    link_slot = st.sidebar.empty()  # 'Copy link', redrawn by the fragment below

    @st.fragment
    def gallery() -> None:
        """The page body, a fragment: a layer, image, order, page or unit change reruns only this, not the
        sidebar (which loads the model and data); the address bar and 'Copy link' still follow every change."""
        c_layer, c_show, c_image, c_order, c_hide = st.columns([1.3, 1.3, 0.8, 1.3, 1.2], vertical_alignment="bottom")
        layer, _ = layer_and_unit(ctx.model, with_unit=False, where=(c_layer, c_layer))
        selection = ctx.for_layers(layer)
        with shown_in_place():
            result = progress.layer_results(selection)[layer]
            maps = cached.layer_maps(selection, layer, ctx.fingerprint)
        if result.hole_possible is False:
            st.info(f"{layer} has {result.unit_size}×{result.unit_size} maps: too small for a hole (a 1-cycle needs at "
                    "least 4×4), so every unit gets ε = 0 and FE = ln|Ω|, which is no finding. Choose a layer with larger maps.")
            return
        n_sampled = maps.n_images
        show = c_show.radio("Thumbnail", ("Mean over the class", "On one image"), horizontal=True, key="gal_show")
        image_key = persisted("image", 0)
        if not 0 <= st.session_state[image_key] < n_sampled:
            st.session_state[image_key] = 0
        image_index = remember("image", int(c_image.number_input(f"Image (0..{n_sampled - 1})", 0, n_sampled - 1, step=1,
                                                                 key=image_key, disabled=show != "On one image")))
        order_label = c_order.selectbox("Sort by", list(ORDERS), key="gal_order")
        hide_silent = c_hide.toggle("Hide silent", value=True, key="gal_hide",
                                    help=f"Units with selective rate ε < p = {entropy.DEFAULT_P:g}: they give a birth on too "
                                         "few images and get FE = (1 − ε) ln|Ω| (Eq. 12).")

        fe, eps = result.feature_entropy, result.selective_rate
        gap = progress.structure_gap(result)
        cond = result.conditional_feature_entropy
        order = sort_units(fe, eps, ORDERS[str(order_label)], entropy.DEFAULT_P, hide_silent, cond)
        silent = int(np.count_nonzero(eps < entropy.DEFAULT_P))
        n_pages = max(1, int(np.ceil(order.size / PER_PAGE)))
        if st.session_state.get("gal_page", 1) > n_pages:
            st.session_state["gal_page"] = 1
        i1, i2 = st.columns([4, 1], vertical_alignment="bottom")
        i1.caption(f"{result.births.shape[1]} units of {layer} ({maps.mean_maps.shape[1]} x {maps.mean_maps.shape[1]}), "
                   f"{n_sampled} images of class '{sel.class_name}'; {silent} silent unit(s)"
                   + (" hidden" if hide_silent else " marked 'silent'") + f"; {order.size} shown, best first.")
        page = int(i2.number_input(f"Page (1..{n_pages})", 1, n_pages, step=1, key="gal_page")) if n_pages > 1 else 1
        shown = order[(page - 1) * PER_PAGE: page * PER_PAGE]

        if show == "On one image":
            with shown_in_place():
                maps_now = cached.unit_activations(selection, layer, image_index, ctx.fingerprint)
        else:
            maps_now = maps.mean_maps
        if not shown.size:
            st.info("Every unit of this layer is silent on this class; switch off 'Hide silent units' to see them.")
        thumbs = []
        for row_start in range(0, shown.size, COLUMNS):
            cols = st.columns(COLUMNS, gap="small")
            for col, unit in zip(cols, shown[row_start: row_start + COLUMNS]):
                unit = int(unit)
                thumb = gallery_plots.thumbnail(maps_now[unit], size=96)
                thumbs.append((thumb, f"unit {unit}: FE {fe[unit]:.2f}, ε {eps[unit]:.2f}"))
                with col.container(border=True):
                    st.image(thumb, width="stretch")
                    st.markdown(badges(float(fe[unit]), float(eps[unit]), None if gap is None else float(gap[unit]),
                                       conditional=float(cond[unit]), few=bool(result.few_births[unit])))
                    if st.button(f"Unit {unit}", key=f"gal_open_{unit}", width="stretch", type="tertiary",
                                 help="Open this unit in the inspector"):
                        open_in_inspector(ctx, layer, unit, image_index if show == "On one image" else None)

        if thumbs:  # the grid figure is built only when its PNG is asked for

            def grid(thumbs: list = thumbs, layer: str = layer):
                return gallery_plots.image_grid([t for t, _ in thumbs], [c for _, c in thumbs], cols=COLUMNS,
                                                title=f"{sel.model} {layer}, class {sel.class_name}")

            st.session_state.setdefault(FIGURES, {})[f"gallery {layer} page {page}"] = grid

        st.divider()
        focus_options = [int(u) for u in order] or list(range(result.births.shape[1]))
        if st.session_state.get("gal_focus") not in focus_options:
            st.session_state["gal_focus"] = focus_options[0]
        f1, f2 = st.columns([1, 4], vertical_alignment="bottom")
        focus = int(cast(int, f1.selectbox("Top images of unit", focus_options, key="gal_focus",
                                 format_func=lambda u: f"{u} (FE {fe[u]:.2f}, ε {eps[u]:.2f})")))
        f2.caption("The images of the class that make this unit respond most, with its map laid over each.")
        top_images_panel(ctx, layer, focus, key="gal_top")
        ctx.share(where=link_slot, layer=layer, **({"image": image_index} if show == "On one image" else {}))

    gallery()
    figure_downloads()



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
