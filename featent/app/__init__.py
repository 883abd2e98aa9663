"""The featent app (Streamlit): page views, sidebar selection, deep links, caches, progress boxes.

The only part of featent that imports Streamlit; importing this package itself does not, so the
CLI can start the app through ``launch`` without loading it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The script ``streamlit run`` starts: featent/app/main.py.
ENTRY = Path(__file__).resolve().parent / "main.py"


def launch(
    port: int | None = None, *, headless: bool = False, options: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> int:
    """Run ``streamlit run featent/app/main.py`` in this interpreter until it stops; its exit status.

    ``options`` are passed to Streamlit as they are (e.g. ``["--server.address", "0.0.0.0"]``); ``env`` is the
    child's environment (default: this process's).
    """
    command = [sys.executable, "-m", "streamlit", "run", str(ENTRY)]
    if port is not None:
        command += ["--server.port", str(port)]
    if headless:
        command += ["--server.headless", "true"]
    return subprocess.call([*command, *options], env=None if env is None else dict(env))
