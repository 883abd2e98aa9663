"""featent as users get it: the wheel and sdist built from this checkout, the wheel installed with
``[app]`` into a fresh virtualenv (constrained by requirements.txt), then the CLI, the store, the
app and the numpy-only core run from that venv, outside the checkout, with no PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import featent

#: ``make test`` runs this module beside the rest (mostly waiting on pip unpacking torch); plain
#: ``pytest`` runs it with everything else.
pytestmark = pytest.mark.package

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT_S = 900  # a fresh venv unpacks torch (with its CUDA libraries, ~4 GB) from pip's cache
#: What the fresh venv takes on disk (5.5 GB measured: torch's CUDA build), with room for pip's unpacking.
VENV_DISK_BYTES = 7 * 1024**3
ENTROPY = ["entropy", "--model", "demo", "--data", "fashion-subset", "--class", "Sneaker",
           "--layer", "block3_conv2", "--images", "4", "--format", "json"]


#: What a build never needs from the checkout (and must not leave build files in).
LOCAL_ONLY = (".git", ".venv", "cache", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "artifacts")


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what points Python at the checkout or at another store."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "FEATENT_CACHE_DIR", "FEATENT_PUBLIC", "VIRTUAL_ENV", "XDG_CACHE_HOME")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """wheel and sdist, built as ``python -m build`` does (the wheel from the sdist), without network,
    from a copy of the checkout so no build files are left in it."""
    base = tmp_path_factory.mktemp("dist")
    source, out = base / "src", base / "out"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*LOCAL_ONLY))
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
                           capture_output=True, text=True, timeout=600, env=_clean_env())
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return {"wheel": next(out.glob("featent-*.whl")), "sdist": next(out.glob("featent-*.tar.gz"))}


def _disk_shortfall(folder: Path, needed: int) -> str | None:
    """One sentence when ``folder``'s file system has less than ``needed`` bytes free, else None."""
    free = shutil.disk_usage(folder).free
    if free >= needed:
        return None
    return (f"the fresh virtualenv needs about {needed / 1024**3:.0f} GB free in {folder}, "
            f"which has {free / 1024**3:.1f} GB; free some space (or set TMPDIR) and rerun")


def test_disk_shortfall_is_one_sentence_naming_the_folder(tmp_path) -> None:
    assert _disk_shortfall(tmp_path, 1) is None
    message = _disk_shortfall(tmp_path, 1 << 62)
    assert message is not None and str(tmp_path) in message and "\n" not in message


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    """A fresh virtualenv with ``<wheel>[app]`` installed (``-c requirements.txt``), and the environment its
    commands run in: no PYTHONPATH, no FEATENT_CACHE_DIR, a private HOME and XDG_CACHE_HOME. It is removed
    after the module: pytest keeps its last three runs' folders, and three stale venvs are 16 GB."""
    base = tmp_path_factory.mktemp("venv")
    shortfall = _disk_shortfall(base, VENV_DISK_BYTES)
    if shortfall:
        pytest.fail(shortfall, pytrace=False)
    try:
        yield _installed_venv(dist, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _installed_venv(dist: dict[str, Path], base: Path) -> dict:
    env_dir = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=120, env=_clean_env())
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        # --no-compile: bytecode is written on first import instead (half the install's CPU time); nothing is skipped
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         f"{dist['wheel']}[app]", "-c", str(ROOT / "requirements.txt")],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, cwd=base, env=_clean_env(),
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = _clean_env(HOME=str(base / "home"), XDG_CACHE_HOME=str(base / "xdg"), FEATENT_OFFLINE="1",
                     PATH=f"{env_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    (base / "home").mkdir()
    return {"python": python, "bin": env_dir / "bin", "env": env, "cwd": base}


def _run(venv: dict, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*args], capture_output=True, text=True, timeout=timeout, cwd=venv["cwd"],
                          env={**venv["env"], **env})


