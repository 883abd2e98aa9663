"""Regression tests for the app defects a new user met: each one as the user saw it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tomllib
from apptest_support import APP, TIMEOUT, assert_clean, open_app
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_class_offers_and_counts_only_its_sampled_images(image_folder) -> None:
    at = open_app()
    at.radio(key="_w_data_mode").set_value("Image folder").run()
    at.text_input(key="_w_data_path").input(str(image_folder)).run()
    at.switch_page("featent/app/views/unit_inspector.py").run()  # class 'cat' has 6 images, 100 asked
    assert_clean(at)
    image_box = at.number_input(key="_w_image")
    assert image_box.max == 5 and image_box.label == "Image (0..5)"
    assert any("of 6 sampled images of class 'cat'" in c.value for c in at.caption)


def test_a_typed_spec_is_read_as_typed_and_a_spec_without_name_says_so() -> None:
    at = open_app()
    at.selectbox(key="_w_model").set_value("Other spec…").run()
    at.text_input(key="_w_model_spec").input("vgg11:random@64").run()
    assert_clean(at)
    layers = at.dataframe[0].value
    assert layers["unit size m"].iloc[0] == "64 x 64"
    assert at.query_params["model"] == "vgg11:random@64"
    at.text_input(key="_w_model_spec").input(":random@64").run()
    assert not at.exception
    assert len(at.error) == 1 and "no model name" in at.error[0].value and "Unknown model ''" not in at.error[0].value


def test_app_errors_never_ask_for_command_line_options() -> None:
    from featent.app.errors import app_wording

    library = ("Pretrained weights for vgg11 are not in the local torch cache (/x) and featent never downloads; use "
               "'vgg11:random' for a random init or --weights PATH for your own checkpoint.")
    worded = app_wording(library)
    assert "--weights" not in worded and "'Weights' in the sidebar" in worded
    at = open_app()
    at.selectbox(key="_w_model").set_value("vgg11").run()
    assert not at.exception
    assert all("--weights" not in e.value for e in at.error)


def test_a_folder_given_as_checkpoint_says_it_is_a_folder(tmp_path) -> None:
    at = open_app()
    at.radio(key="_w_weights_mode").set_value("Checkpoint path").run()
    at.text_input(key="_w_weights_path").input(str(tmp_path)).run()
    assert not at.exception
    assert len(at.error) == 1 and "is a folder, not a checkpoint file" in at.error[0].value


def test_a_bad_upload_is_named_by_its_file_name(tmp_path) -> None:
    from featent.app.selection import saved_upload

    stored = saved_upload(b"not a checkpoint at all")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["sel_weights_mode"] = "Upload checkpoint"
    at.session_state["sel_upload_path"] = stored
    at.session_state["sel_upload_name"] = "my_weights.pt"
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "my_weights.pt" in at.error[0].value and stored not in at.error[0].value


def test_thumbnails_are_captioned_alike_on_every_page() -> None:
    at = open_app()
    home = [i.caption for element in at.get("image") for i in element.proto.imgs]
    assert home and all(c.startswith(f"#{k} · ") for k, c in enumerate(home))
    at.switch_page("featent/app/views/birth_distribution.py").run()
    members = [i.caption for element in at.get("image") for i in element.proto.imgs]
    assert members and all(c.startswith("#") and " · " in c for c in members)


def test_progress_text_and_bar_tell_the_same_fraction() -> None:
    def script() -> None:
        from featent.app.progress import status_progress

        report, _ = status_progress("Ablating")
        report.subrange(0.25, 0.45)(0.5, "fe-desc: 9/10 units removed")

    at = AppTest.from_function(script, default_timeout=30)
    at.run()
    bar = at.get("progress")[0]
    assert bar.proto.value == 35 and bar.proto.text.endswith("35% of the whole run")


def test_library_warnings_are_warnings_on_the_page_not_progress_text() -> None:
    def script() -> None:
        from featent.app.progress import status

        with status("Computing") as report:
            report(0.5, "half")
            report.warn("results are not cached")
            report.warn("results are not cached")

    at = AppTest.from_function(script, default_timeout=30)
    at.run()
    assert [w.value for w in at.warning] == ["results are not cached"]
    assert all("results are not cached" not in bar.proto.text for bar in at.get("progress"))


def test_theme_is_left_to_the_user_and_the_settings_menu_shows() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert "base" not in config.get("theme", {}) and "backgroundColor" not in config.get("theme", {})
    assert config["client"]["toolbarMode"] in ("auto", "viewer")


def test_plot_defects_stay_fixed() -> None:
    from plotly.colors import hex_to_rgb

    from featent.plots import ablation as plots_ablation
    from featent.plots import experiments as plots_experiments

    fig = plots_experiments.randomness_figure({"l1_norm": 1.0}, {"l1_norm": np.array([0.5, 1.5])}, indicators=("l1_norm",))
    assert fig.layout.legend.y < 0  # below the panels, not over a panel title
    rescale = plots_experiments.rescale_figure([{"images": 1.0, "filters": 1.0, "l1_norm": 2.0}], indicators=("l1_norm",))
    assert rescale.layout.shapes[1].y0 == 0.5
    assert rescale.layout.annotations[0].text == "half" and rescale.layout.annotations[0].x < 1.0
    from featent.experiments.masking import AblationCurve

    flat = np.linspace(1.0, 0.0, 5)
    orders = ("h_over_eps-desc", "h_over_eps-asc")
    curves = {order: AblationCurve(order, np.arange(4), flat, flat, flat, flat) for order in orders}
    lines = {t.name: t.line.color for t in plots_ablation.ablation_curves(curves).data if t.line.color}
    a, b = (np.array(hex_to_rgb(colour)) for colour in list(dict.fromkeys(lines.values()))[:2])
    assert np.abs(a - b).sum() > 200  # FE descending and ascending are told apart at a glance
    dyn = plots_experiments.dynamics_figure([{"epoch": e, "loss": 1.0 / (e + 1), "mean_feature_entropy": 2.7 + 0.37 * e}
                                             for e in range(3)])
    step = dyn.layout.yaxis2.dtick
    assert step in (0.1, 0.2, 0.25, 0.5)  # round FE ticks, not 2.707, 3.076, ...


def test_how_it_works_comparison_does_not_reward_a_silent_unit() -> None:
    at = open_app("featent/app/views/how_it_works.py")
    at.radio(key="hiw_example").set_value("Random unit").run()  # m = 5, seed 0: no birth; copies fire on 21 of 100
    at.segmented_control(key="hiw_stage").set_value("8 Class").run()
    copies = json.loads(next(c for c in at.get("plotly_chart") if c.key == "hiw_hist_a").proto.spec)
    no_birth = copies["data"][0]
    assert no_birth["x"] == ["no birth"] and abs(no_birth["y"][0] - 0.79) < 1e-9  # the silent images are drawn
    at.segmented_control(key="hiw_stage").set_value("9 Entropy").run()
    table = next(d.value for d in at.dataframe if "units" in d.value.columns).set_index("units")
    copies_row, random_row = table.loc["noisy copies of this unit"], table.loc["unrelated random 5 x 5 units"]
    assert copies_row["ε"] == 0.21 and copies_row["FE H"] < random_row["FE H"]  # FE alone would mislead...
    assert copies_row["H/ε (paper's ranking)"] > random_row["H/ε (paper's ranking)"]  # ...H/ε does not
    assert any("describes those few" in w.value for w in at.warning)
