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
check does not wait for it. Pages that arrive meanwhile wait for its imports rather than importing
torchvision beside it (:mod:`featent.app.warmup` says why).
"""

from __future__ import annotations

import threading

import streamlit as st
from starlette.middleware import Middleware

from featent.app import app_script
from featent.app.server_address import ServerAddressInPage
from featent.app.warmup import warm_up

threading.Thread(target=warm_up, name="featent-warm-up", daemon=True).start()

app = st.App(app_script(), middleware=[Middleware(ServerAddressInPage)])
