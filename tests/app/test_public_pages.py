"""The app in public mode (AppTest): names only in the sidebar, the operator's folders listed, no
clear-store control, limits and link values that cannot be used each named in a visible sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from apptest_support import APP, TIMEOUT, assert_clean
from PIL import Image
from streamlit.testing.v1 import AppTest


@pytest.fixture
def public_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    roots = tmp_path / "roots"
    rng = np.random.default_rng(0)
    for name in ("circles", "squares"):
        (roots / "shapes" / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(roots / "shapes" / name / f"{i}.png")
    monkeypatch.setenv("FEATENT_PUBLIC", "1")
    monkeypatch.setenv("FEATENT_DATA_ROOTS", str(roots))
    return roots


def _warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def test_public_sidebar_offers_names_and_refuses_typed_paths(public_server: Path, monkeypatch) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"model": "demo-corrupt-0.123", "data": "/etc", "images": "5001", "seed": "2147483648",
                            "class": "Nonexistent"})
    at.run()
    assert_clean(at)
    assert not at.text_input  # no path, spec or folder can be typed
    assert at.selectbox(key="_w_data_mode").options == ["fashion", "digits", "shapes", "Upload zip"]
    assert at.radio(key="_w_weights_mode").options == ["Built-in", "Upload checkpoint"]
    assert not [b for b in at.button if "clear" in str(b.label).lower()]  # the shared store cannot be emptied here
    warnings = "\n".join(_warnings(at))
    for sentence in ("model='demo-corrupt-0.123' cannot be used", "'demo' was used instead",
                     "images=5001 cannot be used (This server allows at most 200 images per selection); 100 was used",
                     "seed=2147483648 cannot be used (at most 2147483647); 0 was used instead",
                     "data='/etc' is not offered on this server; 'fashion' was used instead",
                     "class='Nonexistent' does not exist here; 'T-shirt/top' was used instead"):
        assert sentence in warnings, warnings
    assert at.query_params["data"] == "fashion" and at.query_params["images"] == "100"

    at.selectbox(key="_w_data_mode").set_value("shapes").run()
    assert_clean(at)
    assert at.selectbox(key="_w_class_name").options == ["circles", "squares"]
    assert at.query_params["data"] == "shapes"  # the name, never the server path
    monkeypatch.setenv("FEATENT_MAX_PARAMETERS", "1000000")
    at.selectbox(key="_w_model").set_value("vgg11:random").run()
    assert [e.value for e in at.error] == [
        "This server allows models of at most 1,000,000 parameters; vgg11 (132,863,336 parameters) is over that limit."
    ]


def test_local_mode_names_link_values_it_cannot_use(monkeypatch) -> None:
    monkeypatch.delenv("FEATENT_PUBLIC", raising=False)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"images": "5001", "seed": "2147483648", "class": "Nonexistent"})
    at.run()
    assert_clean(at)
    warnings = "\n".join(_warnings(at))
    for sentence in ("images=5001 cannot be used (at most 5000)", "seed=2147483648 cannot be used (at most 2147483647); 0",
                     "class='Nonexistent' does not exist here"):
        assert sentence in warnings, warnings
    assert [b for b in at.button if b.key == "home_clear"]  # local mode keeps its clear-cache control


def test_link_values_the_inspector_cannot_use_are_named(public_server: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.query_params.update({"model": "demo", "data": "fashion", "images": "4", "unit": "1000000", "layer": "nolayer"})
    at.switch_page("featent/app/views/unit_inspector.py")
    at.run()
    assert_clean(at)
    warnings = "\n".join(_warnings(at))
    assert "layer='nolayer' does not exist here; 'block3_conv2' was used instead" in warnings, warnings
    assert "unit='1000000' does not exist here; 0 was used instead" in warnings, warnings


@pytest.mark.parametrize(("public", "data", "sentence"), [
    ("1", "x" * 5000, "The link's data='" + "x" * 80 + "' is not offered on this server; 'fashion' was used instead."),
    ("1", "/tmp/a\x00b", "The link's data='/tmp/a\\x00b' is not offered on this server; 'fashion' was used instead."),
    ("1", "../../home", "The link's data='../../home' is not offered on this server; 'fashion' was used instead."),
    ("", "x" * 5000, "a name in it is too long"),
    ("", "/tmp/a\x00b", "Cannot use data folder '/tmp/a\\x00b': it contains a NUL character"),
    ("", "../../no-such-folder", "Data folder '../../no-such-folder' does not exist"),
])
def test_a_bad_path_in_a_link_is_one_sentence_in_either_mode(public_server: Path, monkeypatch, public: str, data: str,
                                                              sentence: str) -> None:
    monkeypatch.setenv("FEATENT_PUBLIC", public)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"data": data, "images": "4"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [w.value for w in at.warning] if public else [e.value for e in at.error]
    assert len([s for s in shown if sentence in s]) == 1, shown  # public: a warning, and the page goes on
    assert not any("Unexpected error" in e.value for e in at.error)
    if public:
        assert_clean(at)
        assert at.query_params["data"] == "fashion"
