"""Hostile sidebar inputs: each is one sentence in place (or a correct result), and the app keeps
running — the next good input works in the same session."""

from __future__ import annotations

import os

import numpy as np
import pytest
from apptest_support import APP, TIMEOUT, assert_clean, open_app
from PIL import Image
from streamlit.testing.v1 import AppTest


def _folder(root, n_classes: int = 2, n_images: int = 3, sixteen_bit: bool = False):
    rng = np.random.default_rng(0)
    for c in range(n_classes):
        (root / f"c{c}").mkdir(parents=True)
        for i in range(n_images):
            grey = rng.integers(0, 256, (20, 20), dtype=np.uint8)
            Image.fromarray(grey.astype(np.uint16) * 257 if sixteen_bit else grey).save(root / f"c{c}" / f"{i}.png")
    return root


def _use_folder(at: AppTest, path) -> None:
    at.radio(key="_w_data_mode").set_value("Image folder").run()
    at.text_input(key="_w_data_path").input(str(path)).run()


def _use_checkpoint(at: AppTest, path) -> None:
    at.radio(key="_w_weights_mode").set_value("Checkpoint path").run()
    at.text_input(key="_w_weights_path").input(str(path)).run()


def _one_sentence(at: AppTest, *words: str) -> str:
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1, [e.value for e in at.error]
    text = at.error[0].value
    assert "\n" not in text and "Traceback" not in text
    for word in words:
        assert word in text.lower(), text
    return text


def test_looping_symlink_folder_loads_each_file_once(tmp_path) -> None:
    root = _folder(tmp_path / "d")
    os.symlink(".", root / "c0" / "self")
    os.symlink("..", root / "c0" / "up")
    os.symlink(root, root / "c2")  # a class linked to the root
    at = open_app()
    _use_folder(at, root)
    assert_clean(at)
    assert at.selectbox(key="_w_class_name").options == ["c0", "c1"]
    assert any("3 unreadable files" in c.value for c in at.sidebar.caption)
    assert any("'c2'" in c.value and "not read" in c.value for c in at.sidebar.caption)  # the note says why


def test_a_small_class_is_left_out_with_a_note_in_the_sidebar(tmp_path) -> None:
    root = _folder(tmp_path / "d")
    (root / "tiny").mkdir()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(root / "tiny" / "0.png")
    at = open_app()
    _use_folder(at, root)
    assert_clean(at)
    assert at.selectbox(key="_w_class_name").options == ["c0", "c1"]
    assert any("'tiny'" in c.value and "left out" in c.value for c in at.sidebar.caption)


def test_sixteen_bit_folder_runs_a_page(tmp_path) -> None:
    root = _folder(tmp_path / "d16", sixteen_bit=True)
    at = open_app()
    at.number_input(key="_w_n_images").set_value(3).run()
    _use_folder(at, root)
    assert_clean(at)
    at.switch_page("featent/app/views/birth_distribution.py").run()
    assert_clean(at)


def test_directory_as_checkpoint_then_a_good_one(tmp_path) -> None:
    import torch

    from featent.pipeline import load_model

    at = open_app()
    _use_checkpoint(at, tmp_path)
    _one_sentence(at, "is a folder")
    good = tmp_path / "ok.pt"
    torch.save({k: v.double() for k, v in load_model("demo").module.state_dict().items()}, good)  # float64: cast
    at.text_input(key="_w_weights_path").input(str(good)).run()
    assert_clean(at)


def test_nan_checkpoint_is_one_sentence_on_a_page(tmp_path) -> None:
    import torch

    from featent.pipeline import load_model

    state = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
             for k, v in load_model("demo").module.state_dict().items()}
    path = tmp_path / "nan.pt"
    torch.save(state, path)
    at = open_app()
    at.number_input(key="_w_n_images").set_value(3).run()
    _use_checkpoint(at, path)
    at.switch_page("featent/app/views/birth_distribution.py").run()
    _one_sentence(at, "nan")
    at.radio(key="_w_weights_mode").set_value("Built-in").run()
    assert_clean(at)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ("empty",)),
        (b"\x80\x04K\x01.", ("plain pickle",)),
        (b"PK\x03\x04" + bytes(40), ("cannot load weights file",)),
    ],
    ids=["empty-file", "raw-pickle", "broken-zip"],
)
def test_bad_checkpoint_files(tmp_path, content, words) -> None:
    path = tmp_path / "w.pt"
    path.write_bytes(content)
    at = open_app()
    _use_checkpoint(at, path)
    _one_sentence(at, *words)


def test_folder_with_only_empty_classes(tmp_path) -> None:
    (tmp_path / "d" / "a").mkdir(parents=True)
    (tmp_path / "d" / "b").mkdir()
    (tmp_path / "d" / "b" / "x.txt").write_text("x")
    at = open_app()
    _use_folder(at, tmp_path / "d")
    _one_sentence(at, "no class subfolder with at least 2 images")


def test_out_of_range_seed_in_a_typed_spec_is_in_place_and_the_app_goes_on() -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["sel_model"] = "demo:random:99999999999999999999999"
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    at.session_state["sel_model"] = "demo"
    at.session_state["_w_model"] = "demo"
    at.run()
    assert_clean(at)


def test_python_file_model_source_runs_a_page_locally_and_is_not_offered_in_public(tmp_path, monkeypatch) -> None:
    net = tmp_path / "mynet.py"
    with open(os.path.join(os.path.dirname(APP), "docs", "examples", "mynet.py")) as example:
        net.write_text(example.read())
    at = open_app()
    at.selectbox(key="_w_model").set_value("Python file…").run()
    at.text_input(key="_w_code_path").input(str(net)).run()
    _one_sentence(at, "name of the model class")
    at.text_input(key="_w_code_name").input("MyNet").run()
    assert_clean(at)
    assert any("executes its code" in c.value for c in at.sidebar.caption)
    monkeypatch.setenv("FEATENT_PUBLIC", "1")
    public = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert "Python file…" not in public.selectbox(key="_w_model").options
