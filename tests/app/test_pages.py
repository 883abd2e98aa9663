"""Every page runs on the default selection (demo, fashion, its first class) and reacts to one interaction.

Runs the real scripts in-process with streamlit.testing.v1.AppTest (no browser); opening and the
clean-run check are shared with the other page tests in ``apptest_support``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from apptest_support import (
    APP,
    DEFAULT_DATA,
    TIMEOUT,
    assert_clean,
    default_classes,
    open_app,
)
from streamlit.testing.v1 import AppTest


def _charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_home_shows_layers_and_class_and_follows_the_class_picker() -> None:
    at = open_app()
    layers = at.dataframe[0].value
    assert list(layers["layer"]) == [f"block{b}_conv{c}" for b in (1, 2, 3) for c in (1, 2)]
    classes = default_classes()
    assert at.selectbox(key="_w_class_name").options == classes
    assert any(s.value == f"Class '{classes[0]}' of {DEFAULT_DATA}" for s in at.subheader)
    at.selectbox(key="_w_class_name").set_value(classes[3]).run()
    assert_clean(at)
    assert any(s.value == f"Class '{classes[3]}' of {DEFAULT_DATA}" for s in at.subheader)


def test_selection_persists_across_pages() -> None:
    at = open_app()
    chosen = default_classes()[7]
    at.selectbox(key="_w_class_name").set_value(chosen).run()
    at.number_input(key="_w_n_images").set_value(40).run()
    at.switch_page("featent/app/views/how_it_works.py").run()  # a page without the sidebar selection
    at.switch_page("featent/app/views/unit_inspector.py").run()
    assert_clean(at)
    assert at.selectbox(key="_w_class_name").value == chosen
    assert at.number_input(key="_w_image").max == 39


def _assert_fe_parts(at: AppTest, unit: int) -> None:
    """The "what this FE is made of" panel shows the unit's frequency, silence, stability and its null, size."""
    from featent.pipeline import Selection, layer_results

    assert any(e.label == "What this FE is made of" for e in at.expander)
    table = next(d.value for d in at.dataframe if "part" in d.value.columns)
    parts = dict(zip(table["part"], table["value"]))
    layer = at.selectbox(key="_w_layer").value
    result = layer_results(Selection("demo", DEFAULT_DATA, at.selectbox(key="_w_class_name").value, (layer,),
                                     n_images=at.number_input(key="_w_n_images").value,
                                     seed=at.number_input(key="_w_seed").value), baselines=True)[layer]
    cond = result.conditional_feature_entropy[unit]
    assert parts["stability H(x | born)"] == ("n/a" if np.isnan(cond) else f"{cond:.3f}")
    assert parts["frequency ε"] == f"{result.selective_rate[unit]:.2f}"
    assert parts["size reference"] == f"{result.size_reference:.3f}" and "null H(x | born)" in parts


def test_unit_inspector_start_step_and_unit_change_what_is_shown() -> None:
    at = open_app("featent/app/views/unit_inspector.py")
    keys = [c.key for c in at.get("plotly_chart")]
    assert {"insp_image", "insp_play", "insp_barcode", "insp_adj"} <= set(keys)
    play = json.loads(next(c for c in at.get("plotly_chart") if c.key == "insp_play").proto.spec)
    assert play["frames"] and play["layout"]["updatemenus"][0]["buttons"][0]["method"] == "animate"
    at.number_input(key="_w_step").set_value(1).run()
    play = json.loads(next(c for c in at.get("plotly_chart") if c.key == "insp_play").proto.spec)
    assert play["layout"]["sliders"][0]["active"] == 0
    assert at.query_params["step"] == "1"
    before = [m.value for m in at.markdown if m.value.startswith("**FE**")]
    at.number_input(key="_w_unit").set_value(5).run()
    assert_clean(at)
    assert [m.value for m in at.markdown if m.value.startswith("**FE**")] != before
    assert at.query_params["unit"] == "5"
    _assert_fe_parts(at, unit=5)


