"""featent.app.launch: the packaged entry script and the command that starts it, without Streamlit on import."""

from __future__ import annotations

import os
import subprocess
import sys

import featent.app as app


def test_the_entry_is_a_script_inside_the_package_beside_no_pages_folder() -> None:
    assert app.ENTRY.name == "main.py" and app.ENTRY.parent.name == "app" and app.ENTRY.is_file()
    assert not (app.ENTRY.parent / "pages").exists()  # a pages/ folder there would switch Streamlit's old page mode on


def test_the_server_script_serves_the_entry_unless_told_another(monkeypatch, tmp_path) -> None:
    """serve.py is what `streamlit run` starts; the script it serves is main.py or $FEATENT_APP_SCRIPT."""
    assert app.SERVER.name == "serve.py" and app.SERVER.parent == app.ENTRY.parent
    monkeypatch.delenv(app.SCRIPT_ENV, raising=False)
    assert app.app_script() == str(app.ENTRY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(app.SCRIPT_ENV, "app.py")  # relative: made absolute against the working folder
    assert app.app_script() == str(tmp_path.resolve() / "app.py")


def test_launch_runs_streamlit_on_the_server_script_with_the_options(started) -> None:
    assert app.launch(port=8600, headless=True, options=["--server.address", "0.0.0.0"]) == 0
    assert [command for command, _ in started.calls] == [
        [sys.executable, "-m", "streamlit", "run", str(app.SERVER), "--server.port", "8600",
         "--server.headless", "true", "--server.address", "0.0.0.0"]]


def test_importing_the_package_does_not_import_streamlit() -> None:
    probe = "import sys, featent.app; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_server_warms_up_in_the_background_what_a_first_visit_needs(tmp_path) -> None:
    """Importing serve.py (what `streamlit run` does) starts a thread that imports the pages' modules and
    memoizes the demo model and the Fashion-MNIST data, without holding up the import itself; then it
    freezes them out of the full collection Streamlit forces after every script run."""
    probe = (
        "import sys, threading, featent.app.serve, featent.app.warmup as w\n"
        "warm = [t for t in threading.enumerate() if t.name == 'featent-warm-up']\n"
        "assert len(warm) == 1 and warm[0].daemon\n"
        "warm[0].join(600)\n"
        "from featent.nets import loading\n"
        "from featent import data\n"
        "import gc\n"
        "print(all(m in sys.modules for m in w.WARM_MODULES), 'torch' in sys.modules,\n"
        "      [spec for spec, _ in loading._CACHE], sorted(data._CACHE))\n"
        "tracked = gc.get_objects()\n"  # the permanent generation is not listed
        "print(gc.get_freeze_count() > 10 * len(tracked), any(o is sys.modules['torch'] for o in tracked),\n"
        "      any(t.name == 'featent-refreeze' and t.daemon for t in threading.enumerate()))\n"
    )
    env = {**os.environ, "FEATENT_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[:2] == ["True True ['demo'] ['fashion']", "True False True"], out.stdout


def test_a_session_frozen_while_in_use_is_collected_after_it_ends_at_the_next_refreeze() -> None:
    """A visitor who arrived during the warm-up is frozen with it; when that session ends, its state (a
    cycle, holding the uploads' janitor) must still be collected: the periodic refreeze does it."""
    probe = (
        "import gc, threading, weakref\n"
        "from featent.app.warmup import freeze_long_lived_objects, keep_refreezing\n"
        "class State: pass\n"
        "ended = []\n"
        "state = State(); state.me = state\n"  # a cycle, as a session's state is
        "weakref.finalize(state, ended.append, 'janitor ran')\n"
        "freeze_long_lived_objects()\n"
        "del state\n"  # the session ends
        "gc.collect()\n"
        "print(ended)\n"  # frozen: not collected
        "stop = threading.Event()\n"
        "rounds = threading.Thread(target=keep_refreezing, args=(0.05, stop)); rounds.start()\n"
        "for _ in range(200):\n"
        "    if ended: break\n"
        "    threading.Event().wait(0.05)\n"
        "stop.set(); rounds.join()\n"
        "print(ended, gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[:2] == ["[]", "['janitor ran'] True"], out.stdout


def _run_beside_the_warm_up(tmp_path, script_side: str) -> subprocess.CompletedProcess[str]:
    """Start the server's warm-up (import serve.py) and, without waiting, run ``script_side`` as a
    visitor's script thread would; it prints what it got."""
    probe = "import threading, featent.app.serve\n" + script_side + (
        "[t.join(600) for t in threading.enumerate() if t.name == 'featent-warm-up']\n"  # exit after it
    )
    env = {**os.environ, "FEATENT_CACHE_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=900)


def test_home_opened_while_the_server_warms_up_imports_cleanly(tmp_path) -> None:
    """The first visitor's Home runs while the warm-up thread imports torchvision; importing it beside
    that thread gave "cannot import name 'StochasticDepth' from partially initialized module
    'torchvision.ops'". Home waits for the warm-up's imports instead, and draws its selection."""
    out = _run_beside_the_warm_up(
        tmp_path,
        "from streamlit.testing.v1 import AppTest\n"
        "from featent.app import app_script\n"
        "at = AppTest.from_file(app_script(), default_timeout=600).run()\n"
        "print([e.value for e in at.exception], [e.value for e in at.error], 'Class' in [s.label for s in at.selectbox])\n",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().split("\n")[-1] == "[] [] True", out.stdout[-2000:]


def test_a_page_waits_for_the_warm_ups_imports_before_its_own(tmp_path) -> None:
    """What navigation does before any page but Home: take a turn on the page modules, then import
    and list the model zoo (torchvision) while the warm-up thread may still be loading."""
    out = _run_beside_the_warm_up(
        tmp_path,
        "from featent.app.warmup import import_page_modules\n"
        "import_page_modules()\n"
        "from featent.app.selection import model_options\n"
        "print('resnet18' in model_options())\n",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().split("\n")[-1] == "True"


def test_the_entry_scripts_do_nothing_outside_a_server(tmp_path) -> None:
    """multiprocessing's spawn re-runs the parent's main script in a child (a Dask worker started from
    the app's process, or after an AppTest of it): outside a server the entry scripts must pass quietly."""
    probe = (
        "import runpy, sys\n"
        "for script in sys.argv[1:]:\n"
        "    runpy.run_path(script, run_name='__mp_main__')\n"
        "print('quiet')\n"
    )
    env = {**os.environ, "FEATENT_CACHE_DIR": str(tmp_path)}
    root = app.ENTRY.parents[2]
    scripts = [str(app.ENTRY)] + ([str(root / "app.py")] if (root / "app.py").is_file() else [])
    out = subprocess.run([sys.executable, "-c", probe, *scripts], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "quiet"


def test_stopping_featent_app_with_sigterm_stops_its_server(tmp_path) -> None:
    """`kill PID` (or a service manager) on `featent app` reaches the Streamlit server it started:
    both exit and the port stops answering, instead of an orphaned server left running."""
    import signal
    import socket
    import time
    import urllib.request

    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "FEATENT_CACHE_DIR": str(tmp_path)}
    cli = subprocess.Popen([sys.executable, "-m", "featent", "app", "--port", str(port), "--host", "127.0.0.1", "--quiet"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline and cli.poll() is None, "the server never answered its health check"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        servers = psutil.Process(cli.pid).children(recursive=True)
        assert servers, "featent app runs its server as a child process"
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(servers, timeout=30)
        assert not alive, [p.cmdline() for p in alive]
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            answered = True
        except OSError:
            answered = False
        assert not answered
    finally:
        if cli.poll() is None:
            cli.kill()
