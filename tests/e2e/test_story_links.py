"""How it works and Model atlas in Chromium: their links restore the view in a fresh session, a heatmap
click opens a cell, and every How it works stage is photographed at a laptop and a full-HD size."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from browsing import RENDER_TIMEOUT_MS, wait_idle
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e
SIZES = {"laptop": (1280, 800), "full-hd": (1920, 1080)}


def _shots() -> Path:
    root = Path(os.environ.get("FEATENT_SCREENSHOTS", Path(__file__).resolve().parents[2] / "build" / "screenshots"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def test_how_it_works_restores_every_stage_from_its_link_at_both_sizes(page: Page, app_server) -> None:
    for label, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        for k in range(1, 10):
            page.goto(f"{app_server.url}/How_it_works?stage={k}&example=random&m=6&seed=3&step=7")  # a new session each time
            expect(page.locator("h1").filter(has_text="How it works")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
            expect(page.get_by_text("Copy link", exact=False).first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
            wait_idle(page)
            page.wait_for_timeout(400)
            assert page.locator('[data-testid="stException"]').count() == 0
            for part in (f"stage={k}", "example=random", "m=6", "seed=3", "step=7"):
                assert part in page.url, (part, page.url)
            active = page.locator('[data-testid="stButtonGroup"] button[aria-checked="true"], '
                                  '[data-testid="stButtonGroup"] button[kind*="Active"]')
            if active.count():
                assert active.first.inner_text().strip().startswith(f"{k} ")
            page.screenshot(path=str(_shots() / f"app-how-it-works-{label}-stage{k}.png"))


def test_model_atlas_cell_click_and_its_link_in_a_fresh_session(page: Page, app_server) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{app_server.url}/Model_atlas?model=demo&data=fashion&images=4&seed=0&atlas=store")
    expect(page.locator("h1").filter(has_text="Model atlas")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    box = page.get_by_label("Classes", exact=True).and_(page.locator("input"))
    box.fill("1")
    box.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name=re.compile(r"Sweep 1 classes")).click()
    drag = page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first
    expect(drag).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    page.wait_for_timeout(800)
    area = drag.bounding_box()
    page.mouse.click(area["x"] + area["width"] / 2, area["y"] + area["height"] / 12)  # the first layer's cell
    expect(page.get_by_text(re.compile(r"layer block1_conv1\b|layer `?block1_conv1"))).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    page.wait_for_url(re.compile(r"layer=block1_conv1"), timeout=20_000)
    assert "atlas=store" in page.url and "class=" in page.url
    page.screenshot(path=str(_shots() / "app-model-atlas-cell-click.png"))
    link = page.url
    cold = page.context.browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    cold.goto(link)
    expect(cold.get_by_text(re.compile(r"layer block1_conv1\b|layer `?block1_conv1"))).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(cold)
    assert "layer=block1_conv1" in cold.url
    cold.screenshot(path=str(_shots() / "app-model-atlas-deep-link.png"))
    cold.context.close()