def test_wheel_metadata_lists_dependencies_extras_and_licence(dist):
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(wheel.read(info).decode())
    assert meta["Version"] == featent.__version__ and meta["License-Expression"] == "MIT"
    requires = meta.get_all("Requires-Dist")
    core = {r.split(">")[0].split("=")[0].split(";")[0].strip() for r in requires if "extra ==" not in r}
    assert {"numpy", "scipy", "numba", "torch", "torchvision", "pandas", "diskcache"} <= core
    assert not core & {"streamlit", "persim", "giotto-ph", "timm"}  # extras only; persim unused; giotto-ph AGPL
    assert set(meta.get_all("Provides-Extra")) == {"app", "dask", "timm", "prune", "ref", "all", "dev"}
    assert any(r.startswith("streamlit") and 'extra == "app"' in r for r in requires)
    assert not any("giotto" in r for r in requires)
    assert meta["Description-Content-Type"] == "text/markdown" and "make run" in meta.get_payload()
    # what a user needs at run time ships: types, weights, data, the app's views, the trained family
    assert {"featent/py.typed", "featent/weights/demo.pt", "featent/weights/demo-digits.pt",
            "featent/app/main.py", "featent/app/views/home.py"} <= names
    assert any(n.startswith("featent/data/fashion_subset/") and n.endswith(".npz") for n in names)
    family = [n for n in names if n.startswith("featent/weights/family/")]
    assert sum(n.endswith("/history.json") for n in family) == 5 and sum(n.endswith(".pt") for n in family) == 44
    assert any(n.endswith("licenses/LICENSE") for n in names)
    in_checkout = {p.relative_to(ROOT).as_posix() for p in (ROOT / "featent").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts}
    assert not in_checkout - names, f"left out of the wheel: {sorted(in_checkout - names)[:10]}"
    assert not any(n.startswith(("tests/", "cache/", "pages/")) for n in names)


def test_sdist_holds_the_checkout_entries_docs_and_tests(dist):
    with tarfile.open(dist["sdist"]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"LICENSE", "CITATION.cff", "CHANGELOG.md", "requirements.txt", "Makefile", "app.py",
            "pages/0_Home.py", "docs/cli.md", "tests/test_package.py", "featent/app/main.py"} <= names
    assert any(n.startswith("docs/tutorials/") and n.endswith(".ipynb") for n in names)
    assert not any(n.startswith("cache/") and n != "cache/" for n in names)


def test_installed_cli_store_and_core(venv):
    bin_dir = venv["bin"]
    version = _run(venv, str(bin_dir / "featent"), "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"featent {featent.__version__}"
    check = _run(venv, str(venv["python"]), "-m", "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr

    # the installed package, not this checkout; its store under XDG_CACHE_HOME, never site-packages
    where = _run(venv, str(venv["python"]), "-c",
                 "import featent, featent.store as s; print(featent.__file__); print(s.default_directory())")
    package_file, store_dir = where.stdout.split()
    assert str(ROOT) not in package_file and "site-packages" in package_file
    assert Path(store_dir) == venv["cwd"] / "xdg" / "featent"
    no_xdg = _run(venv, str(venv["python"]), "-c", "import featent.store as s; print(s.default_directory())",
                  XDG_CACHE_HOME="")
    assert Path(no_xdg.stdout.strip()) == venv["cwd"] / "home" / ".cache" / "featent"

    # uncached, then the same answer from the store without importing torch
    first = _run(venv, str(bin_dir / "featent"), *ENTROPY, "--quiet")
    assert first.returncode == 0, first.stderr
    assert any((venv["cwd"] / "xdg" / "featent").iterdir())
    cached = _run(venv, str(venv["python"]), "-c",
                  "import sys; from featent.cli import main; code = main(sys.argv[1:]); "
                  "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(code)", *ENTROPY, "--quiet")
    assert cached.returncode == 0, cached.stderr
    assert json.loads(cached.stdout) == json.loads(first.stdout)
    assert len(json.loads(first.stdout)["units"]) == 64

    # the numpy-only core
    core = _run(venv, str(venv["python"]), "-c",
                "import sys, numpy as np, featent; "
                "fe = featent.feature_entropy(np.array([[0, 1], [2, 1], [2, 0], [3, 0]])); "
                "assert 'torch' not in sys.modules and 'numba' not in sys.modules; print(fe.tolist())")
    assert core.returncode == 0, core.stderr
    births = [[0, 1], [2, 1], [2, 0], [3, 0]]
    import numpy as np

    assert json.loads(core.stdout) == pytest.approx(featent.feature_entropy(np.array(births)).tolist())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_installed_app_serves_and_its_home_page_renders(venv):
    port = _free_port()
    server = subprocess.Popen([str(venv["bin"] / "featent"), "app", "--port", str(port), "--host", "127.0.0.1"],
                              cwd=venv["cwd"], env=venv["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, health = time.monotonic() + 120, ""
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                    health = answer.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert health == "ok", f"no health answer; server said: {server.stdout.read() if server.poll() is not None else ''}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            assert answer.status == 200 and "<div id=\"root\">" in answer.read().decode().replace("'", '"')
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    # the home page itself, run from the installed package (the script featent app starts)
    home = _run(venv, str(venv["python"]), "-c",
                "from streamlit.testing.v1 import AppTest; import featent.app as a; "
                "at = AppTest.from_file(str(a.ENTRY), default_timeout=240); at.run(); "
                "assert not at.exception, [e.value for e in at.exception]; assert not at.error, [e.value for e in at.error]; "
                "print(' | '.join(m.value for m in at.markdown)[:4000])", timeout=300)
    assert home.returncode == 0, home.stderr[-3000:]
    assert "demo" in home.stdout