def test_birth_distribution_lists_the_images_of_a_chosen_birth_time() -> None:
    from featent.pipeline import Selection, layer_results
    from featent.plots.births import NO_BIRTH

    at = open_app("featent/app/views/birth_distribution.py")
    assert _charts(at) == 2
    layer = at.selectbox(key="_w_layer").value
    births = layer_results(Selection("demo", DEFAULT_DATA, at.selectbox(key="_w_class_name").value, (layer,),
                                     n_images=at.number_input(key="_w_n_images").value,
                                     seed=at.number_input(key="_w_seed").value))[layer].births
    # the first unit with two different birth times (real bars, not the 'no birth' one)
    unit = next(u for u in range(births.shape[1]) if np.unique(births[:, u][births[:, u] > 0]).size >= 2)
    if unit != at.number_input(key="_w_unit").value:
        at.number_input(key="_w_unit").set_value(unit).run()
    steps = np.unique(births[:, unit][births[:, unit] > 0]).tolist()
    _assert_fe_parts(at, unit=unit)
    picker = at.selectbox(key="bd_pick")
    assert picker.options == [str(s) for s in steps] + ([NO_BIRTH] if (births[:, unit] == 0).any() else [])
    shown = lambda: next(m.value for m in at.markdown if "with birth time" in m.value)  # noqa: E731
    seen = []
    for step in (steps[0], steps[-1]):
        at.selectbox(key="bd_pick").set_value(step).run()
        assert_clean(at)
        count = int((births[:, unit] == step).sum())
        assert shown().startswith(f"**{count} image{'s' if count != 1 else ''}** with birth time {step}")
        seen.append(shown())
    assert seen[0] != seen[1]
    at.radio(key="bd_mode").set_value("another model").run()
    assert_clean(at)
    assert at.selectbox(key="bd_other_model").value == "demo:random"


def test_layer_profiles_average_over_the_chosen_classes() -> None:
    at = open_app("featent/app/views/layer_profiles.py")
    assert _charts(at) == 3
    assert at.multiselect(key="lp_models").value == ["demo", "demo:random"]
    classes = default_classes()
    assert at.multiselect(key="lp_classes").value == classes[:3]  # the chosen class and the next two
    table = at.dataframe[0].value
    assert set(table["classes"]) == {3} and len(table) == 12
    at.multiselect(key="lp_classes").set_value([classes[0], classes[5]]).run()
    assert_clean(at)
    assert set(at.dataframe[0].value["classes"]) == {2}
    assert list(at.dataframe[1].value.columns[-2:]) == [f"FE class {classes[0]}", f"FE class {classes[5]}"]


def test_how_it_works_tells_the_stages_in_order_and_switches_to_random() -> None:
    at = open_app("featent/app/views/how_it_works.py")
    assert at.segmented_control(key="hiw_stage").value.startswith("1 ")
    seen = []
    for _ in range(8):
        at.button(key="hiw_next").click().run()
        assert_clean(at)
        seen.append(at.segmented_control(key="hiw_stage").value)
    assert [s.split(" ", 1)[0] for s in seen] == [str(k) for k in range(2, 10)]
    at.segmented_control(key="hiw_stage").set_value("5 Born hole").run()
    assert any("At step 4 a hole is born" in m.value and "4 – 2 – 1 – 3 – 4" in m.value for m in at.markdown)
    at.radio(key="hiw_example").set_value("Random unit").run()
    assert_clean(at)
    assert at.slider(key="hiw_m").value == 5
    assert at.query_params["stage"] == "5" and at.query_params["example"] == "random"


