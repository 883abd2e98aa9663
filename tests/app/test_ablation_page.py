"""The ablation page: roles on load, each long run behind its button with results, CSV, errors in place."""

from __future__ import annotations

from apptest_support import APP, TIMEOUT, assert_clean, default_classes, open_app
from streamlit.testing.v1 import AppTest

PAGE = "featent/app/views/ablation_and_pruning.py"


def _frame(at: AppTest, column: str):
    """The table that has ``column`` (AppTest does not expose dataframe keys)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _download_labels(at: AppTest) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def test_roles_show_on_load_and_follow_the_thresholds() -> None:
    at = open_app(PAGE, n_images=12)
    assert at.selectbox(key="_w_layer").value == "block3_conv2"
    table = _frame(at, "role")
    assert len(table) == 64 and set(table["role"]) <= {"both", "train-only", "test-only", "neither"}
    assert sum(int(m.value) for m in at.metric) == 64
    assert "Download roles (CSV)" in _download_labels(at)
    at.toggle(key="abl_roles_custom").set_value(True).run()
    low = at.slider(key="abl_t_train").min
    at.slider(key="abl_t_train").set_value(low).run()
    at.slider(key="abl_t_test").set_value(low).run()
    assert_clean(at)
    roles = _frame(at, "role")["role"]
    assert (roles.isin(["neither", "both", "train-only", "test-only"])).all()
    assert (roles == "neither").sum() >= 32  # almost nothing is at or below the smallest FE


def test_ablation_curves_run_on_the_button() -> None:
    at = open_app(PAGE, n_images=12)
    assert any("Run ablation" in i.value for i in at.info)
    at.multiselect(key="abl_orders").set_value(["h_over_eps-desc", "random"]).run()
    at.number_input(key="abl_test_n").set_value(5).run()
    at.button(key="abl_run").click().run()
    assert_clean(at)
    best = _frame(at, "best balanced accuracy")
    assert list(best["order"]) == ["h_over_eps-desc", "random"]
    assert "Download curve points (CSV)" in _download_labels(at)
    assert len(at.get("plotly_chart")) >= 2  # curves + roles


def test_summary_and_pruning_run_with_small_settings() -> None:
    at = open_app(PAGE, n_images=12)
    two = default_classes()[1:3]
    at.multiselect(key="abl_sum_classes").set_value(two).run()
    assert at.multiselect(key="abl_sum_classes").value == two
    at.multiselect(key="abl_sum_orders").set_value(["h_over_eps-desc", "l1_norm-asc"]).run()
    at.number_input(key="abl_test_n").set_value(5).run()
    at.button(key="abl_sum_run").click().run()
    assert_clean(at)
    summary = _frame(at, "enhanced")
    assert list(summary["order"]) == ["h_over_eps-desc", "l1_norm-asc"] and set(summary["classes"]) == {2}

    at.multiselect(key="abl_methods").set_value(["l1_norm"]).run()
    at.number_input(key="abl_k").set_value(2).run()
    at.number_input(key="abl_prune_images").set_value(4).run()
    at.number_input(key="abl_epochs").set_value(1).run()
    at.number_input(key="abl_per_class").set_value(6).run()
    at.button(key="abl_prune_run").click().run()
    assert_clean(at)
    table = _frame(at, "parameters")
    assert list(table["method"]) == ["unpruned", "l1_norm"]
    assert table["parameters"].iloc[1] < table["parameters"].iloc[0]
    assert "Download pruning results (CSV)" in _download_labels(at)


def test_pruning_a_net_whose_outputs_are_not_the_classes_is_an_error_in_place() -> None:
    """resnet18 has 1000 outputs and no class names at random init: its accuracy on 10 Fashion classes
    would be meaningless, so pruning it is refused in place with how to give a mapping."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.selectbox(key="_w_model").set_value("resnet18:random").run()
    at.number_input(key="_w_n_images").set_value(4).run()
    at.switch_page(PAGE).run()
    at.multiselect(key="abl_methods").set_value(["l1_norm"]).run()
    at.button(key="abl_prune_run").click().run()
    assert not at.exception
    assert any("class" in e.value and "map" in e.value for e in at.error), [e.value for e in at.error]
