"""Ablation and pruning: remove units by FE or other indicators (paper App. A.7) and sort units into roles."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from featent.app import cached, progress
from featent.app.errors import shown_in_place
from featent.app.layout import chart, figure_downloads, page_header
from featent.app.selection import layer_and_unit, sidebar_selection
from featent.experiments.ablation import DEFAULT_ORDERS, SUMMARY_ORDERS, cumulative_ablation, enhancement_summary
from featent.experiments.pruning import PRUNE_METHODS, compare_pruning
from featent.experiments.roles import ROLE_LABELS, unit_roles
from featent.indicators.registry import ALL_ORDERS, canonical_order, method_label, order_label
from featent.plots import ablation as plots_ablation

RATIOS = [0.4, 0.5, 0.6]


def render() -> None:
    page_header(
        "Ablation and pruning",
        "Remove the units of a layer one by one in the order an indicator gives and watch the class's test "
        "accuracy and loss (paper App. A.7.1); prune whole networks by each indicator and fine-tune (A.7.2); "
        "sort units into four roles by their FE on training and test images.",
        icon=":material/content_cut:",
    )
    ctx = sidebar_selection()
    sel = ctx.selection

    def _csv(frame: pd.DataFrame) -> str:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        return buffer.getvalue()

    def _results() -> dict:
        return st.session_state.setdefault("abl_results", {})

    def _stored(key: tuple, experiment, *args, **kwargs):
        """A result an earlier run stored on disk (none is computed here), kept in this session too."""
        found = cached.stored_result(experiment, *args, **kwargs)
        if found is not None:
            _results()[key] = found
        return found

    def _tag(text: str) -> str:
        return text.replace(":", "-").replace("/", "_").replace("@", "-")

    c_layer, c_note = st.columns([1, 3], vertical_alignment="bottom")
    layer, _ = layer_and_unit(ctx.model, with_unit=False, where=(c_layer, c_layer))
    c_note.caption(f"Units are ranked on the {sel.n_images} training images of each class chosen in the sidebar "
                   f"(seed {sel.seed}); accuracy and loss come from test images.")
    one = ctx.for_layers(layer)

    tab_curves, tab_summary, tab_prune, tab_roles = st.tabs(
        ["Ablation curves", "Enhancement summary (Table 11)", "Pruning (Table 12)", "Unit roles"]
    )

    # --------------------------------------------------------------------------- ablation curves
    with tab_curves:
        if "abl_orders" in st.session_state:  # a session may hold orders in an older spelling
            st.session_state["abl_orders"] = [canonical_order(o) for o in st.session_state["abl_orders"]]
        orders = st.multiselect("Orders", ALL_ORDERS, default=list(DEFAULT_ORDERS), key="abl_orders", format_func=order_label,
                                help="'descending' and 'ascending' refer to the indicator's value. FE descending removes the "
                                     "least effective units first (Fig. 12B), FE ascending the most effective (Fig. 12A).")
        c2, c3, _ = st.columns([1, 1, 2], vertical_alignment="bottom")
        test_per_class = int(c2.number_input("Test images per class", 1, 1000, 50, key="abl_test_n"))
        metric = str(c3.radio("Top chart", ["accuracy", "balanced_accuracy"], key="abl_metric",
                          format_func=lambda m: {"accuracy": "class accuracy", "balanced_accuracy": "balanced accuracy"}[m]))
        key: tuple = ("curves", one, tuple(orders), test_per_class)
        if st.button("Run ablation", icon=":material/play_arrow:", key="abl_run", type="primary", disabled=not orders):
            with shown_in_place(stop=False), progress.status(f"Ablating {layer} for class {sel.class_name}") as report:
                _results()[key] = cached.computed(cumulative_ablation, one, orders=orders, test_per_class=test_per_class,
                                                  progress=report)
        result = _results().get(key) or _stored(key, cumulative_ablation, one, orders=orders, test_per_class=test_per_class)
        if result is None:
            st.info("Choose the orders and press **Run ablation** (about half a minute for the demo's last layer).")
        else:
            for note in result.notes:
                st.warning(note)
            st.caption(f"{result.n_test_target} test images of class '{result.class_name}' and {result.n_test_total} test "
                       "images in all. Balanced accuracy: one class vs the rest, the mean of the two recalls.")
            chart(where=st, fig=plots_ablation.ablation_curves(result.curves, metric=metric,
                            title=f"{layer}, class '{result.class_name}': cumulative ablation"), key="abl_chart")
            points = result.to_frame()
            best = pd.DataFrame([
                {"order": o, "method": c.label, "accuracy before": c.accuracy[0],
                 "best accuracy": float(c.accuracy[1:-1].max()) if len(c.accuracy) > 2 else c.accuracy[0],
                 "best balanced accuracy": c.best()[1], "units removed at best": c.best()[0],
                 "loss with all removed": c.loss[-1]}
                for o, c in result.curves.items()
            ])
            st.dataframe(best, hide_index=True, key="abl_table", width="stretch")
            st.download_button("Download curve points (CSV)", _csv(points), icon=":material/download:", mime="text/csv",
                               file_name=f"ablation_{_tag(sel.model)}_{layer}_class{sel.class_name}.csv", key="abl_csv")

    # --------------------------------------------------------------------------- Table 11
    with tab_summary:
        c1, c2 = st.columns([2, 3])
        classes = c1.multiselect("Classes", list(ctx.dataset.classes), default=list(ctx.dataset.classes), key="abl_sum_classes")
        if "abl_sum_orders" in st.session_state:
            st.session_state["abl_sum_orders"] = [canonical_order(o) for o in st.session_state["abl_sum_orders"]]
        sum_orders = c2.multiselect("Methods", ALL_ORDERS, default=list(SUMMARY_ORDERS), key="abl_sum_orders",
                                    format_func=order_label)
        key = ("summary", one, tuple(classes), tuple(sum_orders), test_per_class)
        st.caption("For each class: ablate the layer in each order, take the best balanced accuracy with 1..n−1 units "
                   "removed, and average over the classes, as in the paper's Table 11.")
        if st.button("Run summary", icon=":material/play_arrow:", key="abl_sum_run", disabled=not classes or not sum_orders):
            with shown_in_place(stop=False), progress.status(f"Ablating {layer} for {len(classes)} classes") as report:
                _results()[key] = cached.computed(enhancement_summary, one, classes=classes, orders=sum_orders,
                                                  test_per_class=test_per_class, progress=report)
        summary = _results().get(key) or _stored(key, enhancement_summary, one, classes=classes, orders=sum_orders,
                                                 test_per_class=test_per_class)
        if summary is None:
            st.info("Press **Run summary** (one ablation per class and method; a few minutes for all digits).")
        else:
            rows = summary.rows
            table = summary.to_frame()
            st.dataframe(table, hide_index=True, key="abl_sum_table", width="stretch")
            chart(where=st, fig=plots_ablation.summary_bars(rows), key="abl_sum_chart")
            st.download_button("Download summary (CSV)", _csv(table), icon=":material/download:", mime="text/csv",
                               file_name=f"ablation_summary_{_tag(sel.model)}_{layer}.csv", key="abl_sum_csv")

    # --------------------------------------------------------------------------- Table 12
    with tab_prune:
        c1, c2, c3 = st.columns(3)
        ratio = c1.select_slider("Pruning ratio per layer", RATIOS, value=0.5, key="abl_ratio",
                                 format_func=lambda r: f"{r:.0%}")
        methods = c2.multiselect("Methods", list(PRUNE_METHODS), default=list(PRUNE_METHODS), key="abl_methods",
                                 format_func=method_label)
        k_classes = int(c3.number_input("Classes K to score units on", 1, len(ctx.dataset.classes),
                                        len(ctx.dataset.classes), key="abl_k"))
        c4, c5, c6, c7 = st.columns(4)
        prune_images = int(c4.number_input("Images per class (scoring)", 2, 1000, 50, key="abl_prune_images"))
        epochs = int(c5.number_input("Fine-tuning epochs", 0, 20, 3, key="abl_epochs",
                                     help="SGD, learning rate ÷10 each epoch (A.7.2)."))
        lr = float(c6.number_input("Learning rate", 1e-5, 1.0, 1e-3, format="%.5f", key="abl_lr"))
        per_class = int(c7.number_input("Train / test images per class", 1, 100000, 1000, key="abl_per_class"))
        key = ("prune", sel.model, sel.weights, sel.data, sel.seed, ratio, tuple(methods), k_classes, prune_images, epochs, lr,
               per_class)
        prune_selection = sel.replace(layers=(), n_images=prune_images)
        prune_args = {"ratio": ratio, "methods": methods, "classes": list(ctx.dataset.classes)[:k_classes],
                      "finetune_epochs": epochs, "lr": lr, "train_per_class": per_class, "test_per_class": per_class}
        st.caption("Every conv layer, shallow to deep: score units on K classes (FE: H/ε averaged, Eq. 15), remove the "
                   "least important filters with their input channels in the next layer, then fine-tune. VGG-style nets only.")
        if st.button("Run pruning", icon=":material/play_arrow:", key="abl_prune_run", disabled=not methods):
            with shown_in_place(stop=False), progress.status(f"Pruning {sel.model} at {ratio:.0%}") as report:
                _results()[key] = cached.computed(compare_pruning, prune_selection, **prune_args, progress=report)
        pruned = _results().get(key) or _stored(key, compare_pruning, prune_selection, **prune_args)
        if pruned is None:
            st.info("Press **Run pruning** (about a minute per method for the demo on a CPU).")
        else:
            table = pruned.to_frame().drop(columns=["removed"], errors="ignore")
            st.dataframe(table, hide_index=True, key="abl_prune_table", column_config={
                "flops": st.column_config.NumberColumn("conv FLOPs", format="%d"),
                "images_per_second": st.column_config.NumberColumn("images/s", format="%.0f"),
            })
            st.caption(f"Accuracy on {pruned.n_test} test images; fine-tuned on {pruned.n_train} training images for "
                       f"{pruned.finetune_epochs} epochs. images/s measured on this machine.")
            chart(where=st, fig=plots_ablation.pruning_bars(pruned.rows), key="abl_prune_chart")
            st.download_button("Download pruning results (CSV)", _csv(table), icon=":material/download:", mime="text/csv",
                               file_name=f"pruning_{_tag(sel.model)}_{int(ratio * 100)}.csv", key="abl_prune_csv")

    # --------------------------------------------------------------------------- roles
    with tab_roles:
        roles = None
        with shown_in_place(stop=False), progress.status(f"Birth times of {layer} on training and test images") as report:
            roles = cached.computed(unit_roles, one, progress=report)
        if roles is not None:
            custom = st.toggle("Set thresholds by hand", key="abl_roles_custom",
                               help="Default: the median FE of the layer's valid units (selective rate ≥ p) over training and "
                                    "test images pooled; silent units cannot drag it up.")
            if custom:
                lo = float(min(roles.fe_train.min(), roles.fe_test.min()))
                hi = float(max(roles.fe_train.max(), roles.fe_test.max()))
                c1, c2 = st.columns(2)
                t_train = c1.slider("Training threshold", lo, max(hi, lo + 1e-6), roles.train_threshold, key="abl_t_train")
                t_test = c2.slider("Test threshold", lo, max(hi, lo + 1e-6), roles.test_threshold, key="abl_t_test")
                roles = roles.with_thresholds(t_train, t_test)
            st.caption(f"A unit is effective on a set when its FE there is at most the threshold: training "
                       f"{roles.train_threshold:.3f}, test {roles.test_threshold:.3f} ({roles.n_images} images on each side).")
            counts = roles.counts()
            cols = st.columns(4)
            for col, (role, n) in zip(cols, counts.items()):
                col.metric(ROLE_LABELS[role], n)
            left, right = st.columns([3, 2], gap="large")
            chart(where=left, fig=plots_ablation.roles_scatter(roles), key="abl_roles_chart")
            frame = roles.to_frame()
            right.dataframe(frame, hide_index=True, key="abl_roles_table", height=420)
            right.download_button("Download roles (CSV)", _csv(frame), icon=":material/download:", mime="text/csv",
                                  file_name=f"roles_{_tag(sel.model)}_{layer}_class{sel.class_name}.csv", key="abl_roles_csv")
    figure_downloads()



if __name__ == "__main__":  # run by the app's navigation as this page's script
    render()
