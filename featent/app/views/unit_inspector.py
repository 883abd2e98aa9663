"""Unit inspector: one unit on one image, through the whole filtration (paper Fig. 2-3)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from featent.app import cached, progress
from featent.app.errors import shown_in_place
from featent.app.layout import chart, figure_downloads, image_captions, page_header, session_memo
from featent.app.selection import layer_and_unit, persisted, remember, sidebar_selection
from featent.app.units import fe_parts_panel, top_images_panel
from featent.core import cycles, entropy, topology
from featent.plots import animation, filtration
from featent.plots import unit as unit_plots

#: Units up to this size play in the browser; larger ones step on the server.
PLAY_MAX_M = 32


def render() -> None:
    page_header(
        "Unit inspector",
        "Pick a layer, a unit and an image. Press Play (or drag the step) to watch the unit's graph grow and its "
        "clique complex fill in; the birth time is the first step with a hole.",
    )
    ctx = sidebar_selection()

    def unit_metrics(where, results, unit_index: int) -> None:
        """FE with ε beside it (and null FE when the library computed it); a warning when ε < p."""
        fe = float(results.feature_entropy[unit_index])
        eps = float(results.selective_rate[unit_index])
        null = results.null_feature_entropy
        text = f"**FE** {fe:.3f} · **ε** {eps:.2f}"
        if null is not None:
            text += f" · **null FE** {float(null[unit_index]):.3f} (gap {float(null[unit_index]) - fe:+.3f})"
        where.markdown(text, help="FE: feature entropy over the class images (Eq. 11-12), lower = steadier. ε: share of "
                       "the class images that give a birth. Null FE: the same maps with their entries shuffled; the gap is "
                       "what spatial structure explains.")
        if eps < entropy.DEFAULT_P:
            where.warning(f"ε = {eps:.2f} < p = {entropy.DEFAULT_P:g}: this unit gives a birth on too few images, so its FE is "
                          "(1 − ε) ln|Ω| by Eq. 12 — a silent unit, not a good detector.", icon=":material/volume_off:")

    link_slot = st.sidebar.empty()  # 'Copy link', redrawn by the fragment below

    @st.fragment
    def inspector() -> None:
        """The page body, a fragment: a layer, unit, image or step change reruns only this, not the sidebar
        (which loads the model and data); the address bar and 'Copy link' still follow every change."""
        c_layer, c_unit, c_image, c_step, c_birth = st.columns([1.8, 1, 1, 1.1, 1.1], vertical_alignment="bottom")
        layer, unit_index = layer_and_unit(ctx.model, where=(c_layer, c_unit))
        selection = ctx.for_layers(layer)
        with shown_in_place():  # kept for the session: a unit, image or step change does not reread the store
            results = session_memo("_insp_results", (selection, ctx.fingerprint),
                                   lambda: progress.layer_results(selection))[layer]
        n_sampled = int(results.births.shape[0])  # a small class gives fewer images than asked
        image_key = persisted("image", 0)
        if not 0 <= st.session_state[image_key] < n_sampled:
            st.session_state[image_key] = 0
        image_index = remember("image", int(c_image.number_input(f"Image (0..{n_sampled - 1})", min_value=0,
                                                                max_value=n_sampled - 1, step=1, key=image_key)))
        with shown_in_place():
            activations = cached.unit_activations(selection, layer, image_index, ctx.fingerprint)
            images, ids = cached.sample_images(selection, ctx.fingerprint)
            unit = topology.validate_unit(activations[unit_index])
            curves = cached.betti_curves(unit)
            birth = cached.birth_time(unit)

        m = unit.shape[0]
        n_steps = m * m
        births = results.births[:, unit_index]
        with c_birth:
            st.metric("Birth time b(U, 1)", birth if birth else "no birth",
                      help="First filtration step at which the clique complex has a hole (β1 > 0); steps run 1..m².")

        step_key = persisted("step", 0)
        if not 1 <= int(st.session_state[step_key] or 0) <= n_steps:
            st.session_state[step_key] = birth if birth else max(1, min(n_steps, 4))

        left, right = st.columns([1, 3.2], gap="medium")
        with left:
            image_figure = session_memo("_insp_image", (selection, ctx.fingerprint, image_index), lambda: unit_plots.input_image(
                images[image_index], title=image_captions([image_index], ids)[0], height=200), keep=4)  # same on a unit change
            chart(image_figure, "insp_image", name="input image")
            st.markdown(f"**Layer `{layer}`, unit {unit_index}** — a {m} x {m} map, {n_steps} filtration steps.")
            unit_metrics(st, results, unit_index)
            same = int(np.count_nonzero(births == birth))
            st.caption(
                f"{same} of {n_sampled} sampled images of class '{ctx.selection.class_name}' give this unit the same birth "
                "time" + (" (no birth)." if birth == 0 else f" ({birth}). See *Birth distribution* for all of them.")
            )
            if int(births[image_index]) != birth:
                st.warning(f"The stored birth time for this image is {int(births[image_index])}; recomputed: {birth}.")
            if float(unit.max()) == float(unit.min()):
                st.info(f"This unit is constant ({float(unit.max()):.3g}) on this image, as a dead ReLU unit is: every edge "
                        "enters at step 1, the complex is a full simplex at once, and no hole is ever born.")

        with right:
            t_whole, t_jumps = st.columns(2)
            whole = m < unit_plots.FOCUS_M or t_whole.toggle(
                "Whole map", key="insp_whole", help=f"Show all {m} vertices and the whole {m} x {m} map; off: the born "
                "cycle's neighbourhood and the map cropped to the cycle's rows and columns, readable at any size.")
            jumps = m <= PLAY_MAX_M and t_jumps.toggle("Births only", key="insp_jumps",
                                                       help="Play visits only the steps where β1 changes (a hole is "
                                                            "born or filled), not every step.")
            if m <= PLAY_MAX_M:
                start = remember("step", int(c_step.number_input(f"Start step (1..{n_steps})", 1, n_steps, step=1, key=step_key,
                                                                 help="The step shown first (the birth by default); Play and "
                                                                      "the slider under the figure run in your browser.")))
                fig = session_memo("_insp_play", (selection, ctx.fingerprint, layer, unit_index, image_index, whole, jumps),
                                   lambda: animation.filtration_animation(
                                       unit, start=start, curves=curves, birth=birth, focus=not whole, jumps_only=jumps,
                                       title=f"{layer}, unit {unit_index}: the filtration", height=480),
                                   keep=4).start_at(start)  # a start-step change reuses the frames
                chart(fig, "insp_play", name="filtration")
                st.caption("▶ Play runs the filtration in the browser; drag the slider to any step. Orange: entries and edges "
                           "entering now; green: the hole born at the birth step; shaded: filled triangles.")
                v = start
            else:
                c_step.caption(f"{n_steps} steps: stepped on the server")
                v = filtration_steps(unit, curves, birth, step_key, n_steps, whole)
            ctx.share(where=link_slot, layer=layer, unit=unit_index, image=image_index, step=v)

        fe_parts_panel(st, results, unit_index)
        b1, b2 = st.columns(2)
        barcode = session_memo("_insp_barcode", (selection, ctx.fingerprint, layer, unit_index, image_index), lambda: (
            filtration.persistence_barcode(cached.persistence_diagram(unit), n_steps)), keep=4)  # same on a step change
        chart(barcode, "insp_barcode", where=b1, name="barcode")
        chart(unit_plots.adjacency_at_step(unit, v), "insp_adj", where=b2, name="adjacency")
        if st.toggle("Show the top-activating images of this unit", key="insp_show_top",
                     help="The images of the class (and of other classes) that make this unit respond most, with its map "
                          "laid over each."):
            top_images_panel(ctx, layer, unit_index, key="insp_top")

    def filtration_steps(unit, curves, birth: int, step_key: str, n_steps: int, whole: bool) -> int:
        """Large units: the step on the server, the graph reduced to the born cycle and its neighbourhood."""
        s1, s2 = st.columns([5, 1], vertical_alignment="bottom")
        v = remember("step", int(s1.slider(f"Filtration step v (1..{n_steps})", 1, n_steps, key=step_key,
                                           help="At step v the graph holds every edge whose weight is at least the v-th "
                                                "largest entry of U.")))
        if s2.button("Go to birth", disabled=birth == 0, key="insp_to_birth", icon=":material/my_location:"):
            st.session_state[step_key] = birth
            st.rerun()
        st.caption(f"Step {v}: threshold a({v}) = {topology.filtration_values(unit)[v - 1]:.4g} · "
                   f"β0 = {curves[0, v - 1]} components · β1 = {curves[1, v - 1]} holes")
        focus = None if whole else unit_plots.neighbourhood(unit, birth)
        g0, g1 = st.columns(2)
        crop = None if whole else unit_plots.crop_vertices(unit, birth)
        chart(unit_plots.activation_heatmap(unit, v, title=f"Unit at step {v}" + ("" if crop is None else ", cycle's rows/cols"),
                                            max_circles=2 * unit.shape[0], rows=crop), "insp_heat", where=g0, name="unit")
        chart(
            filtration.complex_at_step(
                unit, v, vertices=focus, highlight=cycles.hole_cycle(unit, birth) if v >= birth > 0 else None
            ),
            "insp_cx",
            where=g1,
            name="complex",
        )
        chart(filtration.betti_curves_figure(curves, birth, v), "insp_betti", name="betti curves")
        return v

    inspector()
    figure_downloads()



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
