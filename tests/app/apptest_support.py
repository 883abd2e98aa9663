"""What every AppTest here needs: open the app (optionally on a page) and assert a clean run."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from featent.data import load_dataset

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT = 240  # first runs import torch and compile the birth kernel
DEFAULT_DATA = "fashion"  # the app opens on the demo (trained on Fashion-MNIST) and its data


def default_classes() -> list[str]:
    """The class names of the app's default dataset, as the library gives them."""
    return list(load_dataset(DEFAULT_DATA).classes)


def assert_clean(at: AppTest) -> None:
    """No exception and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def open_app(page: str | None = None, n_images: int | None = None) -> AppTest:
    """Run the home page, optionally set the sidebar's image count, then switch to ``page``."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()  # registers the navigation, so switch_page finds a view by its file
    if n_images is not None:
        at.number_input(key="_w_n_images").set_value(n_images).run()
    if page is not None:
        at.switch_page(page)
    at.run()
    assert_clean(at)
    return at
