"""A control of the gallery, the inspector or How it works reruns only its page's fragment: the
sidebar's selection (which loads the model and data) is not run again. AppTest always reruns the
whole script, so these tests ask Streamlit's script runner for the fragment-scoped rerun a browser's
click sends (the widget's fragment id in the rerun request)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

import pytest
from apptest_support import assert_clean, open_app
from streamlit.testing.v1 import AppTest, local_script_runner

from featent.app import selection

GALLERY = "featent/app/views/unit_gallery.py"
INSPECTOR = "featent/app/views/unit_inspector.py"
STORY = "featent/app/views/how_it_works.py"


@contextlib.contextmanager
def fragment_rerun(at: AppTest) -> Iterator[None]:
    """The next ``run`` of ``at`` reruns only the page's fragment, as a click on one of its controls does."""
    ids = list(at._fragment_storage._fragments)
    assert len(ids) == 1, f"expected the page body as one fragment, found {len(ids)}"
    make = local_script_runner.RerunData

    def scoped(*args, **kwargs):
        return replace(make(*args, **kwargs), fragment_id_queue=list(ids))

    local_script_runner.RerunData = scoped
    try:
        yield
    finally:
        local_script_runner.RerunData = make


@pytest.fixture()
def sidebar_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per call of the sidebar's selection (model and data loaders)."""
    calls: list[int] = []
    original = selection.sidebar_selection

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(selection, "sidebar_selection", counted)
    return calls


def _gallery_units(at: AppTest) -> list[int]:
    return [int(b.key.rsplit("_", 1)[1]) for b in at.button if b.key and b.key.startswith("gal_open_")]


def test_a_gallery_control_reruns_only_the_gallery(sidebar_runs: list[int]) -> None:
    at = open_app(GALLERY, n_images=12)
    before, runs = _gallery_units(at), len(sidebar_runs)
    assert runs >= 1
    with fragment_rerun(at):
        at.selectbox(key="gal_order").set_value("unit index").run()
    assert_clean(at)
    assert len(sidebar_runs) == runs  # the sidebar's loaders were not called again
    assert _gallery_units(at) == sorted(before)  # and the fragment did redraw the thumbnails in the new order
    with fragment_rerun(at):
        at.radio(key="gal_show").set_value("On one image").run()
        at.number_input(key="_w_image").set_value(2).run()
    assert_clean(at)
    assert len(sidebar_runs) == runs and at.query_params["image"] == "2"  # the link follows the fragment


def test_an_inspector_unit_change_reruns_only_the_inspector(sidebar_runs: list[int]) -> None:
    at = open_app(INSPECTOR, n_images=12)
    runs = len(sidebar_runs)
    with fragment_rerun(at):
        at.number_input(key="_w_unit").set_value(3).run()
    assert_clean(at)
    assert len(sidebar_runs) == runs
    assert any(", unit 3" in m.value for m in at.markdown) and at.query_params["unit"] == "3"


def test_a_story_control_reruns_only_the_story() -> None:
    at = open_app(STORY)
    assert [t.value for t in at.title] == ["How it works"]
    with fragment_rerun(at):
        at.radio(key="hiw_example").set_value("Random unit").run()
        at.slider(key="hiw_m").set_value(6).run()
    assert_clean(at)
    assert at.query_params["example"] == "random" and at.query_params["m"] == "6"
    assert not at.title  # this run drew only the fragment's elements: the page's header did not run again
