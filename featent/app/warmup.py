"""The modules every page's first run needs, imported once, by one thread at a time.

On CPython 3.11 two threads importing torchvision at the same moment can deadlock on its per-module
import locks; Python breaks the deadlock by handing one thread a partially initialised
``torchvision.ops`` ("cannot import name 'StochasticDepth' … circular import"). The server's warm-up
thread and the first visitors' script threads all start by importing these modules, so they take
turns: the first one imports, the others wait for it and then find everything in ``sys.modules``.

Once it has loaded everything, the warm-up freezes the garbage collector's view of the process
(:func:`gc.freeze`): Streamlit forces a full collection after every script run, and with torch,
torchvision, plotly and the default model in the heap that collection walked every object and held
the interpreter lock for 0.3-0.75 s per click, during which no session's messages went out. Frozen,
these long-lived objects are skipped and the collection walks only what the sessions made since.
Visitors who arrive during the warm-up are frozen with it, and a frozen session's state is never
collected when the session ends (its uploads' janitor would never run), so every
:data:`REFREEZE_S` seconds a background thread thaws the heap, collects it once and freezes it again.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading

#: Modules every page's first run imports (the slow part of a first visit): first what Home draws its
#: text with (so the first visitor's Home finds them loaded), then torch, torchvision's model zoo (the
#: sidebar lists it) and its feature extractor (loading a model traces it), and the pages' own.
WARM_MODULES = (
    "featent.app.layout",
    "featent.app.errors",
    "torch",
    "torchvision.models",
    "torchvision.models.feature_extraction",
    "featent.app.selection",
    "featent.app.cached",
    "featent.app.progress",
    "featent.plots",
)

#: Seconds between two thaw-collect-freeze rounds: how long an ended session frozen while it was in
#: use can outlive its end (one full collection per round, instead of one per script run).
REFREEZE_S = 30.0

_lock = threading.Lock()
_imported = False


def import_page_modules() -> None:
    """Import :data:`WARM_MODULES` unless done; a thread that arrives while another imports waits.

    An import error propagates to the caller (the page shows it in place) and the next call tries again."""
    global _imported
    if _imported:
        return
    with _lock:
        if not _imported:
            for name in WARM_MODULES:
                importlib.import_module(name)
            _imported = True


def warm_up() -> None:
    """Import the page modules, load the default model and data (memoized for the whole process), then
    freeze what is in the heap so later full collections skip it.

    A failure here only loses the head start: the page that needs the module or model reports it."""
    try:
        import_page_modules()
        importlib.import_module("featent.nets").load_model("demo")
        importlib.import_module("featent.data").load_dataset("fashion")
    except Exception:  # noqa: BLE001 - the page itself reports what went wrong, in place
        logging.getLogger(__name__).debug("warm-up stopped", exc_info=True)
    freeze_long_lived_objects()
    threading.Thread(target=keep_refreezing, name="featent-refreeze", daemon=True).start()


def freeze_long_lived_objects() -> None:
    """Collect once, then move every object the collector tracks to its permanent generation.

    Frozen objects are never examined again; they are the imported modules and the memoized default
    model and data, which live as long as the server. Memory they hold through plain references is
    still freed by reference counting."""
    gc.collect()
    gc.freeze()


def refreeze() -> None:
    """Thaw the heap, collect it and freeze it again: what was frozen while in use (a session's state)
    and has since become garbage is collected now."""
    gc.unfreeze()
    freeze_long_lived_objects()


def keep_refreezing(period: float = REFREEZE_S, stop: threading.Event | None = None) -> None:
    """:func:`refreeze` every ``period`` seconds until ``stop`` is set (for the server's life by default)."""
    stop = stop or threading.Event()
    while not stop.wait(period):
        refreeze()
