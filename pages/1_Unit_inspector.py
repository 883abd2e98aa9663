"""Unit inspector: one unit on one image, through the whole filtration (paper Fig. 2-3)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from featent.plots import unit as plots
from featent.core import topology
from ui import cached, progress
from ui.errors import shown_in_place
from ui.layout import page_header
from ui.selection import layer_and_unit, persisted, remember, sidebar_selection

page_header(
    "Unit inspector",
    "Pick a layer, a unit and an image. Move the filtration step to watch the unit's graph grow and its "
    "clique complex fill in; the birth time is the first step with a hole.",
)
ctx = sidebar_selection()


@st.fragment
def inspector() -> None:
    """The page body; a fragment, so a unit or image change does not rerun the sidebar."""
    c_layer, c_unit, c_image, c_birth = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    layer, unit_index = layer_and_unit(ctx.model, where=(c_layer, c_unit))
    selection = ctx.for_layers(layer)
    n_images = ctx.selection.n_images
    image_key = persisted("image", 0)
    if not 0 <= st.session_state[image_key] < n_images:
        st.session_state[image_key] = 0
    image_index = remember("image", int(c_image.number_input(f"Image (0..{n_images - 1})", min_value=0,
                                                            max_value=n_images - 1, step=1, key=image_key)))

    with shown_in_place():
        results = progress.layer_results(selection)[layer]
        activations = cached.unit_activations(selection, layer, image_index, ctx.fingerprint)
        images, ids = cached.sample_images(selection, ctx.fingerprint)
        unit = topology.validate_unit(activations[unit_index])
        curves = cached.betti_curves(unit)
        birth = cached.birth_time(unit)

    m = unit.shape[0]
    n_steps = m * m
    if float(unit.max()) == float(unit.min()):
        st.info(f"This unit is constant ({float(unit.max()):.3g} everywhere) on this image, as a dead ReLU unit is: all "
                "edges enter at step 1 together, the complex is a full simplex at once, and no hole is ever born.")
    births = results.births[:, unit_index]
    with c_birth:
        st.metric("Birth time b(U, 1)", birth if birth else "no birth",
                  help="First filtration step at which the clique complex has a hole (β1 > 0); steps run 1..m².")

    # Small units: the cycle born at the birth step goes first on the circle, so it reads as a polygon.
    circle_order = plots.hole_first_order(unit, birth) if m <= 40 else None
    step_key = "insp_step"
    if step_key not in st.session_state or not 1 <= st.session_state[step_key] <= n_steps:
        st.session_state[step_key] = birth if birth else max(1, n_steps // 4)

    def _jump_to_birth() -> None:
        st.session_state[step_key] = birth


    top = st.columns([1, 1.2, 1.6], gap="medium")
    top[0].plotly_chart(plots.input_image(images[image_index], title=f"Input image {image_index} ({ids[image_index]})"),
                        key="insp_image")
    with top[1]:
        st.markdown(f"**Layer `{layer}`, unit {unit_index}** — a {m} x {m} map, {n_steps} filtration steps.")
        a, b = st.columns(2)
        a.metric("Peak β1", int(curves[1].max()))
        b.metric("Steps m²", n_steps)
        fe = float(results.feature_entropy[unit_index])
        eps = float(results.selective_rate[unit_index])
        a.metric("FE on the class", f"{fe:.3f}", help="Feature entropy over the class images (Eq. 11-12).")
        b.metric("Selective rate ε", f"{eps:.2f}", help="Fraction of the class images that give a birth.")
        same = int(np.count_nonzero(births == birth))
        st.caption(
            f"{same} of {n_images} images of class '{ctx.selection.class_name}' give this unit the same birth time"
            + (" (no birth)." if birth == 0 else f" ({birth}). See *Birth distribution* for all of them.")
        )
        if int(births[image_index]) != birth:
            st.warning(f"The stored birth time for this image is {int(births[image_index])}; recomputed: {birth}.")
    top[2].plotly_chart(plots.persistence_barcode(cached.persistence_diagram(unit), n_steps), key="insp_barcode")

    @st.fragment
    def filtration_view() -> None:
        """Everything that depends on the step; a fragment, so moving the slider reruns only this."""
        s1, s2 = st.columns([5, 1], vertical_alignment="bottom")
        v = s1.slider(f"Filtration step v (1..{n_steps})", 1, n_steps, key=step_key,
                      help="At step v the graph holds every edge whose weight is at least the v-th largest entry of U.")
        s2.button("Go to birth", on_click=_jump_to_birth, disabled=birth == 0, key="insp_to_birth",
                  icon=":material/my_location:")
        st.caption(
            f"Step {v}: threshold a({v}) = {topology.filtration_values(unit)[v - 1]:.4g} · "
            f"β0 = {curves[0, v - 1]} components · β1 = {curves[1, v - 1]} holes"
        )
        g0, g1, g2 = st.columns(3)
        g0.plotly_chart(plots.activation_heatmap(unit, v, title=f"Unit: entries ≥ a({v}) circled"), key="insp_heat")
        g1.plotly_chart(plots.adjacency_at_step(unit, v), key="insp_adj")
        g2.plotly_chart(plots.complex_at_step(unit, v, order=circle_order), key="insp_cx")
        st.plotly_chart(plots.betti_curves_figure(curves, birth, v), key="insp_betti")

    filtration_view()


inspector()
