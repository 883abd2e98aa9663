"""The featent app (Streamlit): page views, sidebar selection, deep links, caches, progress boxes.

The only part of featent that imports Streamlit; importing this package itself does not, so the
CLI can start the app through ``launch`` without loading it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    child's environment (default: this process's). A SIGTERM or SIGHUP to this process stops the server
    too; Ctrl+C gives it :data:`STOP_GRACE_S` seconds to finish.
    """
    command = [sys.executable, "-m", "streamlit", "run", str(SERVER)]
    if port is not None:
        command += ["--server.port", str(port)]
    if headless:
        command += ["--server.headless", "true"]
    server = subprocess.Popen([*command, *options], env=None if env is None else dict(env))
    with _signals_forwarded_to(server):
        while True:
            try:
                return server.wait()
            except KeyboardInterrupt:  # Ctrl+C reached the server too (same process group): let it stop
                try:
                    return server.wait(timeout=STOP_GRACE_S)
                except (subprocess.TimeoutExpired, KeyboardInterrupt):
                    server.kill()
                    return server.wait()


#: Seconds a server stopped by Ctrl+C has to finish (it deletes the session uploads) before it is killed.
STOP_GRACE_S = 10.0


@contextmanager
def _signals_forwarded_to(server: subprocess.Popen) -> Iterator[None]:
    """SIGTERM and SIGHUP sent to this process (``kill``, a service manager, a closed terminal) go on to
    the server, which stops cleanly; otherwise this process would die and leave the server running."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {n: signal.signal(getattr(signal, n), lambda signum, _frame: server.send_signal(signum)) for n in names}
    try:
        yield
    finally:
        for n, handler in previous.items():
            signal.signal(getattr(signal, n), handler)
