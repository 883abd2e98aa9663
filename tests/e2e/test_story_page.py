"""`featent story`'s page in headless Chromium, opened from disk with every network request refused:
all nine stages draw, Play advances the step at the chosen speed, and no request leaves the page."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page

from featent.cli.main import main
from featent.core import topology

pytestmark = pytest.mark.e2e
SIZES = {"laptop": (1280, 800), "full-hd": (1920, 1080)}


def _artefacts() -> Path:
    """Screenshots go to FEATENT_SCREENSHOTS (default build/screenshots, ignored by git) to be looked at."""
    root = Path(os.environ.get("FEATENT_SCREENSHOTS", Path(__file__).resolve().parents[2] / "build" / "screenshots"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def _offline(page: Page) -> list[str]:
    """Refuse every request that is not the file itself; returns the refused URLs."""
    refused: list[str] = []

    def handle(route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    page.on("request", lambda r: None if r.url.startswith(("file://", "data:", "blob:")) else refused.append(r.url))
    return refused


@pytest.fixture(scope="module")
def toy_story(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("story") / "story.html"
    assert main(["story", "--out", str(out)]) == 0
    return out


def test_the_story_page_runs_from_disk_with_no_network(page: Page, toy_story: Path) -> None:
    assert toy_story.stat().st_size < 5_000_000
    refused = _offline(page)
    shots = _artefacts()
    for label, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        page.goto(toy_story.as_uri())
        page.wait_for_function("() => window.story && window.Plotly")
        buttons = page.locator("#stages button")
        assert buttons.count() == 9
        for k in range(9):
            buttons.nth(k).click()
            assert page.evaluate("window.story.stage") == k
            assert buttons.nth(k).is_visible()  # the whole stage bar fits: no stage hidden behind another
            assert page.locator("#row .js-plotly-plot").count() >= (0 if k == 6 else 1) or k == 8
            page.screenshot(path=str(shots / f"story-{label}-stage{k + 1}.png"))
        # the caption sits under the controls' row, never under a button
        buttons.nth(1).click()
        caption, controls = page.locator("#caption").bounding_box(), page.locator("#controls").bounding_box()
        assert caption["y"] >= controls["y"] + controls["height"] - 1
    # Play from step 1 at 10 steps/s advances the step, and its caption follows the complex's numbers
    buttons.nth(5).click()
    page.fill("#speed", "10")
    page.click("#play")
    page.wait_for_function("() => window.story.step >= 8", timeout=5000)
    page.click("#play")  # pause
    rate = page.evaluate("(t => (t.length - 1) / ((t[t.length - 1] - t[0]) / 1000))(window.story.times)")
    step = page.evaluate("window.story.step")
    curves = topology.betti_curves(np.array([[0.10, 0.90, 0.20, 0.05], [0.30, 0.15, 0.25, 0.80],
                                             [0.70, 0.20, 0.10, 0.35], [0.00, 0.10, 0.60, 0.20]]))
    assert f"β0 = {curves[0, step - 1]} · β1 = {curves[1, step - 1]}" in page.inner_text("#caption")
    assert 4 <= rate <= 10.5, rate  # the set speed, less the drawing time on a busy machine
    (shots / "story-play-rate.txt").write_text(f"{rate:.2f} steps/s at speed 10\n")
    # step buttons and "births only"
    page.click("#back")
    assert page.evaluate("window.story.step") == step - 1
    page.click("#fwd")
    assert page.evaluate("window.story.step") == step
    assert refused == []


def test_a_16x16_story_is_under_5_mb_and_draws_every_triangle_count(page: Page, tmp_path: Path) -> None:
    unit = np.random.default_rng(0).random((16, 16))
    np.save(tmp_path / "u.npy", unit)
    out = tmp_path / "story16.html"
    assert main(["story", "--out", str(out), "--array", str(tmp_path / "u.npy")]) == 0
    assert out.stat().st_size < 5_000_000
    refused = _offline(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(out.as_uri())
    page.wait_for_function("() => window.story && window.Plotly")
    page.locator("#stages button").nth(3).click()
    for v in (1, 40, 120, 256):
        page.evaluate(f"(s => {{ s.value = {v}; s.dispatchEvent(new Event('input')); }})(document.getElementById('slider'))")
        drawn = page.evaluate("document.querySelector('#row .js-plotly-plot').data[0].x.filter(x => x === null).length")
        assert drawn == topology.clique_complex(unit, v).triangles.shape[0]
    page.screenshot(path=str(_artefacts() / "story-16x16-stage4.png"))
    assert refused == []
