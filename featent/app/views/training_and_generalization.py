"""Training and generalization: FE vs training loss over epochs (Fig. 5B), model sets with
different generalization (Fig. 6), and the layer trend of trained vs random init (Fig. 5A, 9)."""

from __future__ import annotations

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
from featent.app.mode import training_allowed
from featent.app.selection import model_options, sidebar_selection
from featent.errors import ModelError
from featent.experiments.dynamics import training_dynamics
from featent.experiments.model_sets import compare_models, layer_trend, model_set
from featent.pipeline import load_model
from featent.plots import experiments as plots_experiments
from featent.plots import profiles
from featent.spec import ModelSpec
from featent.training import family as family


def render() -> None:
    page_header(
        "Training and generalization",
        "Does feature entropy fall as a network learns, and does it tell apart networks that generalize from "
        "networks that memorized corrupted labels? Uses featent's own demo family: a checkpoint per training "
        "epoch (demo@epochN) and models trained on labels corrupted at 0-80% (demo-corrupt-X).",
        icon=":material/trending_down:",
    )
    ctx = sidebar_selection()
    sel = ctx.selection

    def _built(runs: list[family.FamilyRun]) -> bool:
        try:
            for run in runs:
                family.ensure_run(run, build=False)
        except ModelError:
            return False
        return True

    def _build_button(runs: list[family.FamilyRun], what: str, minutes: str, key: str) -> bool:
        """True when the runs exist; otherwise explain, offer to train them (with progress) and say False."""
        if _built(runs):
            return True
        st.info(f"{what} are not trained yet on this machine. Training is deterministic (seed {family.FAMILY_SEED}) and "
                f"takes {minutes} on a laptop CPU; the result is kept in the cache folder. "
                "Or run `featent train-family` in a terminal.", icon=":material/model_training:")
        if not training_allowed():  # a shared server trains only when its operator allows it
            st.caption("This server does not allow training; its operator can train them with `featent train-family`.")
            return False
        if not st.button(f"Train {what.lower()} now", key=key, icon=":material/play_arrow:"):
            return False
        with shown_in_place(), progress.status(f"Training {what.lower()}") as report:
            cached.bounded(lambda: [family.ensure_run(run, progress=report.subrange(k / len(runs), (k + 1) / len(runs)))
                                    for k, run in enumerate(runs)])
        st.rerun()  # draw the page again without the 'not trained yet' box and its button
        return True

    # --------------------------------------------------------------------------- training dynamics
    st.subheader("Feature entropy during training (Fig. 5B)")
    demo_layers = [info.name for info in load_model("demo").layers]
    d1, d2 = st.columns(2)
    scope = d1.radio("Classes", ("Selected class", "Average over all classes"), horizontal=True, key="tg_dyn_scope",
                     help="The average over classes is Eq. 15 of the paper.")
    dyn_layer = d2.selectbox("Layer", demo_layers, index=len(demo_layers) - 1, key="tg_dyn_layer",
                             help="The paper follows the last convolutional layer.")
    dyn_classes = [sel.class_name] if scope == "Selected class" else list(ctx.dataset.classes)
    if _build_button([family.base_run()], "The per-epoch checkpoints", "about a minute", "tg_build_base"):
        with shown_in_place(), progress.status(f"FE of {dyn_layer} at every epoch") as report:
            dyn = session_memo("tg_memo", ("dyn", sel.data, tuple(dyn_classes), dyn_layer, sel.n_images, sel.seed),
                               lambda: cached.computed(training_dynamics, sel.data, classes=dyn_classes, layer=dyn_layer,
                                                       n_images=sel.n_images, seed=sel.seed, progress=report))
        rows = dyn.to_frame().to_dict(orient="records")
        per_class = dyn.to_frame(average=False).to_dict(orient="records") if len(dyn_classes) > 1 else ()
        chart(where=st, fig=plots_experiments.dynamics_figure(rows, per_class), key="tg_dyn_fig")
        m1, m2, m3 = st.columns(3)
        m1.metric("FE at initialisation", f"{rows[0]['mean_feature_entropy']:.3f}")
        m2.metric("FE after training", f"{rows[-1]['mean_feature_entropy']:.3f}",
                  delta=f"{rows[-1]['mean_feature_entropy'] - rows[0]['mean_feature_entropy']:+.3f}", delta_color="inverse")
        r = dyn.correlation()
        m3.metric("Pearson r (loss, FE)", "n/a" if r != r else f"{r:.2f}",
                  help="Over epochs; the paper reports that FE and loss fall together.")
        dyn_frame = dyn.to_frame(average=False)
        csv_download(dyn_frame, f"training dynamics {dyn_layer}", "tg_csv_dyn")

    # --------------------------------------------------------------------------- model sets
    st.divider()
    st.subheader("Models with different generalization (Fig. 6)")
    SETS = {"Corrupted labels (model set B)": "corrupt", "Training checkpoints": "training", "Custom": None}
    s1, s2 = st.columns([1, 2])
    set_name = SETS[str(s1.radio("Model set", list(SETS), key="tg_set"))]
    if set_name is None:
        options = list(dict.fromkeys(family.family_specs() + model_options()))
        specs = s2.multiselect("Models", options, default=["demo", "demo:random"], key="tg_custom_models")
    else:
        specs = model_set(set_name)
        s2.caption("Models: " + ", ".join(specs))
    profile_classes = s2.multiselect("Classes for the layer profile", list(ctx.dataset.classes), default=[sel.class_name],
                                     key="tg_profile_classes")
    runs = [run for run in {family.run_for(s) for s in specs if family.parse_family_spec(s)}]
    ready = bool(specs and profile_classes) and _build_button(
        sorted(runs, key=lambda r: r.run_id), "The models of this set", f"about {max(1, len(runs))} minute(s)", "tg_build_set")
    if not specs or not profile_classes:
        st.info("Choose at least one model and one class.")
    if ready:
        with shown_in_place(), progress.status(f"Layer profiles of {len(specs)} models") as report:
            profile = session_memo("tg_memo", ("profile", tuple(specs), sel.data, tuple(profile_classes), sel.n_images, sel.seed),
                                   lambda: cached.computed(compare_models, specs, sel.data, classes=profile_classes,
                                                           n_images=sel.n_images, seed=sel.seed, progress=report))
        for note in profile.notes:
            st.info(note)
        chart(where=st, fig=profiles.layer_profile(profile.to_frame(),
                                            title=f"Layer profile, {len(profile_classes)} class(es)"), key="tg_profile_fig")
        last = profile.layers[-1]
        with shown_in_place(), progress.status(f"{last} over every class") as report:
            scatter = session_memo("tg_memo", ("scatter", tuple(specs), sel.data, last, sel.n_images, sel.seed),
                                   lambda: cached.computed(compare_models, specs, sel.data, layers=[last], n_images=sel.n_images,
                                                           seed=sel.seed, with_accuracy=False, progress=report))
        chart(where=st, fig=plots_experiments.model_set_scatter(scatter.last_layer_rows(),
                                                            title=f"{last}: FE vs selective rate, one point per class"),
                        key="tg_scatter_fig")
        acc = pd.DataFrame(profile.accuracy)
        st.dataframe(acc, hide_index=True, key="tg_accuracy",
                     column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("train_accuracy", "test_accuracy")})
        st.caption("Train accuracy is on the labels each model was trained on (corrupted ones included).")
        csv_download(pd.DataFrame(profile.profile + scatter.profile), "model set profile", "tg_csv_set")

    # --------------------------------------------------------------------------- layer trend
    st.divider()
    st.subheader(f"Layer trend of {sel.model}: trained vs random init (Fig. 5A, 9)")
    k_random = st.slider("Random-init models", 1, 10, 2, key="tg_trend_random",
                         help="Seeds 0..K-1 of the same architecture; the band is one standard deviation.")
    if ModelSpec.parse(sel.model).is_random:
        st.info("The chosen model is itself a random init; choose a trained model in the sidebar.")
    else:
        with shown_in_place(), progress.status(f"Every layer of {sel.model} and {k_random} random inits") as report:
            trend_key = ("trend", sel.model, sel.weights, sel.data, sel.class_name, k_random, sel.n_images, sel.seed)
            trend = session_memo("tg_memo", trend_key,
                                 lambda: cached.computed(layer_trend, sel.model, sel.data, classes=[sel.class_name],
                                                         n_random=k_random, n_images=sel.n_images, seed=sel.seed,
                                                         weights=sel.weights, progress=report))
        t1, t2 = st.columns(2)
        chart(where=t1, fig=plots_experiments.layer_trend_figure(trend.profile, title="Mean feature entropy per layer"),
              key="tg_trend_fe")
        chart(where=t2, fig=plots_experiments.layer_trend_figure(trend.profile, value="mean_selective_rate",
                                                             title="Mean selective rate per layer"), key="tg_trend_rate")
        csv_download(trend.to_frame(), f"layer trend {sel.model}", "tg_csv_trend")
    figure_downloads()



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
