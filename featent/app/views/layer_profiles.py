"""Layer profiles: mean FE and selective rate per layer, trained vs random init, over classes (Fig. 5A)."""

from __future__ import annotations

import streamlit as st

from featent.app import cached
from featent.app.errors import shown_in_place
from featent.app.layout import chart, figure_downloads, page_header
from featent.app.progress import status
from featent.app.selection import (
    model_options,
    persisted,
    remember,
    sidebar_selection,
)
from featent.app.units import open_in_inspector
from featent.core import entropy
from featent.experiments.profiles import layer_profiles
from featent.plots import profiles
from featent.spec import ModelSpec

#: Classes preselected on a first visit: enough for a spread over classes, quick to compute.
DEFAULT_CLASSES = 3


def render() -> None:
    page_header(
        "Layer profiles",
        "How effective are the units of each layer? Mean feature entropy (lower = more stable features) beside the "
        "selective rate per layer, for the model and its random initialisation, averaged over classes (Eq. 15). FE "
        "alone can mislead: silent units (ε < p) get FE = (1 − ε) ln|Ω| (Eq. 12), so the live FE (units with ε ≥ p) "
        "and the silent share are drawn beside it, and so is the live conditional FE H(x | born), the entropy of the "
        "birth step given a birth: how steady the births are with how often they happen divided out.",
    )
    ctx = sidebar_selection()
    sel = ctx.selection

    options = list(dict.fromkeys([sel.model, *model_options()]))
    spec = ModelSpec.parse(sel.model)
    default_models = [sel.model] if spec.is_random else [sel.model, str(spec.random())]
    if "lp_models" not in st.session_state or sel.model not in st.session_state.get("lp_for", ()):
        st.session_state["lp_models"] = default_models
        st.session_state["lp_for"] = (sel.model,)
    st.session_state["lp_models"] = [m for m in st.session_state["lp_models"] if m in options]
    classes_all = list(ctx.dataset.classes)
    if "lp_classes" not in st.session_state or not set(st.session_state["lp_classes"]) <= set(classes_all):
        start = classes_all.index(sel.class_name)
        st.session_state["lp_classes"] = [classes_all[(start + k) % len(classes_all)]
                                          for k in range(min(DEFAULT_CLASSES, len(classes_all)))]

    c1, c2 = st.columns(2)
    models = c1.multiselect("Models", options, key="lp_models", help="The selected model and its random init by default.")
    chosen_classes = c2.multiselect("Classes", classes_all, key="lp_classes",
                                    help="Layer means are averaged over these classes; error bars show their spread.")
    if not models or not chosen_classes:
        st.info("Choose at least one model and one class.")
        st.stop()

    label = f"Computing birth times for {len(models)} model(s) x {len(chosen_classes)} class(es)"
    with shown_in_place(), status(label) as report:
        result = cached.computed(layer_profiles, sel.replace(layers=()), models=models, classes=chosen_classes,
                                 progress=report)
    table = result.to_frame()
    chart(profiles.layer_profile(table, title=f"Layer profile over {len(chosen_classes)} class(es) of {ctx.dataset.name}"),
          "lp_profile", name="layer profile")
    summary = result.layer_means()
    with st.expander("Layer table", expanded=False):
        st.dataframe(summary, hide_index=True, key="lp_layer_table",
                     column_config={c: st.column_config.NumberColumn(format="%.3f")
                                    for c in summary.columns[2:] if c != "classes"})
    st.download_button("Download layer table (CSV)", table.to_csv(index=False), file_name="layer_profile.csv",
                       mime="text/csv", icon=":material/download:", key="lp_csv_layers")

    st.divider()
    st.subheader("Units of one layer")
    u1, u2, _ = st.columns([1, 1, 1])
    unit_model = u1.selectbox("Model", models, key="lp_unit_model")
    layer_names = result.layers_of(unit_model)
    too_small = result.too_small(unit_model)
    default_layer = next((name for name in reversed(layer_names) if name not in too_small), layer_names[-1])
    unit_layer = remember("layer", u2.selectbox("Layer", layer_names, key=persisted("layer", default_layer, layer_names)))
    if unit_layer in too_small:
        st.info(f"{unit_layer}: too small for a hole (maps under 4×4 cannot hold a 1-cycle), so its FE is ln|Ω| for "
                "every unit and says nothing about the units; choose a layer with larger maps.")
        return
    fe, rate = result.unit_values(unit_model, unit_layer)  # [units, classes] each
    mean_fe, mean_rate = fe.mean(axis=1), rate.mean(axis=1)

    s1, s2 = st.columns(2)
    chart(profiles.fe_rate_scatter(mean_fe, mean_rate, p=entropy.DEFAULT_P,
                                title=f"{unit_model} {unit_layer}: FE vs ε (mean over classes)"),
          "lp_scatter", where=s1, name="units scatter")
    chart(profiles.units_classes_heatmap(fe, chosen_classes, title=f"{unit_model} {unit_layer}: FE per unit and class",
                                         rates=rate),
          "lp_heatmap", where=s2, name="units heatmap")

    units = result.unit_frame(unit_model, unit_layer)
    st.caption("Click a column header to sort, a row to open that unit in the inspector. Low FE with high selective "
               "rate marks the most effective units; the paper ranks units for pruning by FE / ε.")
    labels = {"feature_entropy": "FE (mean over classes)", "selective_rate": "ε (mean)", "fe_over_rate": "FE / ε",
              "conditional_feature_entropy": "H(x | born) (mean)"}
    picked = st.dataframe(units, hide_index=True, key="lp_unit_table", height=320, on_select="rerun",
                          selection_mode="single-row",
                 column_config={c: st.column_config.NumberColumn(labels.get(c, c), format="%.3f")
                                for c in units.columns[1:] if c != "silent"})
    st.download_button("Download unit table (CSV)", units.to_csv(index=False),
                       file_name=f"units_{unit_model.replace(':', '-')}_{unit_layer}.csv", mime="text/csv",
                       icon=":material/download:", key="lp_csv_units")
    st.caption("PNG: the camera icon in each chart's toolbar, or 'Download figure (PNG)' in the sidebar.")
    rows_picked = picked.selection.rows if picked is not None else []
    if rows_picked and unit_model == sel.model:
        open_in_inspector(ctx, unit_layer, int(units["unit"].iloc[rows_picked[0]]))
    elif rows_picked:
        st.info(f"Rows open the inspector for the sidebar's model ({sel.model}); choose it above to inspect its units.")
    ctx.share(layer=unit_layer)
    figure_downloads()



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
