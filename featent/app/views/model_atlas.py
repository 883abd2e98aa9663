"""Model atlas: mean feature entropy of every layer and class of a model at a glance, from a sweep."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from featent.app import atlas as helpers
from featent.app import cached, links, progress
from featent.app.errors import shown_in_place
from featent.app.layout import csv_download, page_header
from featent.app.mode import limits, public_mode
from featent.app.selection import sidebar_selection
from featent.errors import FeatentError
from featent.experiments.atlas import Atlas
from featent.experiments.runs import stored_runs
from featent.experiments.sweep import stored_atlas, sweep
from featent.plots.atlas import ATLAS_VALUES, atlas_heatmap


def render() -> None:
    page_header(
        "Model atlas",
        "Which layers and classes of this model have effective units? Mean feature entropy (lower = more "
        "stable features) of every layer for every class, from a sweep kept in the result store or an atlas "
        "file written by `featent sweep`. Click a cell to open that class and layer.",
        icon=":material/grid_on:",
    )
    ctx = sidebar_selection()
    sel = ctx.selection
    store = cached.store()

    sources = {"store": "This model (result store)", "runs": "Earlier sweeps", "file": "Atlas file"}
    linked = st.query_params.get("atlas")
    if linked in sources and st.session_state.get("_atlas_link") != linked:  # a link names the source once
        st.session_state["atlas_source"] = sources[linked]
    st.session_state["_atlas_link"] = linked
    source = st.radio("Atlas", list(sources.values()), horizontal=True, key="atlas_source")
    atlas: Atlas | None = None
    with shown_in_place():
        if source == "This model (result store)":
            atlas = cached.stored_atlas(sel.model, sel.weights, sel.data, sel.n_images, sel.seed)
            n_classes, n_layers = len(ctx.dataset.classes), len(ctx.model.layers)
            have = 0 if atlas is None else len(atlas)
            st.caption(f"{have} of {n_classes * n_layers} (class, layer) pairs of `{sel.model}` on {ctx.dataset.name} "
                       f"({sel.n_images} images, seed {sel.seed}) are in the store.")
            if have < n_classes * n_layers:
                if ctx.model.input_size > helpers.MAX_APP_INPUT:
                    command = (f"featent sweep --model {sel.model} --data {sel.data} --classes all --layers all "
                               f"--images {sel.n_images} --seed {sel.seed} --out atlas.parquet")
                    st.info("This model is too big to sweep from the app; run the sweep from a shell (it fills the same "
                            "store, so the atlas appears here):")
                    st.code(command, language="bash")
                else:
                    c1, c2 = st.columns([1, 3])
                    count = c1.number_input("Classes", min_value=1, max_value=n_classes, value=min(10, n_classes),
                                            key="atlas_n_classes", help="The first N classes of the dataset.")
                    c2.write("")
                    if c2.button(f"Sweep {int(count)} classes x {n_layers} layers", key="atlas_run", type="primary"):
                        with shown_in_place(), progress.status("Sweeping classes x layers") as report:
                            cached.bounded(lambda: sweep(sel.model, sel.data, classes=int(count), layers="all",
                                                         images=sel.n_images, seed=sel.seed, weights=sel.weights,
                                                         store=store, progress=report))
                        st.rerun()
        elif source == "Earlier sweeps":
            runs = stored_runs(store) if store is not None else []
            if not runs:
                st.info("No sweep is recorded in the result store yet; run one here or with `featent sweep`.")
            else:
                choice = st.selectbox("Sweep", range(len(runs)), format_func=lambda i: helpers.run_label(runs[i]),
                                      key="atlas_run_choice")
                if choice is None:  # a select box with options always has a choice
                    st.stop()
                run = runs[choice]
                atlas = stored_atlas(run["model"], run["data"], run["classes"], run["layers"], run["images"], run["seed"],
                                     store, weights=run.get("weights"))
        else:
            upload = st.file_uploader("Atlas file (.parquet or .csv from `featent sweep --out`)", type=["parquet", "csv"],
                                      key="atlas_upload")
            if upload is not None:
                suffix = Path(upload.name).suffix.lower()
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / f"atlas{suffix}"
                    path.write_bytes(upload.getvalue())
                    atlas = Atlas.load(path, max_rows=limits().max_atlas_rows if public_mode() else None)

    if atlas is None or len(atlas) == 0:
        st.stop()

    frame = atlas.to_frame()
    if frame["model"].nunique() > 1 or frame["data"].nunique() > 1:
        with shown_in_place():
            raise FeatentError("This atlas mixes several models or datasets; write one atlas per model and dataset.")
    values = [v for v in ATLAS_VALUES if v in frame.columns and frame[v].notna().any()]
    value = st.selectbox("Show", values, format_func=lambda v: ATLAS_VALUES[v], key="atlas_value")
    if value is None:  # no value column holds a number
        st.stop()
    layers = list(dict.fromkeys(frame["layer"]))
    classes = list(dict.fromkeys(frame["class"].astype(str)))
    figure = atlas_heatmap(frame.to_dict("records"), value, layers, classes,
                           title=f"{ATLAS_VALUES[value]}: {frame['model'].iloc[0]} on {frame['data'].iloc[0]}")
    chart = st.plotly_chart(figure, key="atlas_heatmap", on_select="rerun", selection_mode="points")

    st.subheader("Per layer, averaged over classes")
    by_layer = frame.groupby("layer", sort=False)[[v for v in values]].mean().reset_index()
    st.dataframe(by_layer, hide_index=True, key="atlas_by_layer")
    st.subheader("Every (class, layer)")
    if "hole_possible" in frame.columns and not frame["hole_possible"].all():
        small = ", ".join(dict.fromkeys(frame.loc[~frame["hole_possible"].astype(bool), "layer"]))
        st.caption(f"Too small for a hole (maps under 4×4, hole_possible false): {small}. Their FE is ln|Ω| by "
                   "construction, not a finding.")
    st.caption("Sort by any column; select a row (or click a heatmap cell) to open it.")
    table = st.dataframe(frame, hide_index=True, key="atlas_table", on_select="rerun", selection_mode="single-row")
    csv_download(frame, "atlas.csv", key="atlas_csv")

    pairs = list(zip(frame["class"].astype(str), frame["layer"]))
    picked = st.selectbox("Or pick a cell", [None, *range(len(pairs))], key="atlas_pick",
                          format_func=lambda i: "—" if i is None else f"class {pairs[i][0]}, layer {pairs[i][1]}")
    cell = helpers.clicked_cell(chart, table, frame)
    if cell is None and picked is not None:
        cell = frame.iloc[picked].to_dict()
    if cell is None:  # the cell a link names (the URL names the selected cell)
        named = helpers.clicked_cell({"selection": {"points": [{"customdata": [st.query_params.get("class"),
                                                                               st.query_params.get("layer")]}]}}, None, frame)
        cell = named
    view = {"model": sel.model, "data": sel.data, "images": sel.n_images, "seed": sel.seed}
    if cell is not None:
        view.update({"class": str(cell["class"]), "layer": str(cell["layer"])})
    key = next(k for k, v in sources.items() if v == source)
    params = {k: str(v) for k, v in view.items()}
    if st.query_params.to_dict() != {**params, "atlas": key}:
        st.query_params.from_dict({**params, "atlas": key})
    st.session_state[links.WRITTEN] = params  # what links.apply_link compares: this session wrote it
    st.session_state["_atlas_link"] = key
    params = {**params, "atlas": key}
    links.copy_link(params)
    if cell is not None:
        st.markdown(f"**Class `{cell['class']}`, layer `{cell['layer']}`**: mean FE {cell['mean_feature_entropy']:.4f}, "
                    f"mean selective rate {cell['mean_selective_rate']:.3f}, silent share {cell['silent_share']:.2f}.")
        c1, c2 = st.columns(2)
        if st.session_state.get("atlas_open_profiles") or st.session_state.get("atlas_open_gallery"):
            st.session_state.pop(links.WRITTEN, None)  # the opened page applies the cell's link, though this page wrote it
        if c1.button("Open in Layer profiles", key="atlas_open_profiles"):
            helpers.open_cell(helpers.LAYER_PROFILES, cell)
        if c2.button("Open in the unit gallery", key="atlas_open_gallery"):
            helpers.open_cell(helpers.UNIT_GALLERY, cell)



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
