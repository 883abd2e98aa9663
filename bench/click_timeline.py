"""Where one warm unit change's time goes: the server's events and the browser's, on one clock.

Starts the app of a checkout on loopback as bench/inspector_clicks.py does, with a measurement hook
loaded into the server (a ``sitecustomize`` written to a temporary folder; featent itself is not
changed): it logs when the click's rerun message arrives, when the script run starts, when it ends,
every full garbage collection (``gc.callbacks``), when the "script finished" message is queued and
when the server's event loop hands it to the WebSocket.
The browser side logs the click, the new unit's caption drawn and the script idle. Both use the
machine's monotonic clock, so the times are comparable. Prints each change and the medians, in
seconds from the click.

    python bench/click_timeline.py --changes 6
    python bench/click_timeline.py --changes 6 --app-root /path/to/other/checkout
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

from inspector_clicks import change, open_inspector, parse_args
from load_test import ARGS, CHROMIUM, start_server
from playwright.async_api import async_playwright

#: Loaded by the server's interpreter at start-up (via PYTHONPATH) when TIMELINE_LOG is set.
HOOK = '''
import gc, os, time
import streamlit.runtime.app_session as app_session
import streamlit.runtime.scriptrunner.script_runner as script_runner
import streamlit.web.server.starlette.starlette_websocket as websocket
_log = open(os.environ["TIMELINE_LOG"], "a", buffering=1)
def log(event):
    _log.write(f"{time.monotonic():.4f} {event}\\n")
def logged(owner, name, event):
    """owner.name, logging event(*args) (when not None) before each call."""
    original = getattr(owner, name)
    def call(self, *args, **kwargs):
        what = event(*args)
        if what is not None:
            log(what)
        return original(self, *args, **kwargs)
    setattr(owner, name, call)
def of_type(kind, event):
    return lambda msg, *rest: event if msg.WhichOneof("type") == kind else None
logged(app_session.AppSession, "handle_backmsg", of_type("rerun_script", "rerun requested"))
logged(script_runner.ScriptRunner, "_run_script", lambda *args: "run started")
logged(script_runner.ScriptRunner, "_on_script_finished", lambda *args: "run ended")
logged(app_session.AppSession, "_enqueue_forward_msg", of_type("script_finished", "finished queued"))
logged(websocket.StarletteSessionClient, "write_forward_msg", of_type("script_finished", "finished sent"))
_gc_started = [0.0]
def _on_gc(phase, info):
    if info.get("generation") == 2:
        if phase == "start":
            _gc_started[0] = time.monotonic()
        else:
            log(f"full collection {time.monotonic() - _gc_started[0]:.4f}")
gc.callbacks.append(_on_gc)
'''

EVENTS = ("rerun requested", "run started", "run ended", "finished queued", "finished sent", "caption drawn", "idle")


async def walk(url: str, n: int, log: Path) -> list[float]:
    def note(event: str) -> None:
        with log.open("a") as f:
            f.write(f"{time.monotonic():.4f} {event}\n")

    def warm_up_note(event: str) -> None:
        note("warm-up click" if event == "click" else event)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        await open_inspector(page, url)
        for _ in range(2):  # the first two changes warm the caches up and are not reported
            await change(page, "Unit", "unit", ", unit {} — ", note=warm_up_note)
        totals = [await change(page, "Unit", "unit", ", unit {} — ", note=note) for _ in range(n)]
        await browser.close()
        return totals


def changes(log: Path) -> list[dict[str, float]]:
    """Each reported click's events, in seconds from the click (the first of each event)."""
    lines = sorted((float(t), event) for t, event in (line.rstrip("\n").split(" ", 1) for line in log.open()))
    out: list[dict[str, float]] = []
    current: dict[str, float] | None = None
    t0 = 0.0
    for t, event in lines:
        if event in ("click", "warm-up click"):
            current = {} if event == "click" else None
            if current is not None:
                out.append(current)
            t0 = t
        elif current is not None:
            key = "full collection" if event.startswith("full collection") else event
            if key == "full collection":
                current.setdefault(key, float(event.rsplit(" ", 1)[1]))
            elif key in EVENTS:
                current.setdefault(key, round(t - t0, 3))
    return out


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0], 6, "unit changes to report")
    with tempfile.TemporaryDirectory(prefix="featent-timeline-") as tmp:
        hook, log = Path(tmp) / "hook", Path(tmp) / "timeline.log"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(HOOK)
        log.touch()
        os.environ["TIMELINE_LOG"] = str(log)
        load = os.getloadavg()[0]
        proc, url, _ = start_server(False, Path(tmp), args.app_root.resolve(), python_path=(hook,))
        try:
            totals = asyncio.run(walk(url, args.changes, log))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        rows = changes(log)
    medians = {key: round(statistics.median(r[key] for r in rows if key in r), 3)
               for key in (*EVENTS, "full collection") if any(key in r for r in rows)}
    print(json.dumps({"app_root": str(args.app_root), "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
                      "medians_s": medians, "click_to_idle_s": [round(t, 3) for t in totals], "changes": rows}))


if __name__ == "__main__":
    main()
