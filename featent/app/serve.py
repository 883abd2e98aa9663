"""The server ``featent app`` and ``make run`` start: Streamlit's own ASGI app (``st.App``) around
the app's script, with one addition.

Streamlit's browser client finds its server by probing the page's own address first: a bookmark of
``/Unit_inspector`` asks ``/Unit_inspector/_stcore/health`` and ``.../host-config`` (both 404) before
the root. Every page's HTML therefore carries the server's base address in ``window.__streamlit``
(the client's own embedding setting), so the client asks the right address first and a deep link
makes no failed request.

``streamlit run featent/app/serve.py`` runs ``featent/app/main.py``; ``FEATENT_APP_SCRIPT`` names
another script (``make run`` gives the checkout's ``app.py``, beside its ``pages/``).

While the server starts, a background thread imports what the pages need (torch, the births engine)
and loads the default model and data, so the first visitor's page does not wait for them; the health
check does not wait for it.
"""

from __future__ import annotations

import importlib
import logging
import threading

import streamlit as st
from starlette.middleware import Middleware

from featent.app import app_script
from featent.app.server_address import ServerAddressInPage

#: Modules every page's first run imports (the slow part of a first visit).
WARM_MODULES = ("featent.app.selection", "featent.app.cached", "featent.app.progress", "featent.plots")


def warm_up() -> None:
    """Import :data:`WARM_MODULES` and load the default model and data (memoized for the whole process).

    A failure here only loses the head start: the page that needs the module or model reports it."""
    try:
        for name in WARM_MODULES:
            importlib.import_module(name)
        importlib.import_module("featent.nets").load_model("demo")
        importlib.import_module("featent.data").load_dataset("fashion")
    except Exception:  # noqa: BLE001 - the page itself reports what went wrong, in place
        logging.getLogger(__name__).debug("warm-up stopped", exc_info=True)


threading.Thread(target=warm_up, name="featent-warm-up", daemon=True).start()

app = st.App(app_script(), middleware=[Middleware(ServerAddressInPage)])
