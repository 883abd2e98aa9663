"""The real app in headless Chromium: every page renders its charts, no exception box, and the
unit inspector's unit and filtration step can be moved. Also measures the README's timings:
home interactive after a cold server start, and warm re-render after a unit or step change.
"""

from __future__ import annotations

import re
import statistics
import time

import numpy as np
import pytest
from browsing import RENDER_TIMEOUT_MS, wait_idle
from playwright.sync_api import Page, expect

from featent.data import load_dataset
from featent.pipeline import Selection, layer_results

pytestmark = pytest.mark.e2e
SETTLE_MS = 500  # pause before a timed change, so one timing does not include the previous render
DEFAULT_DATA = "fashion"  # the app opens on the demo (trained on Fashion-MNIST), 100 images of the first class, seed 0
LAST_LAYER = "block3_conv2"  # the demo's last conv layer, which the pages open on


def _assert_page_ok(page: Page, min_charts: int) -> None:
    charts = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot')
    expect(charts.nth(min_charts - 1)).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(charts.nth(min_charts - 1).locator(".main-svg").first).to_be_attached()
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def _steady_box(page: Page, locator) -> dict:
    """The element's box once the layout has settled: a click during a re-layout after a rerun is lost."""
    page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=RENDER_TIMEOUT_MS)
    box = locator.bounding_box()
    for _ in range(RENDER_TIMEOUT_MS // SETTLE_MS):
        page.wait_for_timeout(SETTLE_MS)
        again = locator.bounding_box()
        if again == box:
            return box
        box = again
    raise AssertionError(f"{locator} kept moving for {RENDER_TIMEOUT_MS} ms")


def _go(page: Page, server, label: str) -> None:
    """Open a page through the sidebar navigation (keeps the session, like a user would)."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=label).first.click()
    expect(page.locator("h1").filter(has_text=label)).to_be_visible(timeout=RENDER_TIMEOUT_MS)


def _shot(page: Page, server, name: str) -> None:
    page.screenshot(path=str(server.artifacts / f"{name}.png"))


def test_every_page_in_chromium(page: Page, app_server) -> None:
    server = app_server
    # Home, cold: from spawning the server to the home page drawn with its sidebar selection.
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Result cache")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    # the page list and headings come first; the sidebar's selection once the model and data are loaded
    expect(page.locator('[data-testid="stSidebar"]').get_by_text("Class", exact=True)).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    server.timings["home_interactive_cold_s"] = round(time.monotonic() - server.started_at, 2)
    assert page.locator('[data-testid="stException"]').count() == 0
    expect(page.locator('[data-testid="stImage"] img').first).to_be_visible()
    _shot(page, server, "0_home")

    # Unit inspector: move the start step and the unit, timing each warm re-render.
    _go(page, server, "Unit inspector")
    _assert_page_ok(page, min_charts=3)
    _shot(page, server, "1_unit_inspector")
    unit_times = []
    unit_box = page.get_by_test_id("stNumberInput").filter(has_text="Unit")
    for target in (1, 2, 3):
        step_up = unit_box.get_by_test_id("stNumberInputStepUp")
        step_up.hover()
        page.wait_for_timeout(SETTLE_MS)
        t0 = time.monotonic()
        step_up.click()
        expect(page.get_by_text(re.compile(rf", unit {target} — "))).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        _assert_page_ok(page, min_charts=3)
        unit_times.append(time.monotonic() - t0)
    server.timings["unit_change_warm_s_median"] = round(statistics.median(unit_times), 3)
    server.timings["unit_change_warm_s_max"] = round(max(unit_times), 3)
    _shot(page, server, "1_unit_inspector_moved")

    # Birth distribution: on a unit with two or more birth times (found from its births, computed here),
    # a click on the first and on the last birth-time bar lists the images born at that step.
    births = layer_results(Selection("demo", DEFAULT_DATA, load_dataset(DEFAULT_DATA).classes[0], (LAST_LAYER,),
                                     n_images=100, seed=0), cache=False)[LAST_LAYER].births
    # the unit with the most births among those with two or more birth times: its bars are tall enough to click
    unit = max((u for u in range(births.shape[1]) if np.unique(births[:, u][births[:, u] > 0]).size >= 2),
               key=lambda u: int(np.count_nonzero(births[:, u])))
    steps = np.unique(births[:, unit][births[:, unit] > 0]).tolist()
    _go(page, server, "Birth distribution")
    _assert_page_ok(page, min_charts=2)
    unit_input = page.get_by_test_id("stNumberInput").filter(has_text="Unit").locator("input")
    unit_input.fill(str(unit))
    unit_input.press("Enter")
    expect(page.get_by_text(re.compile(rf"{LAST_LAYER}, unit {unit}: birth times over class"))).to_be_visible(
        timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    bars = page.locator('[data-testid="stPlotlyChart"]').first.locator(".bars .point path")
    expect(bars).to_have_count(1 + len(steps))  # the grey 'no birth' bar, then one bar per birth time
    picked = page.get_by_text(re.compile(r"with birth time (\d+|no birth)"))
    for bar, step in ((bars.nth(1), steps[0]), (bars.last, steps[-1])):
        box = _steady_box(page, bar)
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # plotly hit-tests clicks
        count = int(np.count_nonzero(births[:, unit] == step))
        expect(picked).to_have_text(re.compile(rf"^{count} image{'s' if count != 1 else ''} with birth time {step}\b"),
                                    timeout=RENDER_TIMEOUT_MS)
        wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, server, "2_birth_distribution")

    # Layer profiles: profile, scatter and heatmap for demo vs demo:random.
    _go(page, server, "Layer profiles")
    _assert_page_ok(page, min_charts=3)
    expect(page.get_by_text("demo:random").first).to_be_visible()
    _shot(page, server, "3_layer_profiles")

    # Indicators: the per-unit grid, rescaling and randomness figures (computed live for demo).
    _go(page, server, "Indicators")
    _assert_page_ok(page, min_charts=3)
    expect(page.get_by_text("Random-init models").first).to_be_visible()
    _shot(page, server, "4_indicators")

    # Training and generalization: the demo family ships trained, so FE over training draws with no training.
    _go(page, server, "Training and generalization")
    _assert_page_ok(page, min_charts=2)
    expect(page.get_by_text("Feature entropy during training (Fig. 5B)")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_role("button", name=re.compile("Train the per-epoch checkpoints"))).to_have_count(0)
    _shot(page, server, "5_training_and_generalization")

    # Ablation and pruning: the unit roles tab shows its scatter (long runs sit behind buttons).
    _go(page, server, "Ablation and pruning")
    page.get_by_role("tab", name="Unit roles").click()
    _assert_page_ok(page, min_charts=1)
    expect(page.get_by_text("Effective on training and test").first).to_be_visible()
    _shot(page, server, "6_ablation_and_pruning")

    # How it works opens on its first stage and draws its figure.
    _go(page, server, "How it works")
    _assert_page_ok(page, min_charts=1)
    _shot(page, server, "9_how_it_works_1")
    # every stage, from its own link at two window sizes: tests/e2e/test_story_links.py


def test_every_sidebar_page_opens_without_an_exception(page: Page, app_server) -> None:
    """Each page in the sidebar renders with the default selection."""
    page.goto(app_server.url)
    expect(page.get_by_role("heading", name="Result cache")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    links = page.locator('[data-testid="stSidebarNav"] a')
    labels = [links.nth(i).inner_text().strip().split("\n")[-1].strip() for i in range(links.count())]
    assert labels[0] == "Home"
    assert {"Unit inspector", "Unit gallery", "Birth distribution", "Layer profiles", "Indicators",
            "Training and generalization", "How it works"} <= set(labels)
    for label in labels[1:]:
        links.filter(has_text=label).first.click()
        # Wait for this page's own title, not the previous page's, before judging it.
        expect(page.locator("h1").filter(has_text=label).first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        page.wait_for_timeout(300)
        wait_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, label
        _shot(page, app_server, "all_" + re.sub(r"\W+", "_", label).lower())


def test_a_bad_folder_is_an_error_in_place_and_the_app_recovers(page: Page, app_server) -> None:
    page.goto(app_server.url)
    expect(page.get_by_role("heading", name="Result cache")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Image folder", exact=True).click()
    box = sidebar.get_by_role("textbox", name=re.compile("Image folder"))
    box.fill("/no/such/folder")
    box.press("Enter")
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="/no/such/folder")
    expect(alert.first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, app_server, "error_bad_folder")
    sidebar.get_by_text("digits", exact=True).click()
    expect(page.get_by_role("heading", name="Result cache")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.locator('[data-testid="stAlert"]')).to_have_count(0)


def _value(page: Page, label: str) -> str:
    """The value of the number box whose label starts with ``label`` ('Image (' is not 'Images')."""
    return page.locator(f'input[aria-label^="{label}"]').first.input_value()


def test_a_deep_link_opens_the_inspector_on_layer_unit_and_image(page: Page, app_server) -> None:
    page.goto(f"{app_server.url}/Unit_inspector?layer=block2_conv1&unit=5&image=3&step=7&images=40&seed=1")
    expect(page.locator("h1").filter(has_text="Unit inspector")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"block2_conv1, unit 5: the filtration"))).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    assert _value(page, "Unit (") == "5" and _value(page, "Image (") == "3" and _value(page, "Start step") == "7"
    assert _value(page, "Images") == "40" and _value(page, "Seed") == "1"
    assert page.locator('[data-testid="stSidebarNav"] a').first.inner_text().split()[-1] == "Home"
    link = page.locator('[data-testid="stSidebar"] [data-testid="stCode"]').first.inner_text()
    assert "unit=5" in link and "layer=block2_conv1" in link and "image=3" in link and link.startswith("http")
    assert "unit=5" in page.url
    _shot(page, app_server, "deep_link_inspector")


def test_the_packaged_entry_opens_a_deep_link_with_the_navigation_on_its_first_visit(page: Page, packaged_server) -> None:
    page.goto(f"{packaged_server.url}/Birth_distribution?layer=block3_conv2&unit=2&images=20")
    expect(page.locator("h1").filter(has_text="Birth distribution")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    nav = page.locator('[data-testid="stSidebarNav"] a')
    assert nav.first.inner_text().split()[-1] == "Home" and nav.filter(has_text="Unit inspector").count() == 1
    assert _value(page, "Unit (") == "2" and _value(page, "Images") == "20"
    _go(page, packaged_server, "Unit inspector")  # the selection goes with the user to another page
    expect(page).to_have_url(re.compile(r"/Unit_inspector\?.*unit=2"), timeout=RENDER_TIMEOUT_MS)


def test_a_gallery_click_opens_the_inspector_on_that_unit(page: Page, app_server) -> None:
    page.goto(f"{app_server.url}/Unit_gallery?layer=block3_conv2&images=30")
    expect(page.locator("h1").filter(has_text="Unit gallery")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    first = page.get_by_role("button", name=re.compile(r"^open_in_new Unit \d+$|^Unit \d+$")).first
    expect(first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    _shot(page, app_server, "8_unit_gallery")
    unit = re.search(r"Unit (\d+)", first.inner_text()).group(1)
    first.click()  # click 2 of 3: layer -> best unit -> link
    expect(page.locator("h1").filter(has_text="Unit inspector")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(rf"block3_conv2, unit {unit}: the filtration"))).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    assert _value(page, "Unit (") == unit and f"unit={unit}" in page.url
    code = page.locator('[data-testid="stSidebar"] [data-testid="stCode"]').first
    code.scroll_into_view_if_needed()
    code.hover()
    copy = code.get_by_role("button", name="Copy to clipboard")
    expect(copy).to_be_visible()  # click 3 of 3: the copy icon of the link box
    assert f"unit={unit}" in code.inner_text()
    _shot(page, app_server, "gallery_to_inspector")


def test_the_histogram_shows_a_no_birth_bar(page: Page, app_server) -> None:
    page.goto(f"{app_server.url}/Birth_distribution?layer=block3_conv2&unit=0")
    expect(page.locator("h1").filter(has_text="Birth distribution")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    expect(chart.locator(".xtick text", has_text="no birth").first).to_be_attached(timeout=RENDER_TIMEOUT_MS)
    expect(chart.locator(".bars .point path").first).to_be_attached()
    wait_idle(page)
    _shot(page, app_server, "2_birth_distribution_no_birth_bar")


def test_play_advances_frames_in_the_browser_without_a_rerun(page: Page, app_server) -> None:
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append("frame")))
    page.goto(f"{app_server.url}/How_it_works?step=1")
    expect(page.locator("h1").filter(has_text="How it works")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    page.get_by_role("button").filter(has=page.locator('[data-testid="stIconMaterial"]', has_text="arrow_forward")).click()
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    expect(chart.locator(".updatemenu-button", has_text="Play")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    page.wait_for_timeout(1000)
    page.evaluate("""() => {
        const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
        window.__frames = [];
        gd.on('plotly_animatingframe', e => window.__frames.push([performance.now(), e.name]));
    }""")
    before = len(sent)
    chart.locator(".updatemenu-button", has_text="10/s").click()  # Play's fastest speed (the first, Play, is 2/s)
    page.wait_for_timeout(1500)
    frames = page.evaluate("() => window.__frames")
    labels = [(t, f"step {name}") for t, name in frames]
    steps = [int(m.group(1)) for _, text in labels if (m := re.match(r"step (\d+)", text))]
    assert len(set(steps)) >= 10, labels  # at least 10 steps within 1.5 s
    assert steps == sorted(steps)
    assert len(sent) == before  # no message to the server: the script did not rerun
    elapsed = labels[-1][0] - labels[0][0]
    app_server.timings["play_steps_per_s"] = round((len(set(steps)) - 1) / (elapsed / 1000), 1) if elapsed else None
    _shot(page, app_server, "9_how_it_works_playing")


def test_a_step_change_at_m64_is_quick_when_warm(page: Page, app_server) -> None:
    page.goto(f"{app_server.url}/Unit_inspector?model=vgg11%3Arandom%4064&layer=block1_conv1&unit=0&images=4&step=20")
    slider = page.get_by_test_id("stSlider").get_by_role("slider").first
    expect(slider).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    wait_idle(page)
    times = []
    for _ in range(3):
        before = int(
            re.search(r"Step (\d+): threshold", page.get_by_text(re.compile(r"Step \d+: threshold")).first.inner_text()).group(1)
        )
        slider.focus()
        page.wait_for_timeout(SETTLE_MS)
        t0 = time.monotonic()
        page.keyboard.press("ArrowRight")
        expect(page.get_by_text(f"Step {before + 1}: threshold")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        wait_idle(page)
        times.append(time.monotonic() - t0)
    app_server.timings["step_change_m64_warm_s_median"] = round(statistics.median(times), 3)
    app_server.timings["step_change_m64_warm_s_max"] = round(max(times), 3)
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, app_server, "1_unit_inspector_m64")
