"""The served app asks nothing of the outside world and nothing it cannot answer, and its log stays
quiet: every page is opened by its own address (the deep paths a bookmark holds) while every request,
failed request and response is collected; then the server log is read."""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest
from browsing import RENDER_TIMEOUT_MS, wait_idle
from playwright.sync_api import Page, expect

from featent.app.navigation import PAGES

pytestmark = pytest.mark.e2e

#: At most this many log lines over the session (streamlit's own start-up banner is a few lines).
MAX_LOG_LINES = 15


def test_every_page_makes_only_local_requests_that_succeed(page: Page, app_server) -> None:
    """Each page is opened by its address in a tab of its own, watched from before the first request until
    the page is drawn and the network is idle; the tab is closed only after the watch stops (closing a
    tab aborts what it still loads, which is the test's doing, not the server's)."""
    local = urlparse(app_server.url).netloc
    for info in PAGES:
        path = "" if info.url_path == "Home" else info.url_path
        problems: list[str] = []
        tab = page.context.new_page()

        def outside(r, problems=problems) -> None:
            if urlparse(r.url).scheme in ("http", "https", "ws", "wss") and urlparse(r.url).netloc != local:
                problems.append(f"outside request {r.url}")

        def failed(r, problems=problems) -> None:
            if urlparse(r.url).netloc == local:
                problems.append(f"failed {r.url}: {r.failure}")

        def status(r, problems=problems) -> None:
            if r.status >= 400:
                problems.append(f"{r.status} {r.url}")

        tab.on("request", outside)
        tab.on("requestfailed", failed)
        tab.on("response", status)
        tab.goto(f"{app_server.url}/{path}")
        expect(tab.locator("h1").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        wait_idle(tab)
        tab.wait_for_load_state("networkidle", timeout=RENDER_TIMEOUT_MS)
        tab.remove_listener("request", outside)
        tab.remove_listener("requestfailed", failed)
        tab.remove_listener("response", status)
        tab.close()
        assert not problems, f"on /{path}: " + "; ".join(dict.fromkeys(problems))


def test_the_server_log_stays_quiet(page: Page, app_server) -> None:
    """After a minute of the app in use (the pages above and a few more visits), the log has a few
    lines: no file-watcher flood ("Inotify"), no traceback."""
    deadline = app_server.started_at + 60
    pages = [info.url_path for info in PAGES if info.url_path != "Home"]
    k = 0
    while time.monotonic() < deadline:
        page.goto(f"{app_server.url}/{pages[k % len(pages)]}")
        expect(page.locator("h1").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        wait_idle(page)
        k += 1
    assert app_server.log is not None
    lines = [line for line in app_server.log.read_text(errors="replace").splitlines() if line.strip()]
    flood = [line for line in lines if re.search(r"Inotify|Traceback|Error", line)]
    assert not flood, "server log: " + " | ".join(flood[:5])
    assert len(lines) <= MAX_LOG_LINES, f"server log has {len(lines)} lines: " + " | ".join(lines[:20])
