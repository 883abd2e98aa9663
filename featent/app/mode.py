"""Local or public mode: who may type what into the app.

Local mode (the default) serves one researcher on their own machine: typed paths, Python files and
store clearing are offered. Public mode (``featent app --public`` or ``FEATENT_PUBLIC=1``) serves a
class from one shared server: nothing a visitor types may name a path or code on the server.
"""

from __future__ import annotations

import os

#: The environment variable that turns public mode on for ``streamlit run app.py`` and ``make run``.
PUBLIC_ENV = "FEATENT_PUBLIC"

_TRUE = {"1", "true", "yes", "on"}


def public_mode() -> bool:
    """True when the server was started in public mode (read on each call, so tests can switch it)."""
    return os.environ.get(PUBLIC_ENV, "").strip().lower() in _TRUE
