"""Browser fixtures: Debian's chromium for Playwright and a real Streamlit server started as `make run` does
(`streamlit run featent/app/serve.py` serving app.py).

Playwright cannot download its own browsers here, so the launch uses /usr/bin/chromium
(`make test` installs it). The server runs on a free localhost port with a private result store
and is stopped (process group) when the session ends.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:  # browsing.py, the tests' shared helpers
    sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FEATENT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        # Fail, never skip: a browser suite that silently skips proves nothing (`make test` installs it).
        pytest.fail(f"{CHROMIUM} is missing; run `make browser` (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 720}}  # screenshots at a laptop screen


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppServer:
    url: str
    started_at: float  # time.monotonic() just before the process was spawned
    artifacts: Path
    timings: dict[str, float] = field(default_factory=dict)
    log: Path | None = None  # the server's stdout and stderr


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """`streamlit run app.py` on a free port (headless, private cache), healthy before yielding."""
    yield from _serve(ROOT / "app.py", tmp_path_factory.mktemp("featent-e2e"))


@pytest.fixture(scope="session")
def packaged_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """featent/app/main.py served as `featent app` serves it, run from outside the checkout."""
    yield from _serve(ROOT / "featent" / "app" / "main.py", tmp_path_factory.mktemp("featent-e2e-packaged"),
                      cwd=tmp_path_factory.mktemp("elsewhere"))


@pytest.fixture(scope="session")
def public_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """`streamlit run app.py` in public mode, one data root with a folder 'shapes', closed sessions dropped after 2 s."""
    import numpy as np
    from PIL import Image

    base = tmp_path_factory.mktemp("featent-e2e-public")
    rng = np.random.default_rng(0)
    for name in ("circles", "squares"):
        (base / "roots" / "shapes" / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(base / "roots" / "shapes" / name / f"{i}.png")
    yield from _serve(ROOT / "app.py", base, env={"FEATENT_PUBLIC": "1", "FEATENT_DATA_ROOTS": str(base / "roots")},
                      extra=["--server.disconnectedSessionTTL", "2"])


def _serve(script: Path, base: Path, cwd: Path = ROOT, env: dict[str, str] | None = None,
           extra: list[str] | None = None) -> Iterator[AppServer]:
    port = _free_port()
    artifacts = Path(os.environ.get("FEATENT_E2E_ARTIFACTS", ROOT / "tests" / "e2e" / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "FEATENT_CACHE_DIR": str(base / "cache"), "PYTHONUNBUFFERED": "1", "PYTHONPATH": python_path,
           "FEATENT_APP_SCRIPT": str(script), **(env or {})}
    log = open(base / "server.log", "w")  # noqa: SIM115 - closed in finally
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "featent" / "app" / "serve.py"),  # as featent app and make run
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *(extra or []),
    ]
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = started + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}; see {base / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not become healthy in 120 s; see {base / 'server.log'}")
            time.sleep(0.2)
        server = AppServer(url=url, started_at=started, artifacts=artifacts, log=base / "server.log")
        server.timings["server_healthy_s"] = round(time.monotonic() - started, 2)
        yield server
        name = "timings.json" if script.name == "app.py" and not env else f"timings-{script.stem}{'-public' if env else ''}.json"
        (artifacts / name).write_text(
            json.dumps(server.timings, indent=2)
        )
        print(f"\nfeatent e2e: screenshots and timings in {artifacts}: {server.timings}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()
        shutil.copy(base / "server.log", artifacts / f"server-{script.stem}{'-public' if env else ''}.log")
