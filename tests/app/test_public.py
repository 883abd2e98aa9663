"""Public mode's checks without a browser: the operator's limits, the specs a visitor may load, safe zip
uploads, upload folders removed with their session, and the queue of jobs."""

from __future__ import annotations

import gc
import io
import os
import stat
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from featent.app import mode, public
from featent.data import load_dataset
from featent.errors import DataError, FeatentError, ModelError


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _zip(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


@pytest.fixture
def public_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv(mode.PUBLIC_ENV, "1")
    for name in ("FEATENT_CONFIG", "FEATENT_DATA_ROOTS", "FEATENT_ALLOW_TRAINING", "FEATENT_MAX_IMAGES"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_limits_come_from_the_config_file_then_the_environment(public_env: Path, monkeypatch) -> None:
    config = public_env / "featent.toml"
    config.write_text('[featent]\nmax_images = 50\nmax_upload_mb = 1.5\nallow_training = true\n'
                      f'data_roots = ["{public_env}"]\n')
    (public_env / "shapes").mkdir()
    monkeypatch.setenv("FEATENT_CONFIG", str(config))
    assert mode.limits().max_images == 50 and mode.limits().max_upload_mb == 1.5
    assert mode.training_allowed() and list(mode.data_roots()) == ["shapes"]
    monkeypatch.setenv("FEATENT_MAX_IMAGES", "20")
    assert mode.limits().max_images == 20
    assert mode.limits().sentence("max_images", "30 images") == (
        "This server allows at most 20 images per selection; 30 images is over that limit.")
    monkeypatch.setenv("FEATENT_MAX_IMAGES", "many")
    with pytest.raises(FeatentError, match="max_images='many' is not a number"):
        mode.limits()


def test_only_zoo_names_within_the_limits_load(public_env: Path, monkeypatch) -> None:
    assert public.check_spec("demo") == "demo" and public.check_spec("demo:random") == "demo:random"
    for spec, sentence in [
        ("/etc/shadow", "not a model name"), ("model.py:Net", "not offered on this server"),
        ("pkg.mod:NAME", "not offered on this server"), ("demo-corrupt-0.123", "not offered on this server"),
        ("vgg11:random@512", "inputs of at most 224x224 pixels"),
    ]:
        with pytest.raises(ModelError, match=sentence):
            public.check_spec(spec)
    monkeypatch.setenv("FEATENT_MAX_PARAMETERS", "1000000")
    with pytest.raises(ModelError, match=r"models of at most 1,000,000 parameters; vgg11 \(132,863,336"):
        public.check_spec("vgg11:random:3@32")
    with pytest.raises(DataError, match="at most 200 images per selection; 2000 images"):
        public.check_images(2000)


def test_untrained_family_members_need_training_allowed(public_env: Path, monkeypatch, tmp_path: Path) -> None:
    from featent.nets import family

    monkeypatch.setenv("FEATENT_CACHE_DIR", str(tmp_path / "empty-cache"))  # no family run built here
    monkeypatch.setattr(family, "SHIPPED_DIRECTORY", tmp_path / "not-shipped")  # as in an install without them
    with pytest.raises(ModelError, match="does not allow training"):
        public.check_spec("demo-corrupt-0.2")
    monkeypatch.setenv("FEATENT_ALLOW_TRAINING", "1")
    assert public.check_spec("demo-corrupt-0.2") == "demo-corrupt-0.2"


def test_a_zip_of_class_folders_unpacks_into_a_dataset(public_env: Path) -> None:
    png = _png()
    root = public.unpack_zip(_zip({f"shapes/{c}/{i}.png": png for c in ("a", "b") for i in range(3)}), public_env)
    assert root.name == "shapes" and root.is_relative_to(public_env)
    assert list(load_dataset(str(root)).classes) == ["a", "b"]


@pytest.mark.parametrize(("entries", "links", "sentence"), [
    ({"../evil/a.png": b"x"}, (), "points outside the zip"),
    ({"/abs/a.png": b"x"}, (), "points outside the zip"),
    ({"a/1.png": b"x"}, ("a/link.png",), "is a link"),
    ({f"a/{i}.png": b"x" for i in range(6)}, (), "at most 5 files in an uploaded zip"),
    ({"a/big.png": b"\0" * 3_000_000}, (), r"uploads of at most 2 MB; a zip unpacking to 3.0 MB"),
])
def test_hostile_zips_are_refused_with_one_sentence(public_env: Path, monkeypatch, entries, links, sentence) -> None:
    monkeypatch.setenv("FEATENT_MAX_UPLOAD_FILES", "5")
    monkeypatch.setenv("FEATENT_MAX_UPLOAD_MB", "2")
    with pytest.raises(DataError, match=sentence):
        public.unpack_zip(_zip(entries, links), public_env)
    assert not any(public_env.rglob("*.png")) and not (public_env.parent / "evil").exists()


def test_an_upload_over_the_size_limit_is_refused(public_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("FEATENT_MAX_UPLOAD_MB", "1")
    with pytest.raises(DataError, match=r"uploads of at most 1 MB; an upload of 2\.0 MB"):
        public.check_upload_size(2_000_000)


def test_uploads_go_with_their_session_and_at_startup(public_env: Path) -> None:
    folder = public.sessions_root() / "ended-session"
    folder.mkdir()
    (folder / "x.pt").write_bytes(b"x")
    janitor = public._Janitor(folder)
    del janitor  # the session's state is dropped when Streamlit closes the session
    gc.collect()
    assert not folder.exists()
    stale, fresh = public.sessions_root() / "stale", public.sessions_root() / "fresh"
    stale.mkdir()
    fresh.mkdir()
    assert public.sweep_ended_sessions(now=time.time() + public.STALE_S / 2) == []
    os.utime(fresh)
    os.utime(stale, (0, time.time() - public.STALE_S - 1))
    assert public.sweep_ended_sessions() == ["stale"] and fresh.exists()
    leftover = public.sessions_root() / "earlier-process"
    leftover.mkdir()
    public._STARTED = False
    public.clear_uploads_at_startup()
    assert not leftover.exists()


def test_jobs_beyond_the_limit_wait_with_their_place(public_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("FEATENT_MAX_JOBS", "1")
    monkeypatch.setenv("FEATENT_SESSION_COMPUTE_S", "0.05")
    queue = public.JobQueue()
    release = threading.Event()
    places: list[int] = []
    first = threading.Thread(target=queue.run, args=("a", release.wait))
    first.start()
    time.sleep(0.1)
    second = threading.Thread(target=queue.run, args=("b", lambda: None), kwargs={"on_wait": places.append})
    second.start()
    time.sleep(0.2)
    assert places and places[0] == 1  # told its place while the first job holds the only slot
    release.set()
    first.join(5)
    second.join(5)
    with pytest.raises(FeatentError, match="0 s of computing per session; this session"):
        queue.run("a", lambda: None)  # 'a' used more than its 0.05 s
