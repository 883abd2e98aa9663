"""Load test: N concurrent headless Chromium sessions walking the app on one loopback server.

Each session opens its own link (mixed data, classes, image counts and seeds), then walks
Home -> Unit inspector (3 unit changes, each timed) -> Unit gallery -> How it works, checking on every
page that the address bar and the sidebar still name its own selection (no session sees another's).
Reports p50/p95 interaction latency, the server's peak RSS (with its children), errors and the
cross-session check, as a Markdown row and JSON.

"Home" is timed per session from its page request (the server already answered its health check and
is idle, the browser already running) to two moments: Home's page links drawn (``home_drawn_s``: a
visitor can navigate) and Home complete (``home_s``: the sidebar's selection and the images drawn, the
script idle). ``--app-root`` measures another checkout with this same script.

Bounded: loopback only (127.0.0.1, a free port), at most 40 sessions, a deadline for the whole run.
Uses Debian's chromium (FEATENT_CHROMIUM or /usr/bin/chromium) through Playwright, as tests/e2e do.

    python bench/load_test.py --sessions 20 --mode public
    python bench/load_test.py --sessions 20 --mode local
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil
from playwright.async_api import Page, async_playwright, expect

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("FEATENT_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
MAX_SESSIONS = 40
STEP_MS = 300_000  # one page may take this long under load before the session counts an error


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(public: bool, cache: Path, root: Path = ROOT,
                 python_path: tuple[Path, ...] = ()) -> tuple[subprocess.Popen, str, float]:
    """The server of checkout ``root`` as ``make run`` starts it (serve.py serving app.py; ``streamlit run
    app.py`` for a checkout without serve.py), on loopback; returns the process, its URL and seconds to a
    healthy answer. ``python_path`` goes before the checkout on the server's PYTHONPATH."""
    port = _free_port()
    search = os.pathsep.join([*map(str, python_path), str(root)])
    env = {**os.environ, "FEATENT_CACHE_DIR": str(cache), "PYTHONPATH": search, "PYTHONUNBUFFERED": "1",
           "FEATENT_APP_SCRIPT": str(root / "app.py")}
    env.pop("FEATENT_PUBLIC", None)
    if public:
        env["FEATENT_PUBLIC"] = "1"
    serve = root / "featent" / "app" / "serve.py"
    command = [sys.executable, "-m", "streamlit", "run", str(serve if serve.is_file() else root / "app.py"),
               "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--server.disconnectedSessionTTL", "5"]
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=open(cache / "server.log", "w"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() - started < 120:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return proc, url, time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not answer its health check in 120 s")


class PeakRss(threading.Thread):
    """Samples the server's RSS (process and children) every 0.25 s; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                total = sum(p.memory_info().rss for p in [self.process, *self.process.children(recursive=True)])
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            time.sleep(0.25)


async def idle(page: Page) -> None:
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !/Running|Connecting|Stop/i.test(document.querySelector('[data-testid=\"stStatusWidget\"]').innerText)",
        timeout=STEP_MS)


async def go(page: Page, label: str) -> float:
    t0 = time.monotonic()
    await page.locator('[data-testid="stSidebarNav"] a').filter(has_text=label).first.click()
    await expect(page.locator("h1").filter(has_text=label)).to_be_visible(timeout=STEP_MS)
    await idle(page)
    return time.monotonic() - t0


def own_link(i: int) -> dict[str, str]:
    """Session i's selection: mixed data, classes, image counts and seeds."""
    data = "fashion" if i % 3 else "digits"
    klass = FASHION[i % len(FASHION)] if data == "fashion" else str(i % 10)
    return {"model": "demo", "data": data, "class": klass, "images": str(20 + 10 * (i % 3)), "seed": str(i)}


async def check_own(page: Page, link: dict[str, str], mismatches: list[str]) -> bool:
    """The address bar and the sidebar's class box still name this session's own selection."""
    from urllib.parse import parse_qs, urlparse

    with contextlib.suppress(Exception):  # the page writes its link when its script has run; missing: reported below
        await page.wait_for_url(re.compile(r"[?&]model="), timeout=STEP_MS)
    with contextlib.suppress(Exception):  # the sidebar's class box is drawn once the data are loaded
        await page.wait_for_selector('[data-testid="stSidebar"] input[aria-label="Class"]', timeout=STEP_MS)
    query = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
    shown = await page.evaluate("() => [...document.querySelectorAll('[data-testid=\"stSidebar\"] "
                                "input[aria-label=\"Class\"]')].map(e => e.value)")
    wrong = [f"{k}={query.get(k)!r} (own {v!r})" for k, v in link.items() if query.get(k) != v]
    if link["class"] not in shown:
        wrong.append(f"class box shows {shown!r}, not {link['class']!r}")
    mismatches += [f"{page.url.split('?')[0].rsplit('/', 1)[-1] or 'home'}: {w}" for w in wrong]
    return not wrong


async def walk(browser, url: str, i: int, result: dict) -> None:
    from urllib.parse import urlencode

    link = own_link(i)
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    latencies: list[float] = []
    checks: list[bool] = []
    errors: list[str] = []
    mismatches: list[str] = []
    try:
        t0 = time.monotonic()
        await page.goto(f"{url}/?{urlencode(link)}", timeout=STEP_MS)
        await expect(page.get_by_text("What each page shows")).to_be_visible(timeout=STEP_MS)
        result["home_drawn_s"] = time.monotonic() - t0
        await expect(page.locator('[data-testid="stSidebar"] input[aria-label="Class"]')).to_be_visible(timeout=STEP_MS)
        await expect(page.locator('[data-testid="stImage"] img').first).to_be_visible(timeout=STEP_MS)
        await idle(page)
        result["home_s"] = time.monotonic() - t0
        checks.append(await check_own(page, link, mismatches))
        await go(page, "Unit inspector")
        await expect(page.locator('[data-testid="stPlotlyChart"]').nth(2)).to_be_visible(timeout=STEP_MS)
        checks.append(await check_own(page, link, mismatches))
        box = page.get_by_test_id("stNumberInput").filter(has_text="Unit")
        for target in (1, 2, 3):
            up = box.get_by_test_id("stNumberInputStepUp")
            await up.hover()
            await page.wait_for_timeout(300)
            t1 = time.monotonic()
            await up.click()
            await expect(page.get_by_text(re.compile(rf", unit {target} — "))).to_be_visible(timeout=STEP_MS)
            await idle(page)
            latencies.append(time.monotonic() - t1)
        checks.append(await check_own(page, link, mismatches))
        result["gallery_s"] = await go(page, "Unit gallery")
        checks.append(await check_own(page, link, mismatches))
        result["how_s"] = await go(page, "How it works")
        errors += [f"exception box on {page.url}"] * await page.locator('[data-testid="stException"]').count()
    except Exception as exc:  # noqa: BLE001 - counted and reported, the other sessions go on
        errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    finally:
        await context.close()
    result.update(latencies=latencies, checks=checks, errors=errors, mismatches=mismatches)


async def run(n: int, url: str, deadline_s: float) -> list[dict]:
    """The browser is launched before any page is requested: its start-up is not the app's time."""
    results: list[dict] = [{} for _ in range(n)]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        warm = await browser.new_page()
        await warm.goto("about:blank")
        await warm.close()
        try:
            await asyncio.wait_for(asyncio.gather(*(walk(browser, url, i, results[i]) for i in range(n))),
                                   timeout=deadline_s)
        finally:
            await browser.close()
    return results


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--mode", choices=("public", "local"), default="public")
    parser.add_argument("--deadline", type=float, default=1800.0, help="seconds for the whole walk")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the checkout whose app.py is served")
    args = parser.parse_args()
    if not 1 <= args.sessions <= MAX_SESSIONS:
        raise SystemExit(f"--sessions must be 1..{MAX_SESSIONS}")
    with tempfile.TemporaryDirectory(prefix="featent-load-") as tmp:
        proc, url, healthy_s = start_server(args.mode == "public", Path(tmp), args.app_root.resolve())
        sampler = PeakRss(proc.pid)
        sampler.start()
        try:
            results = asyncio.run(run(args.sessions, url, args.deadline))
        finally:
            sampler.running = False
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
    latencies = [x for r in results for x in r.get("latencies", [])]
    pages = [r[k] for r in results for k in ("gallery_s", "how_s") if k in r]
    summary = {
        "mode": args.mode, "sessions": args.sessions, "server_healthy_s": round(healthy_s, 2),
        "unit_change_p50_s": round(_pct(latencies, 0.5), 3), "unit_change_p95_s": round(_pct(latencies, 0.95), 3),
        "page_switch_p50_s": round(_pct(pages, 0.5), 2), "page_switch_p95_s": round(_pct(pages, 0.95), 2),
        "home_drawn_s_median": _median([r["home_drawn_s"] for r in results if "home_drawn_s" in r]),
        "home_s_median": _median([r["home_s"] for r in results if "home_s" in r]),
        "server_peak_rss_mb": round(sampler.peak / 1e6),
        "errors": sum(len(r.get("errors", ["no result"])) for r in results),
        "cross_session_ok": f"{sum(all(r.get('checks', [False])) for r in results)}/{args.sessions}",
        "load_average_1min": round(os.getloadavg()[0], 2),
        "error_samples": [e for r in results for e in r.get("errors", [])][:5],
        "mismatch_samples": [e for r in results for e in r.get("mismatches", [])][:12],
    }
    print(json.dumps(summary, indent=2))
    home = f"{summary['home_drawn_s_median']} / {summary['home_s_median']}"
    print(f"| {args.mode} | {args.sessions} | {summary['unit_change_p50_s']} | {summary['unit_change_p95_s']} | "
          f"{summary['page_switch_p50_s']} | {summary['page_switch_p95_s']} | {home} | "
          f"{summary['server_peak_rss_mb']} | {summary['errors']} | {summary['cross_session_ok']} |")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "sessions": results}, indent=2))


if __name__ == "__main__":
    main()
