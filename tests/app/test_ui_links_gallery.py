"""Deep links, the unit gallery and the app's navigation, run with AppTest (no browser)."""

from __future__ import annotations

import numpy as np
from apptest_support import (
    APP,
    DEFAULT_DATA,
    ROOT,
    TIMEOUT,
    assert_clean,
    default_classes,
    open_app,
)
from streamlit.testing.v1 import AppTest

INSPECTOR = "featent/app/views/unit_inspector.py"
GALLERY = "featent/app/views/unit_gallery.py"


def _linked(page: str, **params: str) -> AppTest:
    """Open ``page`` as a URL with query parameters would (a fresh session)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert_clean(at)
    return at


def test_a_deep_link_restores_layer_unit_image_step_and_selection() -> None:
    at = _linked(INSPECTOR, model="demo", data="digits", **{"class": "3"}, layer="block2_conv1", unit="5", image="7",
                 step="9", images="30", seed="2")
    assert at.selectbox(key="_w_layer").value == "block2_conv1"
    assert at.number_input(key="_w_unit").value == 5
    assert at.number_input(key="_w_image").value == 7
    assert at.number_input(key="_w_step").value == 9
    assert at.selectbox(key="_w_class_name").value == "3"
    assert at.number_input(key="_w_n_images").value == 30 and at.number_input(key="_w_seed").value == 2
    assert at.query_params["unit"] == "5" and at.query_params["layer"] == "block2_conv1"
    # the page writes back what it shows; moving a widget changes the link, not the other way round
    at.number_input(key="_w_unit").set_value(6).run()
    assert at.number_input(key="_w_unit").value == 6 and at.query_params["unit"] == "6"
    code = next(c.value for c in at.sidebar.code)
    assert "unit=6" in code and "layer=block2_conv1" in code and "image=7" in code


def test_a_bad_link_value_is_one_warning_and_the_page_still_opens() -> None:
    at = _linked(INSPECTOR, unit="abc", layer="block3_conv2")
    assert any("unit='abc' is not a whole number" in w.value for w in at.warning)
    assert at.number_input(key="_w_unit").value == 0


def test_every_page_writes_the_link_keys() -> None:
    at = open_app("featent/app/views/birth_distribution.py")
    assert dict(at.query_params.items()) == {
        "model": "demo",
        "data": DEFAULT_DATA,
        "class": default_classes()[0],
        "images": "100",
        "seed": "0",
        "layer": "block3_conv2",
        "unit": "0",
    }
    at.switch_page("featent/app/views/how_it_works.py").run()
    assert at.query_params["step"] == "1"  # the story starts at the first step, before any edge


def test_navigation_is_one_list_of_every_view_and_pages_holds_one_entry_per_page() -> None:
    from featent.app.navigation import HOME, PAGES, VIEWS

    assert PAGES[0] is HOME and HOME.url_path == "Home"
    assert sorted(i.module for i in PAGES) == sorted(p.stem for p in VIEWS.glob("[a-z]*.py"))
    assert all(i.script.is_file() and i.summary for i in PAGES)
    assert len({i.url_path for i in PAGES}) == len(PAGES)
    groups = {i.title: i.group for i in PAGES}
    assert groups["Unit gallery"] == "Explore" and groups["How it works"] == "Learn"
    entries = sorted((ROOT / "pages").glob("*.py"))
    assert [p.stem.split("_", 1)[1] for p in entries] == [i.url_path for i in sorted(PAGES, key=_file_order(entries))]
    assert all("run()" in p.read_text() for p in entries)  # each entry opens the navigation, which opens its view


def _file_order(entries: list) -> object:
    order = {p.stem.split("_", 1)[1]: k for k, p in enumerate(entries)}
    return lambda info: order[info.url_path]


def test_no_streamlit_internals_and_streamlit_only_in_the_app_package() -> None:
    import re

    sources = [*ROOT.joinpath("featent").rglob("*.py"), ROOT / "app.py", *ROOT.joinpath("pages").glob("*.py")]
    # The one exception: the job queue reads (never changes) whether Streamlit asked a waiting run to stop, so a
    # closed tab's job leaves the queue; the read falls back to "no" if Streamlit's layout changes.
    probe = ROOT / "featent" / "app" / "public.py"
    for path in sources:
        text = path.read_text(encoding="utf-8")
        if path == probe:
            assert text.count("streamlit.runtime") == 3 and "except ImportError" in text
            text = text.replace("streamlit.runtime", "")
        assert "PagesManager" not in text and "streamlit.runtime" not in text, path
        if re.search(r"^\s*(import|from) streamlit\b", text, flags=re.M):
            assert ROOT / "featent" / "app" in path.parents, path


def test_gallery_sorts_hides_silent_units_and_a_click_opens_the_inspector() -> None:
    at = open_app(GALLERY, n_images=30)
    buttons = [b for b in at.button if b.key and b.key.startswith("gal_open_")]
    shown = [int(b.key.rsplit("_", 1)[1]) for b in buttons]
    from featent.pipeline import Selection, layer_results

    result = layer_results(Selection("demo", DEFAULT_DATA, default_classes()[0], ("block3_conv2",),
                                     n_images=30))["block3_conv2"]
    live = np.flatnonzero(result.selective_rate >= 0.1)
    assert sorted(shown) == sorted(live.tolist())  # silent units hidden by default
    ratio = result.feature_entropy / result.selective_rate.clip(1e-12)
    assert list(ratio[shown]) == sorted(ratio[shown])  # the paper's H/ε ranking by default, best first
    at.selectbox(key="gal_order").set_value("FE (lowest first)").run()
    by_fe = [int(b.key.rsplit("_", 1)[1]) for b in at.button if b.key and b.key.startswith("gal_open_")]
    assert by_fe[0] == int(live[np.argmin(result.feature_entropy[live])])
    assert list(result.feature_entropy[by_fe]) == sorted(result.feature_entropy[by_fe])
    at.selectbox(key="gal_order").set_value("conditional FE H(x | born) (lowest first)").run()
    by_cond = [int(b.key.rsplit("_", 1)[1]) for b in at.button if b.key and b.key.startswith("gal_open_")]
    cond = result.conditional_feature_entropy
    assert sorted(by_cond) == sorted(live.tolist()) and list(cond[by_cond]) == sorted(cond[by_cond])
    assert any("H|born" in m.value for m in at.markdown)
    at.toggle(key="gal_hide").set_value(False).run()
    assert len([b for b in at.button if b.key and b.key.startswith("gal_open_")]) == 48  # one page of 64 units
    assert any("silent" in m.value for m in at.markdown)
    at.selectbox(key="gal_order").set_value("ε (highest first)").run()
    first = int(next(b for b in at.button if b.key and b.key.startswith("gal_open_")).key.rsplit("_", 1)[1])
    assert result.selective_rate[first] == result.selective_rate.max()
    at.button(key=f"gal_open_{first}").click().run()
    assert_clean(at)
    assert at.number_input(key="_w_unit").value == first
    assert any(h.value == "Unit inspector" for h in at.title)


def test_gallery_on_one_image_and_top_images() -> None:
    at = open_app(GALLERY, n_images=12)
    at.radio(key="gal_show").set_value("On one image").run()
    at.number_input(key="_w_image").set_value(3).run()
    assert_clean(at)
    assert at.query_params["image"] == "3"
    top = next(m.value for m in at.markdown if m.value.startswith("**Top 8 of the 12 sampled images"))
    assert f"class '{default_classes()[0]}'" in top
    images = at.get("image")
    assert len(images) >= 2  # the page's thumbnails and the top images
    at.toggle(key="gal_top_across").set_value(True).run()
    assert_clean(at)
    assert len(at.get("image")) > len(images)
