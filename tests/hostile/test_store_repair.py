"""A damaged store is moved aside and rebuilt with one warning; writability is blamed only when
the folder really is not writable."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import featent.store as store_module
from featent.errors import CacheError
from featent.store import ResultStore, StoreRepairedWarning

KEY = "featent-v1|births|w|d|c|l|3|0"


def _damage(directory, content: bytes) -> None:
    (directory / "cache.db").write_bytes(content)


def _filled(directory) -> None:
    store = ResultStore(directory)
    store.put_births(KEY, np.arange(6, dtype=np.int32))
    store.close()


@pytest.mark.parametrize("content", [b"garbage" * 500, b"SQLite format 3\x00" + b"\xff" * 5000, b"\x00" * 4096],
                         ids=["garbage", "bad-header", "zeros"])
def test_damaged_index_is_moved_aside_and_rebuilt(tmp_path, content):
    _filled(tmp_path)
    _damage(tmp_path, content)
    with pytest.warns(StoreRepairedWarning) as caught:
        store = ResultStore(tmp_path)
    assert len(caught) == 1
    store.put_births(KEY, np.ones(3, np.int32))
    assert store.get_births(KEY).tolist() == [1, 1, 1]
    moved = sorted(p.name for p in tmp_path.glob("cache.db.damaged-*"))
    assert len(moved) == 1
    assert (tmp_path / moved[0]).read_bytes() == content  # kept for inspection
    assert "moved to" in store.repaired and moved[0] in store.repaired


def test_an_empty_index_is_just_a_new_store(tmp_path):
    _filled(tmp_path)
    _damage(tmp_path, b"")  # SQLite reads an empty file as an empty database: nothing to repair
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = ResultStore(tmp_path)
    assert store.repaired is None and store.get_births(KEY) is None
    store.put_births(KEY, np.ones(2, np.int32))
    assert store.get_births(KEY).tolist() == [1, 1]


def test_repair_happens_once_not_every_run(tmp_path):
    _filled(tmp_path)
    _damage(tmp_path, b"not a database" * 100)
    with pytest.warns(StoreRepairedWarning):
        ResultStore(tmp_path).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = ResultStore(tmp_path)  # healthy now: no warning
    assert store.repaired is None and store.stats()["entries"] == 0


def test_two_repairs_in_one_second_keep_both_copies(tmp_path):
    for text in (b"first damage" * 50, b"second damage" * 50):
        _damage(tmp_path, text)
        with pytest.warns(StoreRepairedWarning):
            ResultStore(tmp_path).close()
    assert len(list(tmp_path.glob("cache.db.damaged-*"))) == 2


def test_cli_cache_clear_works_on_a_damaged_store(tmp_path, monkeypatch, capsys):
    from featent.cli.main import main

    monkeypatch.setenv("FEATENT_CACHE_DIR", str(tmp_path))
    _filled(tmp_path)
    _damage(tmp_path, b"garbage" * 300)
    code = main(["cache", "--clear", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0 and '"entries": 0' in out
    assert "featent: warning: The cache index" in err and "was damaged" in err
    assert "writable" not in err


def test_cli_shows_the_repair_as_one_warning_line(tmp_path):
    import subprocess
    import sys

    _filled(tmp_path)
    _damage(tmp_path, b"garbage" * 300)
    env = dict(os.environ, FEATENT_CACHE_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-m", "featent", "cache"], capture_output=True, text=True, env=env)
    assert run.returncode == 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("featent: warning: The cache index in")


def test_writable_check_honours_an_owner_made_read_only_folder(tmp_path):
    """Root ignores permission bits; a folder its owner made 0500 is still read-only by intent."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert not store_module._writable(folder)
    finally:
        folder.chmod(0o700)
    assert store_module._writable(folder)


def test_other_failures_do_not_blame_writability(tmp_path):
    (tmp_path / "cache.db").mkdir()  # SQLite cannot open a folder; the folder itself is writable
    with pytest.raises(CacheError) as info:
        ResultStore(tmp_path)
    assert "writable" not in str(info.value) and "Cannot use cache directory" in str(info.value)


def test_a_file_in_the_way_is_still_a_writability_problem(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CacheError, match=r"set FEATENT_CACHE_DIR to a writable folder"):
        ResultStore(tmp_path / "file" / "store")


def test_index_damaged_while_open_is_rebuilt_by_clear(tmp_path):
    store = ResultStore(tmp_path)
    store.put_births(KEY, np.arange(3, dtype=np.int32))
    store.close()
    _damage(tmp_path, b"broken later" * 200)
    # an open handle reopens lazily; clear must cope either way
    with pytest.warns(StoreRepairedWarning):
        store.clear()
    assert store.stats()["entries"] == 0
    assert len(list(tmp_path.glob("cache.db.damaged-*"))) == 1