def test_how_it_works_restores_stage_example_seed_step_and_an_edited_unit_from_its_link() -> None:
    at = open_app()  # a fresh session opening the link
    at.query_params.update({"stage": "6", "example": "random", "m": "6", "seed": "3", "step": "7"})
    at.switch_page("featent/app/views/how_it_works.py").run()
    assert_clean(at)
    assert at.segmented_control(key="hiw_stage").value == "6 Betti"
    assert at.radio(key="hiw_example").value == "Random unit"
    assert (at.slider(key="hiw_m").value, at.number_input(key="hiw_seed").value) == (6, 3)
    assert at.number_input(key="hiw_step").value == 7
    assert any("Copy link" in c.value for c in at.caption)
    edited = "0.1,0.9,0.2;0.3,0.15,0.8;0.7,0.2,0.1"
    at2 = open_app()
    at2.query_params.update({"stage": "4", "example": "toy", "unit": edited, "step": "2"})
    at2.switch_page("featent/app/views/how_it_works.py").run()
    assert_clean(at2)
    assert at2.query_params["unit"] == edited and at2.query_params["step"] == "2"
    assert at2.number_input(key="hiw_step").max == 9  # the edited 3 x 3 unit: 9 steps


def test_checkpoint_given_by_path_is_loaded(tmp_path) -> None:
    import torch

    from featent.pipeline import load_model

    path = tmp_path / "my_demo.pt"
    torch.save(load_model("demo:random").module.state_dict(), path)
    at = open_app()
    at.radio(key="_w_weights_mode").set_value("Checkpoint path").run()
    at.text_input(key="_w_weights_path").input(str(path)).run()
    assert_clean(at)
    assert any("my_demo.pt" in c.value for c in at.sidebar.caption)


def test_image_folder_data_drives_the_pages(image_folder) -> None:
    at = open_app()
    at.radio(key="_w_data_mode").set_value("Image folder").run()
    at.text_input(key="_w_data_path").input(str(image_folder)).run()
    assert_clean(at)
    assert at.selectbox(key="_w_class_name").options == ["cat", "dog"]
    assert any("unreadable files" in c.value for c in at.sidebar.caption)  # the two broken dog files
    at.selectbox(key="_w_class_name").set_value("dog").run()
    at.switch_page("featent/app/views/birth_distribution.py").run()
    assert_clean(at)
    histogram = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "|Ω| = 4," in histogram["layout"]["title"]["text"]  # the 4 readable dog images, of 100 asked
    assert at.text_input(key="_w_data_path").value == str(image_folder)


def test_clear_cache_empties_the_store() -> None:
    at = open_app("featent/app/views/birth_distribution.py")  # computes and stores births
    at.switch_page("featent/app/views/home.py").run()
    entries = lambda: next(c.value for c in at.caption if "entries" in c.value)  # noqa: E731
    assert " 0 entries" not in entries()
    at.button(key="home_clear").click().run()
    assert_clean(at)
    assert " 0 entries" in entries()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda at: (at.radio(key="_w_data_mode").set_value("Image folder").run(),
                     at.text_input(key="_w_data_path").input("/no/such/folder").run()), "folder"),
        (lambda at: (at.radio(key="_w_weights_mode").set_value("Checkpoint path").run(),
                     at.text_input(key="_w_weights_path").input("/no/such/checkpoint.pt").run()), "checkpoint"),
    ],
    ids=["bad-folder", "bad-checkpoint"],
)
def test_bad_input_is_shown_in_place_without_a_traceback(setup, message: str) -> None:
    at = open_app()
    setup(at)
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value.lower()


def test_unknown_typed_model_spec_is_shown_in_place() -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["sel_model"] = "resnet9000"  # as if typed into the model box
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "unknown model" in at.error[0].value.lower()


def test_uploaded_checkpoints_are_stored_privately_by_content() -> None:
    import os
    import stat

    from featent.app.selection import saved_upload

    first = saved_upload(b"weights-bytes")
    assert saved_upload(b"weights-bytes") == first and saved_upload(b"other") != first
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(first)).st_mode) == 0o700


