"""Warm unit, image and start-step changes in the Unit inspector: one headless Chromium session.

Starts the app of a checkout on loopback as bench/load_test.py does (as `make run` serves it), opens the
inspector, then times N changes of each control: from the click on its step-up button (after a
0.5 s pause) to the new caption drawn and the script idle. Prints the medians and every change as JSON.

    python bench/inspector_clicks.py --changes 5
    python bench/inspector_clicks.py --changes 5 --app-root /path/to/other/checkout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from load_test import ARGS, CHROMIUM, ROOT, idle, start_server
from playwright.async_api import Page, async_playwright, expect

TIMEOUT_MS = 300_000


async def change(page: Page, label: str, key: str, shown: str | None = None,
                 note: Callable[[str], None] = lambda event: None) -> float:
    """Seconds from a click on the ``label`` box's step-up button to the link's ``key`` holding the new
    value (the rerun has run) and ``shown`` on screen, script idle. ``note`` is told "click", "caption
    drawn" (``shown`` on screen) and "idle" as they happen."""
    box = page.locator("[data-testid=stMain]").get_by_test_id("stNumberInput").filter(has_text=re.compile("^" + label))
    new = int(await box.first.locator("input").input_value()) + 1
    up = box.first.get_by_test_id("stNumberInputStepUp")
    await up.hover()
    await page.wait_for_timeout(500)
    t0 = time.monotonic()
    note("click")
    await up.click()
    await page.wait_for_url(re.compile(rf"[?&]{key}={new}(&|$)"), timeout=TIMEOUT_MS)
    if shown is not None:
        await expect(page.get_by_text(re.compile(shown.format(new))).first).to_be_visible(timeout=TIMEOUT_MS)
        note("caption drawn")
    await idle(page)
    note("idle")
    return time.monotonic() - t0


async def open_inspector(page: Page, url: str) -> None:
    """The inspector on the demo model and Fashion-MNIST, its figures drawn and the script idle."""
    await page.goto(f"{url}/Unit_inspector?model=demo&data=fashion&images=20&seed=0", timeout=TIMEOUT_MS)
    await expect(page.locator('[data-testid="stPlotlyChart"]').nth(2)).to_be_visible(timeout=TIMEOUT_MS)
    await idle(page)


def parse_args(description: str, default_changes: int, what: str) -> argparse.Namespace:
    """``--changes`` (1..20) and ``--app-root``, the options of the click benches."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--changes", type=int, default=default_changes, help=f"{what} (1..20)")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the checkout whose app.py is served")
    args = parser.parse_args()
    if not 1 <= args.changes <= 20:
        raise SystemExit("--changes must be 1..20")
    return args


async def walk(url: str, n: int) -> dict[str, list[float]]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        await open_inspector(page, url)
        times: dict[str, list[float]] = {"unit": [], "image": [], "step": []}
        for _ in range(n):
            times["unit"].append(await change(page, "Unit", "unit", ", unit {} — "))
        for _ in range(n):
            times["image"].append(await change(page, "Image", "image", "^#{} · "))
        for _ in range(n):
            times["step"].append(await change(page, "Start step", "step"))
        await browser.close()
    return times


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0], 5, "changes of each control")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="featent-clicks-") as tmp:
        proc, url, _ = start_server(False, Path(tmp), args.app_root.resolve())
        try:
            times = asyncio.run(walk(url, args.changes))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
    print(json.dumps({"app_root": str(args.app_root), "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
                      **{f"{k}_change_median_s": round(statistics.median(v), 3) for k, v in times.items()},
                      "changes_s": {k: [round(x, 3) for x in v] for k, v in times.items()}}))


if __name__ == "__main__":
    main()
