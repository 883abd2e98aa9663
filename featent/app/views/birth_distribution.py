"""Birth distribution: one unit's birth times over the class images (paper Fig. 4), FE and epsilon."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import streamlit as st

from featent.app import cached, progress
from featent.app.errors import shown_in_place
from featent.app.layout import chart, figure_downloads, image_captions, page_header
from featent.app.selection import layer_and_unit, model_options, sidebar_selection
from featent.app.units import fe_parts_panel
from featent.pipeline import Selection
from featent.plots import births as birth_plots
from featent.spec import ModelSpec

NO_BIRTH = birth_plots.NO_BIRTH


def render() -> None:
    page_header(
        "Birth distribution",
        "One unit over all sampled images of the class: how often each birth time occurs. A unit that "
        "perceives a common feature concentrates on a few steps (low feature entropy).",
    )
    ctx = sidebar_selection()
    sel = ctx.selection

    c_layer, c_unit, c_fe, c_eps, c_null = st.columns([2, 1, 1, 1, 1], vertical_alignment="bottom")
    layer, unit_index = layer_and_unit(ctx.model, where=(c_layer, c_unit))
    with shown_in_place():
        result = progress.layer_results(ctx.for_layers(layer))[layer]
        images, ids = cached.sample_images(ctx.for_layers(layer), ctx.fingerprint)
    births = result.births[:, unit_index]
    summary = birth_plots.entropy_summary(births)
    c_fe.metric("FE H (nats)", f"{summary['feature_entropy']:.3f}",
                help="Feature entropy H = −Σ P(x) ln P(x) over birth steps x (Eq. 11), natural log; (1 − ε) ln|Ω| when "
                     "ε < p (Eq. 12).")
    c_eps.metric("Selective rate ε", f"{summary['selective_rate']:.2f}",
                 help=f"Fraction of the {summary['n_images']} images with a birth; p = {summary['p']:g}.")
    null = result.null_feature_entropy
    if null is not None:
        c_null.metric("Null FE", f"{float(null[unit_index]):.3f}",
                      delta=f"gap {float(null[unit_index]) - summary['feature_entropy']:+.3f}", delta_color="off",
                      help="FE of the same maps with their entries shuffled: what is left without spatial structure.")
    if summary["low_rate"] and summary["no_birth"] < births.size:
        st.warning(f"ε = {summary['selective_rate']:.2f} < p = {summary['p']:g}: only {births.size - summary['no_birth']} of "
                   f"{births.size} images give a birth, so FE is (1 − ε) ln|Ω| (Eq. 12) — a silent unit; its few births say "
                   "little.", icon=":material/volume_off:")

    left, right = st.columns([3, 2], gap="large")
    with left:
        event = chart(
            birth_plots.birth_histogram(births, title=f"{layer}, unit {unit_index}: birth times over class '{sel.class_name}'"),
            "bd_hist", name="birth histogram", on_select="rerun", selection_mode="points",
        )
        if summary["no_birth"] == births.size:
            st.info("This unit gives no birth on any image of the class (a dead or silent unit): "
                    f"ε = 0, so its FE is ln|Ω| = {summary['feature_entropy']:.2f} (Eq. 12). Try another unit.")
        else:
            st.caption("Click a bar to see its images (or choose a birth time on the right). The grey bar counts the "
                       "images with no birth: they are part of |Ω| (Eq. 9-10).")

    steps = [int(x) for x in np.unique(births[births > 0])]
    choices = steps + ([NO_BIRTH] if np.any(births == 0) else [])
    clicked = [p["x"] if p["x"] == NO_BIRTH else int(p["x"]) for p in (event.selection.points if event else []) if "x" in p]
    with right:
        if clicked and clicked != st.session_state.get("bd_last_click") and clicked[0] in choices:
            st.session_state["bd_pick"] = clicked[0]  # a new click on a bar wins over the selectbox
        st.session_state["bd_last_click"] = clicked
        if st.session_state.get("bd_pick") not in choices:
            st.session_state["bd_pick"] = max(steps, key=lambda s: int(np.count_nonzero(births == s))) if steps else NO_BIRTH
        pick = st.selectbox("Images with birth time", choices, key="bd_pick")
        members = np.flatnonzero(births == (0 if pick == NO_BIRTH else pick))
        st.markdown(f"**{members.size} image{'s' if members.size != 1 else ''}** with birth time {pick}"
                    + (" (first 40 shown)" if members.size > 40 else ""))
        st.image([np.moveaxis(images[i], 0, -1).clip(0, 1) for i in members[:40]], width=56,
                 caption=image_captions(members[:40], ids))

    fe_parts_panel(st, result, unit_index)

    st.divider()
    st.subheader("Compare")
    c_mode, c_other, _ = st.columns([1, 1, 1], vertical_alignment="bottom")
    mode = c_mode.radio("Compare this unit with", ["another class", "another model"], horizontal=True, key="bd_mode")
    if mode == "another class":
        others = [c for c in ctx.dataset.classes if c != sel.class_name] or list(ctx.dataset.classes)
        other = c_other.selectbox("Class", others, key="bd_other_class")
        other_sel = Selection(**{**ctx.for_layers(layer).__dict__, "class_name": other})
        labels = [f"class {sel.class_name}", f"class {other}"]
    else:
        parsed = ModelSpec.parse(sel.model)
        default_other = str(parsed.pretrained() if parsed.is_random else parsed.random())
        options = [m for m in model_options() if m != sel.model]
        if st.session_state.get("bd_other_model") not in options:
            st.session_state["bd_other_model"] = default_other if default_other in options else options[0]
        other = c_other.selectbox("Model (same layer and unit)", options, key="bd_other_model")
        if other is None:  # a select box with options always has a choice
            st.stop()
        other_sel = Selection(**{**ctx.for_layers(layer).__dict__, "model": other, "weights": None})
        labels = [sel.model, other]
    with shown_in_place(stop=False):
        other_result = progress.layer_results(other_sel, label=f"Computing birth times for {labels[1]}")[layer]
        if unit_index >= other_result.births.shape[1]:
            raise ValueError(f"{labels[1]} has only {other_result.births.shape[1]} units in {layer}.")
        chart(
            birth_plots.birth_histogram_compare([births, other_result.births[:, unit_index]], labels,
                                          title=f"{layer}, unit {unit_index}: {labels[0]} vs {labels[1]}"),
            "bd_compare", name="birth histograms compared",
        )

    table = pd.DataFrame({"image_index": np.arange(births.size), "image_id": ids, "class": sel.class_name,
                          "layer": layer, "unit": unit_index, "birth_time": births})
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    st.download_button("Download birth times (CSV)", buffer.getvalue(), icon=":material/download:",
                       file_name=f"births_{sel.model.replace(':', '-')}_{layer}_unit{unit_index}_class{sel.class_name}.csv",
                       mime="text/csv", key="bd_csv")
    ctx.share(layer=layer, unit=unit_index)
    figure_downloads()



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
