"""Helpers the browser tests share (imported by name: tests/e2e/conftest.py puts this folder on sys.path)."""

from __future__ import annotations

from playwright.sync_api import Page

#: How long a page may take to render on the shared 2-core machine.
RENDER_TIMEOUT_MS = 120_000


def wait_idle(page: Page, timeout_ms: int = RENDER_TIMEOUT_MS) -> None:
    """Wait until Streamlit has finished running the script (no 'Running...' indicator)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !/Running|Connecting|Stop/i.test(document.querySelector('[data-testid=\"stStatusWidget\"]').innerText)",
        timeout=timeout_ms,
    )