@pytest.mark.parametrize(
    "page",
    ["featent/app/views/unit_inspector.py", "featent/app/views/birth_distribution.py", "featent/app/views/layer_profiles.py",
     "featent/app/views/indicators.py", "featent/app/views/ablation_and_pruning.py"],
)
def test_nan_activations_from_a_checkpoint_are_an_error_in_place(tmp_path, page: str) -> None:
    """A checkpoint whose weights are NaN: the page says which layer/image is not finite, no traceback."""
    import torch

    from featent.pipeline import load_model

    state = load_model("demo").module.state_dict()
    state = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state.items()}
    path = tmp_path / "broken.pt"
    torch.save(state, path)
    at = open_app()
    at.radio(key="_w_weights_mode").set_value("Checkpoint path").run()
    at.text_input(key="_w_weights_path").input(str(path)).run()
    at.switch_page(page).run()
    assert not at.exception
    assert len(at.error) == 1 and "nan or infinite activations" in at.error[0].value.lower()


@pytest.mark.parametrize("page", [None, "featent/app/views/birth_distribution.py", "featent/app/views/layer_profiles.py"])
def test_an_unusable_cache_folder_is_a_warning_and_results_still_come(tmp_path, monkeypatch, page) -> None:
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("not a folder")
    monkeypatch.setenv("FEATENT_CACHE_DIR", str(not_a_folder))
    at = open_app(page)  # asserts no exception and no error box
    assert any("cache-file" in w.value for w in at.warning)
    if page is not None:
        assert _charts(at) >= 1


def _spec(at: AppTest, key: str) -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if c.key == key).proto.spec)


def _shape(z) -> tuple[int, ...]:
    """A heatmap's z shape, whether sent as a list or as plotly's typed array ({'bdata', 'shape'})."""
    return tuple(int(n) for n in z["shape"].split(",")) if isinstance(z, dict) else np.shape(z)


def test_inspector_crops_a_16x16_unit_to_its_born_cycle_until_whole_map_is_on() -> None:
    from featent.plots import unit as unit_plots

    at = open_app("featent/app/views/unit_inspector.py", n_images=4)
    at.selectbox(key="_w_layer").set_value("block2_conv1").run()  # 16 x 16 maps
    assert_clean(at)
    vertices = next(t for t in _spec(at, "insp_play")["data"] if t["name"] == "vertices")
    assert 0 < len(vertices["x"]) <= unit_plots.MAX_NEIGHBOURHOOD and len(vertices["x"]) < 16
    heat = next(t for t in _spec(at, "insp_play")["data"] if t["name"] == "unit")
    k = len(heat["x"])
    assert 4 <= k < 16 and _shape(heat["z"]) == (k, k) and all(isinstance(x, str) for x in heat["x"])  # the cycle's
    at.toggle(key="insp_whole").set_value(True).run()
    assert_clean(at)
    heat = next(t for t in _spec(at, "insp_play")["data"] if t["name"] == "unit")
    assert _shape(heat["z"]) == (16, 16)
    at.toggle(key="insp_jumps").set_value(True).run()
    play = _spec(at, "insp_play")["layout"]["updatemenus"][0]["buttons"][0]["args"][0]
    assert play and len(play) < 256 and play == sorted(play, key=int)


def test_how_it_works_births_only_makes_the_step_buttons_jump_to_the_birth() -> None:
    from featent.app import toy
    from featent.core import topology

    at = open_app("featent/app/views/how_it_works.py")
    at.segmented_control(key="hiw_stage").set_value("4 Complex").run()
    assert at.number_input(key="hiw_step").value == 1
    at.toggle(key="hiw_jumps").set_value(True).run()
    at.button(key="hiw_step_fwd").click().run()
    assert_clean(at)
    birth = topology.birth_time(toy.PAPER_TOY)
    assert at.number_input(key="hiw_step").value == birth
    names = _spec(at, "hiw_play_3")["layout"]["updatemenus"][0]["buttons"][0]["args"][0]
    assert names[0] == str(birth)
    at.toggle(key="hiw_jumps").set_value(False).run()
    at.button(key="hiw_step_fwd").click().run()
    assert at.number_input(key="hiw_step").value == birth + 1
