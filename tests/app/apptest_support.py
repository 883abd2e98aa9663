"""What every AppTest here needs: open the app (optionally on a page) and assert a clean run."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 240  # first runs import torch and compile the birth kernel


def assert_clean(at: AppTest) -> None:
    """No exception and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def open_app(page: str | None = None, n_images: int | None = None) -> AppTest:
    """Run the home page, optionally set the sidebar's image count, then switch to ``page``."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if n_images is not None:
        at.run()
        at.number_input(key="_w_n_images").set_value(n_images).run()
    if page is not None:
        at.switch_page(page)
    at.run()
    assert_clean(at)
    return at
