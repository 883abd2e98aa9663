"""Figures to PNG with kaleido, which drives a headless Chromium (Debian's /usr/bin/chromium works
offline); the same picture the app shows, for papers and slides."""

from __future__ import annotations

import os
import shutil

import plotly.graph_objects as go

from featent.errors import FeatentError
from featent.store import write_bytes_atomic

__all__ = ["to_png", "write_png"]

#: Chromium binaries tried when BROWSER_PATH is not set (kaleido's own search misses Debian's name).
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "chromium", "google-chrome")


def _browser() -> None:
    if os.environ.get("BROWSER_PATH"):
        return
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            os.environ["BROWSER_PATH"] = found
            return


def to_png(fig: go.Figure, *, width: int | None = None, height: int | None = None, scale: float = 2.0) -> bytes:
    """PNG bytes of ``fig`` (its own width/height unless given; ``scale`` 2 for sharp slides).

    Animation frames are left out: the PNG shows the figure as first drawn.
    """
    try:
        import kaleido  # noqa: F401
    except ImportError as exc:
        raise FeatentError("PNG export needs the 'kaleido' package (pip install kaleido).") from exc
    _browser()
    still = go.Figure(fig)
    still.frames = ()
    try:
        return still.to_image(format="png", width=width or still.layout.width or 900,
                              height=height or still.layout.height or 450, scale=scale)
    except Exception as exc:  # kaleido/chromium failures become one sentence
        raise FeatentError(f"Could not render the PNG ({type(exc).__name__}: {exc}); PNG export needs Chromium "
                           "(set BROWSER_PATH to its binary).") from exc


def write_png(fig: go.Figure, path: str | os.PathLike, **kwargs) -> None:
    """Write ``fig`` as a PNG file (see ``to_png``), all or nothing: rendered first, then written to a
    temporary file renamed into place."""
    image = to_png(fig, **kwargs)
    try:
        write_bytes_atomic(path, image)
    except OSError as exc:
        raise FeatentError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.") from exc
