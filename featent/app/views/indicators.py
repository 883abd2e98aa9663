"""Indicators: FE beside L1, APoZ, class selectivity, FPGM and NISP; rescaling and randomness (Sec. 4.3, A.6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from featent.app import cached, progress
from featent.app.errors import shown_in_place
from featent.app.layout import (
    chart,
    csv_download,
    figure_downloads,
    page_header,
    session_memo,
)
from featent.app.selection import layer_and_unit, sidebar_selection
from featent.experiments.indicator_table import indicator_table
from featent.experiments.randomness import randomness_experiment
from featent.experiments.rescale import HALF, rescale_experiment
from featent.indicators import INDICATOR_COLUMNS, INDICATOR_LABELS
from featent.plots import experiments as plots_experiments


def render() -> None:
    page_header(
        "Indicators",
        "Is feature entropy a steadier measure of a unit than the magnitude-based indicators? Every indicator of "
        "every unit of a layer on the chosen class, and the paper's two tests: rescaling and random units.",
        icon=":material/compare_arrows:",
    )
    ctx = sidebar_selection()
    sel = ctx.selection
    c1, c2, c3 = st.columns([1, 1, 1])
    layer, unit = layer_and_unit(ctx.model, where=(c1, c2))
    others = c3.number_input("Images per other class", min_value=2, max_value=1000, value=min(30, sel.n_images), step=5,
                             key="ind_images_per_class",
                             help="Class selectivity compares the class-mean activation with the other classes' means.")
    classes = list(ctx.dataset.classes)
    if len(classes) > 50:
        compare = st.multiselect("Classes for class selectivity", classes, default=classes[:20], key="ind_compare")
    else:
        compare = classes
    selection = ctx.for_layers(layer)

    # --------------------------------------------------------------------------- all units
    base_key = (sel.model, sel.weights, sel.data, sel.class_name, layer, sel.n_images, sel.seed, int(others), tuple(compare))
    with shown_in_place(), progress.status(f"Indicators of {layer}") as report:
        table = session_memo("ind_memo", ("table", *base_key), lambda: cached.computed(
            indicator_table, selection, layer=layer, classes=compare, images_per_class=int(others), progress=report))

    st.subheader(f"Every unit of {layer} on class {sel.class_name!r}")
    for note in table.notes:
        st.info(note)
    frame = pd.DataFrame({"unit": np.arange(table.n_units), **{c: table.values[c] for c in INDICATOR_COLUMNS}})
    against = st.radio("Against each indicator", ("FE", "conditional FE H(x | born)"), horizontal=True, key="ind_y",
                       help="FE rises with how often a unit is born (FE = ε·H(x | born) − ε ln ε for ε ≥ p); the "
                            "conditional FE H(x | born) divides that frequency out and leaves the steadiness.")
    if against == "FE":
        chart(where=st, fig=plots_experiments.indicator_grid(table.values, highlight=unit), key="ind_grid")
        st.caption("Each point is a unit; colour is its selective rate ε. A dead unit (ε = 0) gets FE = ln|Ω| (Eq. 12). "
                   f"Class accuracy of the model on this class: {table.accuracy:.3f}.")
    else:
        chart(where=st, fig=plots_experiments.indicator_grid(
            table.values, highlight=unit, y="conditional_fe",
            title="Conditional FE H(x | born) vs the other indicators, per unit"), key="ind_grid_conditional")
        st.caption("Each point is a live unit (ε ≥ p; silent units have no steady births to measure and are left out); "
                   f"colour is ε. Class accuracy of the model on this class: {table.accuracy:.3f}.")
    st.dataframe(frame, hide_index=True, key="ind_table", height=300,
                 column_config={c: st.column_config.NumberColumn(INDICATOR_LABELS[c], format="%.4g") for c in INDICATOR_COLUMNS})
    csv_download(frame, f"indicators {layer} class {sel.class_name}", "ind_csv_units")

    # --------------------------------------------------------------------------- rescaling and randomness
    st.divider()
    which = "the layer mean" if unit is None else f"unit {unit}"
    live = ctx.model.input_size <= 64
    st.subheader(f"Rescaling: images and/or the filters of {layer} at half scale (Table 1, 9)")
    st.caption("Both halve the unit's values without changing what the network computes much, so a good indicator "
               "should barely move. The model itself is never changed: the filters are halved on a copy.")
    r1, r2 = st.columns(2)
    scope = r1.radio("Show", ("Chosen unit", "Layer mean"), horizontal=True, key="ind_scope")
    SPACES = {"Network input (after normalization)": "input", "Raw pixels (before normalization)": "pixels"}
    space = SPACES[str(r2.radio("Images x0.5 means", list(SPACES), horizontal=True, key="ind_image_space",
                            help="Halving raw pixels before a mean subtraction shifts the input rather than scaling it."))]
    shown_unit = unit if scope == "Chosen unit" else None
    run_rescale = live or st.button("Run rescaling", key="ind_run_rescale", icon=":material/play_arrow:")
    if run_rescale:
        with shown_in_place(), progress.status("Rescaling experiment (4 conditions)") as report:
            rescaled = session_memo("ind_memo", ("rescale", *base_key, space), lambda: cached.computed(
                rescale_experiment, selection, layer=layer, scale=HALF, classes=compare, images_per_class=int(others),
                image_space=space, progress=report))
        rows = rescaled.to_frame(shown_unit).to_dict(orient="records")
        chart(where=st, fig=plots_experiments.rescale_figure(rows), key="ind_rescale_fig")
        rescale_frame = pd.DataFrame(rows)
        st.dataframe(rescale_frame, hide_index=True, key="ind_rescale_table",
                     column_config={c: st.column_config.NumberColumn(INDICATOR_LABELS.get(c, c), format="%.4g")
                                    for c in rescale_frame.columns})
        csv_download(rescale_frame, f"rescaling {layer} {'layer mean' if shown_unit is None else f'unit {shown_unit}'}",
                    "ind_csv_rescale")

    st.divider()
    st.subheader(f"Random units: {which} in the trained model vs in random-init models (Table 2, 10)")
    k_models = st.slider("Random-init models", 2, 100, 5, key="ind_random_models",
                         help="Seeds 0..K-1 of the same architecture. The paper samples 100.")
    run_random = live or st.button("Run randomness", key="ind_run_random", icon=":material/play_arrow:")
    if run_random:
        with shown_in_place(), progress.status(f"Indicators in {k_models} random-init models") as report:
            rand = session_memo("ind_memo", ("random", *base_key, k_models), lambda: cached.computed(
                randomness_experiment, selection, layer=layer, n_models=k_models, first_seed=0, classes=compare,
                images_per_class=int(others), progress=report))
        rows = rand.to_frame(shown_unit).to_dict(orient="records")
        if shown_unit is None:
            trained = {r["indicator"]: r["trained"] for r in rows}
            random_values = {name: np.array([float(np.mean(v[np.isfinite(v)])) if np.isfinite(v).any() else np.nan
                                             for v in rand.random[name]]) for name in rand.random}
        else:
            trained = {name: float(rand.trained[name][shown_unit]) for name in rand.trained}
            random_values = {name: rand.random[name][:, shown_unit] for name in rand.random}
        chart(where=st, fig=plots_experiments.randomness_figure(trained, random_values), key="ind_random_fig")
        random_frame = pd.DataFrame(rows)
        st.dataframe(random_frame, hide_index=True, key="ind_random_table",
                     column_config={"random_better_share": st.column_config.NumberColumn(
                         "random looks better (share)", format="%.2f",
                         help="Share of random-init models this indicator rates above the trained unit.")})
        csv_download(random_frame, f"randomness {layer} {'layer mean' if shown_unit is None else f'unit {shown_unit}'}",
                    "ind_csv_random")
    figure_downloads()



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
