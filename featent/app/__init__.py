"""The featent app (Streamlit): page views, sidebar selection, deep links, caches, progress boxes.

The only part of featent that imports Streamlit; importing this package itself does not, so the
CLI can start the app through ``launch`` without loading it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The app's script: featent/app/main.py.
ENTRY = Path(__file__).resolve().parent / "main.py"
#: What ``streamlit run`` starts: featent/app/serve.py, Streamlit's ASGI app around :func:`app_script`.
SERVER = Path(__file__).resolve().parent / "serve.py"
#: Environment variable naming the Streamlit script the server runs (default: :data:`ENTRY`).
SCRIPT_ENV = "FEATENT_APP_SCRIPT"


def app_script() -> str:
    """The script the server runs: ``$FEATENT_APP_SCRIPT`` (made absolute) or featent/app/main.py."""
    named = os.environ.get(SCRIPT_ENV)
    return str(Path(named).resolve()) if named else str(ENTRY)


def launch(
    port: int | None = None, *, headless: bool = False, options: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> int:
    """Run ``streamlit run featent/app/serve.py`` (the app of featent/app/main.py) in this interpreter until it
    stops; its exit status.

    ``options`` are passed to Streamlit as they are (e.g. ``["--server.address", "0.0.0.0"]``); ``env`` is the
    child's environment (default: this process's).
    """
    command = [sys.executable, "-m", "streamlit", "run", str(SERVER)]
    if port is not None:
        command += ["--server.port", str(port)]
    if headless:
        command += ["--server.headless", "true"]
    return subprocess.call([*command, *options], env=None if env is None else dict(env))
